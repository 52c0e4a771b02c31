#!/usr/bin/env bash
# Installs the stack shared by every Berth session image (run as root at build
# time): TigerVNC Xvnc, websockify, the noVNC web client, tini, base fonts and
# the unprivileged session user "berth" (uid/gid 1000).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt-get update

# Empty packages standing in for heavy dependencies that are never used here:
# Mesa's DRI drivers (LLVM, ~165 MB; Xvnc links libGL only for GLX, which the
# entrypoint disables without them) and numpy (websockify only uses it to
# speed up unmasking client input). Installing the real package still works.
install -m 755 /tmp/berth-dummy-pkg /usr/local/sbin/berth-dummy-pkg
berth-dummy-pkg berth-no-mesa-dri libgl1-mesa-dri \
  "no OpenGL drivers (GLX is disabled in Xvnc)" libglx-mesa0
berth-dummy-pkg berth-no-numpy python3-numpy "websockify runs without numpy" \
  python3-websockify

apt-get -y upgrade # the base may lag behind bookworm-updates / -security
apt-get install -y --no-install-recommends \
  tini \
  tigervnc-standalone-server \
  python3-websockify \
  fonts-dejavu-core
berth-dummy-pkg --check

# noVNC is only static files, but Debian's "novnc" package depends on nodejs
# and net-tools (for its helper scripts): take the web client from the .deb.
tmp="$(mktemp -d)"
(cd "$tmp" && apt-get download novnc 2>/dev/null)
dpkg-deb -x "$tmp"/novnc_*.deb "$tmp/x"
mv "$tmp/x/usr/share/novnc" /usr/share/novnc
rm -rf /usr/share/novnc/utils
install -D -m 644 "$tmp/x/usr/share/doc/novnc/copyright" /usr/share/doc/novnc/copyright
dpkg-deb -f "$tmp"/novnc_*.deb Version >/usr/share/novnc/VERSION
rm -rf "$tmp"

# "/" opens the client: auto-connect, remote resize, reconnect, and a websocket
# path relative to the page so that a path-prefixing proxy keeps working.
cat >/usr/share/novnc/index.html <<'EOF'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Berth</title>
<script>
  var q = new URLSearchParams(location.search);
  var d = { autoconnect: "true", resize: "remote", reconnect: "true",
            reconnect_delay: "500", show_dot: "true" };
  for (var k in d) if (!q.has(k)) q.set(k, d[k]);
  if (!q.has("path"))
    q.set("path", location.pathname.replace(/[^\/]*$/, "").replace(/^\//, "") + "websockify");
  location.replace("vnc.html?" + q.toString());
</script></head>
<body><noscript>Berth needs JavaScript.</noscript></body></html>
EOF

# Session user and X socket directory (Xvnc runs unprivileged).
groupadd -g 1000 berth
useradd -m -u 1000 -g 1000 -s /bin/bash berth
install -d -m 1777 /tmp/.X11-unix

apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old
