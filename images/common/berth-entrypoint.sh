#!/usr/bin/env bash
# Berth session entrypoint, shared by all images (runs as user berth under tini).
# Starts in parallel:
#   - Xvnc: X display :1 and VNC server (RFB 3.8) on 0.0.0.0:5901, the
#     container's session port, SecurityTypes VncAuth only; the password is
#     BERTH_SESSION_SECRET (its first 8 characters, as VNC authentication
#     uses), written with vncpasswd to a file only the user berth can read;
#   - the image's session (/usr/local/bin/berth-session) once the X socket exists.
# Berth's proxy connects to 5901, authenticates with the secret and relays the
# desktop to the browser; no web server or websocket proxy runs here.
# When either exits, or on SIGTERM/SIGINT, the other is stopped.
#
# Environment: BERTH_SESSION_SECRET (required, at least 8 characters),
# BERTH_RESOLUTION (default 1280x720).
set -euo pipefail

die() { echo "berth: $*" >&2; exit 64; }

secret="${BERTH_SESSION_SECRET:-}"
[[ -n $secret ]] || die "BERTH_SESSION_SECRET is not set: refusing to start an unauthenticated session"
# Bash's own pattern test, in the C locale: no process started before Xvnc that need not be
# (each costs milliseconds of the launch).
LC_ALL=C
if [[ $secret == *[^!-~]* ]]; then
  die "BERTH_SESSION_SECRET must be printable ASCII without spaces"
fi
unset LC_ALL
# VNC authentication uses the first 8 characters of the password.
((${#secret} >= 8)) ||
  die "BERTH_SESSION_SECRET must be at least 8 characters long (VNC authentication uses the first 8)"
unset BERTH_SESSION_SECRET # keep it out of Xvnc's and the applications' environment

resolution="${BERTH_RESOLUTION:-1280x720}"
[[ $resolution =~ ^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$ ]] ||
  die "BERTH_RESOLUTION must be WIDTHxHEIGHT (e.g. 1280x720), got '$resolution'"

readonly display_num=1 vnc_port=5901
export DISPLAY=":$display_num"
export XDG_RUNTIME_DIR="/tmp/runtime-$UID"
cd "$HOME"

# VNC password file (DES-obfuscated, as Xvnc reads it), mode 600 in mode 700
# directories (one mkdir for both). printf is a shell builtin: the secret is on
# no command line.
vnc_dir="$XDG_RUNTIME_DIR/vnc"
passwd_file="$vnc_dir/passwd"
# A session handed over from the staging pool had its password replaced by Berth (a fresh
# secret, written with a marker next to it): a later start keeps that one, never the pool's.
if [[ ! -e $vnc_dir/handed-over ]]; then
  (umask 077 && mkdir -p "$vnc_dir" && printf '%s\n' "$secret" | vncpasswd -f >"$passwd_file")
fi
[[ -s $passwd_file ]] || die "could not write the VNC password file"
unset secret

# GLX only when Mesa's software renderer is installed (see install-stack.sh).
glx=(-extension GLX)
[[ -e /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so ]] && glx=()

pids=()

# X display + VNC server (the first framebuffer is available as soon as it runs).
# TigerVNC's default blacklist applies: after 5 failed authentications from
# one address, that address is refused for a while (doubling each time).
Xvnc "$DISPLAY" -geometry "$resolution" -depth 24 -dpi 96 -desktop Berth \
  -rfbport "$vnc_port" -interface 0.0.0.0 \
  -SecurityTypes VncAuth -PasswordFile "$passwd_file" \
  -AlwaysShared -nolisten tcp -br "${glx[@]}" &
pids+=($!)

# Desktop session: X clients need the display socket, which Xvnc creates
# within a few tens of milliseconds; poll for it rather than sleep blindly.
# Niced, so that the display path (Xvnc) wins the CPU while the session
# starts (first framebuffer sooner) and stays responsive under load.
(
  for ((i = 0; i < 1000; i++)); do
    [[ -S /tmp/.X11-unix/X$display_num ]] && break
    sleep 0.01
  done
  exec nice -n 5 /usr/local/bin/berth-session
) &
pids+=($!)

stop() {
  trap - TERM INT
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait || true
}
trap 'stop; exit 143' TERM INT

# Run until the first of the two exits.
set +e
wait -n "${pids[@]}"
rc=$?
set -e
echo "berth: a session process exited with status $rc, stopping the session" >&2
stop
exit "$rc"
