"""Rendering: prism geometry (pure numpy) and the OpenGL wall."""
