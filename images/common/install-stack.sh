#!/usr/bin/env bash
# Installs the stack shared by every Berth session image (run as root at build
# time): TigerVNC Xvnc and vncpasswd, tini, base fonts and the unprivileged
# session user "berth" (uid/gid 1000). No Python, no web server: Berth's proxy
# speaks RFB to Xvnc itself.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt-get update

# Empty package standing in for a heavy dependency that is never used here:
# Mesa's DRI drivers (LLVM, ~165 MB; Xvnc links libGL only for GLX, which the
# entrypoint disables without them). Installing the real package still works.
install -m 755 /tmp/berth-dummy-pkg /usr/local/sbin/berth-dummy-pkg
berth-dummy-pkg berth-no-mesa-dri libgl1-mesa-dri \
  "no OpenGL drivers (GLX is disabled in Xvnc)" libglx-mesa0

apt-get -y upgrade # the base may lag behind bookworm-updates / -security
# tigervnc-tools: vncpasswd, which writes Xvnc's password file at start-up.
apt-get install -y --no-install-recommends \
  tini \
  tigervnc-standalone-server \
  tigervnc-tools \
  fonts-dejavu-core
berth-dummy-pkg --check

# Session user and X socket directory (Xvnc runs unprivileged).
groupadd -g 1000 berth
useradd -m -u 1000 -g 1000 -s /bin/bash berth
install -d -m 1777 /tmp/.X11-unix

apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old
