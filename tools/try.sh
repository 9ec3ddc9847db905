#!/usr/bin/env bash
# Sets up vncwall, starts a real TigerVNC server showing an xterm, and captures it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
display=$(( 60 + RANDOM % 30 )); port=$(( 5900 + display ))
Xvnc ":$display" -rfbport "$port" -localhost -geometry 1280x800 -depth 24 \
  -SecurityTypes None >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 2
DISPLAY=":$display" xterm -geometry 80x24+40+40 -e sh -c 'uname -a; ls -l /; sleep 30' &
sleep 2
.venv/bin/vncwall capture "127.0.0.1::$port" capture.png
echo "wrote capture.png"
