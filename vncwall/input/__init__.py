"""Keyboard input: pygame key events to X11 keysyms (RFB KeyEvent) and XT scan codes (QEMU)."""
