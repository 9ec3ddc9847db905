"""Session textures: allocated once per size, then only damaged regions are uploaded."""

from __future__ import annotations

from OpenGL import GL

from ..net.framebuffer import Framebuffer


class SessionTexture:
    """Mirrors one Framebuffer in a GL texture (render thread only)."""

    def __init__(self) -> None:
        self.id = int(GL.glGenTextures(1))
        self.size = (0, 0)
        self.source: Framebuffer | None = None
        self.generation = -1
        self.bytes_uploaded = 0
        self.error = ""  # why this session cannot be shown (too big for the GPU, GL error)
        self.max_size = int(GL.glGetIntegerv(GL.GL_MAX_TEXTURE_SIZE))
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        for pname, value in (
            (GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR),
            (GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR),
            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
            (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
        ):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, pname, value)

    def sync(self, fb: Framebuffer) -> int:
        """Upload what changed in `fb` since the last call; returns the bytes uploaded."""
        with fb.lock:
            damage = fb.take_damage_locked()
            pixels = fb.pixels
            generation = fb.generation
        h, w = pixels.shape[:2]
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        if w > self.max_size or h > self.max_size:
            self.source, self.generation, self.size = fb, generation, (0, 0)
            self.error = f"desktop {w}x{h} exceeds this GPU's {self.max_size}-pixel textures"
            return 0
        self.error = ""
        if fb is not self.source or generation != self.generation or (w, h) != self.size:
            # New connection or resize: reallocate and upload everything.
            self.source, self.generation, self.size = fb, generation, (w, h)
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 4)
            GL.glPixelStorei(GL.GL_UNPACK_ROW_LENGTH, 0)
            GL.glPixelStorei(GL.GL_UNPACK_SKIP_PIXELS, 0)
            GL.glPixelStorei(GL.GL_UNPACK_SKIP_ROWS, 0)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, w, h, 0, GL.GL_RGBA,
                            GL.GL_UNSIGNED_BYTE, pixels)
            n = w * h * 4
        elif damage is None or damage.area == 0:
            return 0
        else:
            # Upload the damaged rectangle straight out of the whole array: the row
            # length and skips tell GL where it is, so no Python-side copy is made.
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 4)
            GL.glPixelStorei(GL.GL_UNPACK_ROW_LENGTH, w)
            GL.glPixelStorei(GL.GL_UNPACK_SKIP_PIXELS, damage.x)
            GL.glPixelStorei(GL.GL_UNPACK_SKIP_ROWS, damage.y)
            GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, damage.x, damage.y, damage.w, damage.h,
                               GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, pixels)
            GL.glPixelStorei(GL.GL_UNPACK_ROW_LENGTH, 0)
            GL.glPixelStorei(GL.GL_UNPACK_SKIP_PIXELS, 0)
            GL.glPixelStorei(GL.GL_UNPACK_SKIP_ROWS, 0)
            n = damage.area * 4
        self.bytes_uploaded += n
        return int(n)

    def delete(self) -> None:
        GL.glDeleteTextures([self.id])
