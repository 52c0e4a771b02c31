#!/usr/bin/env bash
# Berth session entrypoint, shared by all images (runs as user berth under tini).
# Starts in parallel:
#   - Xvnc: X display :1 and VNC server on 127.0.0.1:5901 (SecurityTypes None:
#     only reachable from inside the container);
#   - websockify on 0.0.0.0:6901: noVNC web client + websocket (/websockify),
#     every HTTP and websocket request needs Basic auth berth:$BERTH_SESSION_SECRET;
#   - the image's session (/usr/local/bin/berth-session) once the X socket exists.
# When any of them exits, or on SIGTERM/SIGINT, the others are stopped.
#
# Environment: BERTH_SESSION_SECRET (required), BERTH_RESOLUTION (default 1280x720).
set -euo pipefail

die() { echo "berth: $*" >&2; exit 64; }

secret="${BERTH_SESSION_SECRET:-}"
[[ -n $secret ]] || die "BERTH_SESSION_SECRET is not set: refusing to start an unauthenticated session"
if [[ $secret == *$'\n'* ]] || LC_ALL=C grep -q '[^!-~]' <<<"$secret"; then
  die "BERTH_SESSION_SECRET must be printable ASCII without spaces"
fi
unset BERTH_SESSION_SECRET # keep it out of the desktop applications' environment

resolution="${BERTH_RESOLUTION:-1280x720}"
[[ $resolution =~ ^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$ ]] ||
  die "BERTH_RESOLUTION must be WIDTHxHEIGHT (e.g. 1280x720), got '$resolution'"

readonly display_num=1 vnc_port=5901 web_port=6901
export DISPLAY=":$display_num"
export XDG_RUNTIME_DIR="/tmp/runtime-$UID"
install -d -m 700 "$XDG_RUNTIME_DIR"
cd "$HOME"

# GLX only when Mesa's software renderer is installed (see install-stack.sh).
glx=(-extension GLX)
[[ -e /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so ]] && glx=()

pids=()

# X display + VNC server (the first framebuffer is available as soon as it runs).
# Every VNC client comes from websockify (127.0.0.1), so TigerVNC's per-host
# blacklist after failed handshakes would lock out all viewers: disable it.
Xvnc "$DISPLAY" -geometry "$resolution" -depth 24 -dpi 96 -desktop Berth \
  -rfbport "$vnc_port" -interface 127.0.0.1 -localhost -SecurityTypes None \
  -AlwaysShared -BlacklistThreshold=1000000 -nolisten tcp -br "${glx[@]}" &
pids+=($!)

# noVNC + websocket proxy (see berth-websockify for the start-up shortcut).
berth-websockify --web /usr/share/novnc --web-auth \
  --auth-plugin BasicHTTPAuth --auth-source "berth:$secret" \
  "0.0.0.0:$web_port" "127.0.0.1:$vnc_port" &
pids+=($!)

# Desktop session: X clients need the display socket, which Xvnc creates
# within a few tens of milliseconds; poll for it rather than sleep blindly.
# Niced, so that the display path (Xvnc, websockify) wins the CPU while the
# session starts (first framebuffer sooner) and stays responsive under load.
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

# Run until the first of the three exits.
set +e
wait -n "${pids[@]}"
rc=$?
set -e
echo "berth: a session process exited with status $rc, stopping the session" >&2
stop
exit "$rc"
