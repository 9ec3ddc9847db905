"""Session textures: allocated once per size, then only damaged regions are uploaded.

The minification filter is one of FILTERS:
- "trilinear" (the default): a full mipmap chain, kept by the framebuffer's `MipChain`
  for the damaged rectangles only (on the session's thread), sampled trilinearly; the
  picture is predictable to the pixel, and on Mesa's llvmpipe it draws as fast as
  "linear" (the small levels sample faster).
- "anisotropic": the same plus anisotropic filtering where GL offers it: sharper faces
  seen at an angle, nearly free on a GPU, about a third of the frame rate on llvmpipe.
- "linear": level 0 only (the fastest; shrunk faces alias).
A face drawn small shows the area average of its pixels instead of moire. Magnification,
and a face drawn 1:1, sample level 0 exactly as without mipmaps.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
from OpenGL import GL
from OpenGL.error import GLError
from OpenGL.platform import PLATFORM

from ..net.framebuffer import Framebuffer, Rect
from ..net.mipmap import MipChain
from ..net.pixelformat import U8Array


def _entry(name: str, result: Any, *args: Any) -> Any:
    """libGL's `name`, called straight through ctypes: no PyOpenGL wrapper or error
    check, and the GIL kept (PYFUNCTYPE). Each wrapped call costs ~0.1 ms and hands the
    GIL to the session threads (~5 ms when they are busy); a frame of many mipmapped
    faces makes hundreds of upload calls. Errors are read once per sync instead."""
    address = ctypes.cast(getattr(PLATFORM.GL, name), ctypes.c_void_p).value
    if address is None:
        raise RuntimeError(f"libGL has no {name}")
    return ctypes.PYFUNCTYPE(result, *args)(address)


_u, _i = ctypes.c_uint, ctypes.c_int
_pixel_store = _entry("glPixelStorei", None, _u, _i)
_sub_image = _entry("glTexSubImage2D", None, _u, _i, _i, _i, _i, _i, _u, _u, ctypes.c_void_p)
_get_error = _entry("glGetError", _u)

# GL_TEXTURE_MAX_ANISOTROPY (GL 4.6 core; the same enum as EXT_texture_filter_anisotropic).
MAX_ANISOTROPY = 0x84FE
MAX_MAX_ANISOTROPY = 0x84FF
ANISOTROPY = 8.0  # what is asked for; GL clamps it to what the hardware has
FILTERS = ("trilinear", "anisotropic", "linear")

_anisotropy: float | None = None


def max_anisotropy() -> float:
    """The most anisotropy the context offers (1.0 when it has none), asked once."""
    global _anisotropy
    if _anisotropy is None:
        try:
            exts = {
                GL.glGetStringi(GL.GL_EXTENSIONS, i).decode()
                for i in range(int(GL.glGetIntegerv(GL.GL_NUM_EXTENSIONS)))
            }
            ok = bool(exts & {"GL_EXT_texture_filter_anisotropic",
                              "GL_ARB_texture_filter_anisotropic"})
            _anisotropy = float(GL.glGetFloatv(MAX_MAX_ANISOTROPY)) if ok else 1.0
        except GLError:
            _anisotropy = 1.0
    return _anisotropy


def make_sampler(mode: str) -> int:
    """A GL sampler object for faces drawn with filter `mode` (one of FILTERS)."""
    sampler = int(GL.glGenSamplers(1))
    minify = GL.GL_LINEAR if mode == "linear" else GL.GL_LINEAR_MIPMAP_LINEAR
    for pname, value in (
        (GL.GL_TEXTURE_MIN_FILTER, minify),
        (GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR),
        (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
        (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
    ):
        GL.glSamplerParameteri(sampler, pname, value)
    aniso = max_anisotropy()
    if aniso > 1.0:
        wanted = ANISOTROPY if mode == "anisotropic" else 1.0
        GL.glSamplerParameterf(sampler, MAX_ANISOTROPY, min(wanted, aniso))
    return sampler


def _upload(level: int, rect: Rect, pixels: U8Array) -> None:
    """Upload `rect` of a level's C-contiguous (h, w, 4) array, in place: no copy (GL
    is given a pointer to the rectangle's first pixel and the level's row length)."""
    h, w = int(pixels.shape[0]), int(pixels.shape[1])
    if not (pixels.flags.c_contiguous and pixels.dtype == np.uint8 and pixels.shape[2] == 4
            and rect.x >= 0 and rect.y >= 0 and rect.x + rect.w <= w and rect.y + rect.h <= h):
        raise ValueError(f"cannot upload {rect} of a {w}x{h} level")
    _pixel_store(GL.GL_UNPACK_ROW_LENGTH, w)
    _sub_image(GL.GL_TEXTURE_2D, level, rect.x, rect.y, rect.w, rect.h, GL.GL_RGBA,
               GL.GL_UNSIGNED_BYTE, pixels.ctypes.data + (rect.y * w + rect.x) * 4)


def _reset_unpack() -> None:
    """Back to tightly packed rows (skips are never set here, and stay 0)."""
    _pixel_store(GL.GL_UNPACK_ROW_LENGTH, 0)
    error = int(_get_error())
    if error:
        raise GLError(err=error, description=f"GL error 0x{error:x} while uploading".encode())


class SessionTexture:
    """Mirrors one Framebuffer in a GL texture (render thread only)."""

    def __init__(self, mode: str = "trilinear") -> None:
        self.id = int(GL.glGenTextures(1))
        self.size = (0, 0)
        self.source: Framebuffer | None = None
        self.generation = -1
        self.bytes_uploaded = 0
        self.error = ""  # why this session cannot be shown (too big for the GPU, GL error)
        self.max_size = int(GL.glGetIntegerv(GL.GL_MAX_TEXTURE_SIZE))
        self.mode = mode
        self.mips: MipChain | None = None
        self.base_stale: Rect | None = None  # level-0 damage not uploaded (skip_base)
        self.base_level = 0  # GL_TEXTURE_BASE_LEVEL: 1 while level 0 is stale
        # How it is sampled is the renderer's samplers' business (make_sampler); these
        # hold for any other use.
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        for pname, value in (
            (GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR),
            (GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR),
            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
            (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
            (GL.GL_TEXTURE_MAX_LEVEL, 0),
        ):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, pname, value)

    @property
    def mipmapped(self) -> bool:
        return self.mode != "linear"

    def set_mode(self, mode: str) -> None:
        """Change the filter (one of FILTERS); the next sync uploads everything again."""
        if mode != self.mode:
            self.mode = mode
            self.generation = -1
            if not self.mipmapped:
                self.mips = None

    def sync(self, fb: Framebuffer, skip_base: bool = False) -> int:
        """Upload what changed in `fb` since the last call; returns the bytes uploaded.

        With `skip_base` (the face is drawn at half size or less), level 0's damage is
        kept for later and the texture samples from level 1 up: for a wall of small
        faces that is most of the upload. Without it, kept damage is uploaded first.
        """
        fb.keep_levels = self.mipmapped  # the session's thread computes them from now on
        with fb.lock:
            damage = fb.take_damage_locked()
            level_damage = fb.take_level_damage_locked()
            pixels = fb.pixels
            generation = fb.generation
        h, w = pixels.shape[:2]
        if w > self.max_size or h > self.max_size:
            self.source, self.generation, self.size = fb, generation, (0, 0)
            self.error = f"desktop {w}x{h} exceeds this GPU's {self.max_size}-pixel textures"
            return 0
        self.error = ""
        whole = fb is not self.source or generation != self.generation or (w, h) != self.size
        skip_base = skip_base and self.mips is not None and len(self.mips.levels) > 0
        owed = self.base_stale is not None and not skip_base
        if not whole and (damage is None or damage.area == 0) and not owed \
                and not level_damage:
            return 0
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        _pixel_store(GL.GL_UNPACK_ALIGNMENT, 4)
        if whole:
            # New connection or resize: reallocate and upload everything.
            self.source, self.generation, self.size = fb, generation, (w, h)
            self.base_stale = None
            n = self._allocate(fb, pixels)
            self._set_base(0)
        else:
            # The damaged rectangle straight out of the whole array (no copy), then what
            # the session's thread recomputed of every mipmap level.
            n = 0
            if skip_base:
                if damage is not None and damage.area:
                    stale = self.base_stale
                    self.base_stale = damage if stale is None else stale.union(damage)
                if self.base_stale is not None:
                    self._set_base(1)
            else:
                region = damage if damage is not None and damage.area else None
                if self.base_stale is not None:
                    region = self.base_stale if region is None else region.union(
                        self.base_stale)
                    self.base_stale = None
                if region is not None:
                    _upload(0, region, pixels)
                    n += region.area * 4
                self._set_base(0)
            if self.mips is not None:
                for level, rect in enumerate(level_damage, 1):
                    if level <= len(self.mips.levels):
                        _upload(level, rect, self.mips.levels[level - 1])
                        n += rect.area * 4
            _reset_unpack()
        self.bytes_uploaded += n
        return int(n)

    def _set_base(self, level: int) -> None:
        if level != self.base_level:
            self.base_level = level
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_BASE_LEVEL, level)

    def _allocate(self, fb: Framebuffer, pixels: U8Array) -> int:
        """(Re)create every level for `pixels` and upload it all; returns the bytes."""
        h, w = int(pixels.shape[0]), int(pixels.shape[1])
        _reset_unpack()
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, w, h, 0, GL.GL_RGBA,
                        GL.GL_UNSIGNED_BYTE, pixels)
        n = w * h * 4
        if not self.mipmapped or w == 0 or h == 0:
            self.mips = None
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAX_LEVEL, 0)
            return n
        with fb.lock:  # levels the session's thread has not computed yet are done here
            fb.refresh_levels_locked()
            fb.take_level_damage_locked()  # all of it goes up below
            mips = fb.mips
        if mips is None or (mips.width, mips.height) != (w, h):  # resized meanwhile
            mips = MipChain.allocate(w, h)
            mips.update(pixels, Rect(0, 0, w, h))
        self.mips = mips
        for level, data in enumerate(self.mips.levels, 1):
            lh, lw = data.shape[:2]
            GL.glTexImage2D(GL.GL_TEXTURE_2D, level, GL.GL_RGBA8, lw, lh, 0, GL.GL_RGBA,
                            GL.GL_UNSIGNED_BYTE, data)
            n += int(data.nbytes)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAX_LEVEL, len(self.mips.levels))
        return n

    def delete(self) -> None:
        GL.glDeleteTextures([self.id])
