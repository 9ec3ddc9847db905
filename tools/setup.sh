#!/usr/bin/env bash
# Installs vncwall into ./.venv on a fresh Debian machine, with the Debian packages it needs.
# Usage: tools/setup.sh           runtime: Python, OpenGL (Mesa), SDL's X11 libraries
#        tools/setup.sh --test    also the real VNC servers and X tools the tests drive
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
packages=(python3 python3-venv python3-pip python3-dev gcc libgl1 libegl1 libgl1-mesa-dri xvfb xauth)
if [ "${1:-}" = "--test" ]; then
  packages+=(
    tigervnc-standalone-server tigervnc-tools x11vnc tightvncserver
    x11-apps x11-utils x11-xserver-utils xterm twm imagemagick xdotool xclip xfonts-base
    mesa-utils openssh-client openssh-server
    qemu-system-x86 qemu-utils sasl2-bin libsasl2-modules gnutls-bin
    libvirt-daemon-system libvirt-clients vino dbus-x11 prometheus
  )
fi
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
if [ "${1:-}" = "--test" ]; then
  .venv/bin/python -m pip install -q -e '.[test]'
else
  .venv/bin/python -m pip install -q -e .
fi
