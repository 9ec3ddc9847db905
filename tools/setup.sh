#!/usr/bin/env bash
# Installs what vncwall and its tests need on a fresh Debian machine into ./.venv.
# Usage: tools/setup.sh            (Debian packages + virtual environment + vncwall)
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
packages=(
  python3 python3-venv python3-pip
  # real VNC servers and X tools the tests and the try-out script drive
  tigervnc-standalone-server tigervnc-tools x11vnc xvfb tightvncserver
  x11-apps x11-utils x11-xserver-utils xterm twm imagemagick xdotool xclip xfonts-base
  # OpenGL through Mesa (llvmpipe) for the wall under Xvfb
  libgl1-mesa-dri libgl1 libegl1 mesa-utils
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
