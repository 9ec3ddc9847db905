#!/usr/bin/env bash
# Sets up vncwall and shows the demo wall: six built-in RFB servers on a spinning prism.
# With a display: a fullscreen wall (Ctrl+Alt+PageDown/PageUp turn it, Ctrl+Alt+Q quits).
# Without one (a bare server): renders the wall on a virtual screen into demo-wall.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/vncwall demo "$@"
fi
echo "no display: rendering one frame of the demo wall under Xvfb into demo-wall.png"
exec xvfb-run -a -s "-screen 0 1280x1024x24" .venv/bin/vncwall demo --angle 20 \
  --snapshot demo-wall.png "$@"
