"""The built-in demo: animated desktops served over RFB for `vncwall demo` and the tests."""

from __future__ import annotations

from .scenes import (
    SCENE_KINDS,
    SCENES,
    Frame,
    FrameSource,
    Scene,
    Scroll,
    make_scene,
    make_scenes,
)
from .server import DemoServer

__all__ = [
    "SCENES",
    "SCENE_KINDS",
    "DemoServer",
    "Frame",
    "FrameSource",
    "Scene",
    "Scroll",
    "make_scene",
    "make_scenes",
]
