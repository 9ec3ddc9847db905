"""Draw the wall's faces back to front, each blended at its opacity (render thread only)."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from OpenGL import GL
from OpenGL.error import GLError

from ..net.framebuffer import Framebuffer
from ..net.pixelformat import U8Array
from .labels import ImageTexture, LabelTexture
from .layout import label_rect
from .prism import TEX_COORDS, Camera, as_gl_matrix
from .scene import Scene
from .shader import Program
from .texture import SessionTexture, make_sampler


@dataclass(frozen=True)
class Cursor:
    """A local cursor to draw: its image, hotspot, position (session pixels), identity."""

    rgba: U8Array
    hot: tuple[int, int]
    pos: tuple[int, int]
    serial: int


@dataclass
class FaceView:
    """What one face shows this frame."""

    framebuffer: Framebuffer | None
    label: list[str]
    live: bool
    dim: float = 0.0
    placeholder: tuple[float, float, float] = (0.12, 0.14, 0.18)
    cursor: Cursor | None = None


log = logging.getLogger("vncwall.render")

OUTLINE_COLOUR = (0.95, 0.75, 0.2)
Quad = tuple[float, float, float, float]  # the frame round the focused tile in the grid


class WallRenderer:
    """Owns the GL objects of the wall; create and use it on the render thread only."""

    def __init__(self) -> None:
        self.program = Program("face.vert", "face.frag")
        self.vao = int(GL.glGenVertexArrays(1))
        self.vbo = int(GL.glGenBuffers(1))
        self.textures: list[SessionTexture] = []
        self.labels: list[LabelTexture] = []
        self.cursors: list[ImageTexture] = []
        self._geometry = b""
        self.show_labels = True
        self.filter = "trilinear"  # minification, one of texture.FILTERS (set_filter)
        self._samplers: dict[str, int] = {}  # per filter, made when first used
        self._exact = make_sampler("linear")  # for faces that are not shrunk (draw)
        self._face_samplers: list[int] = []
        self._largest: list[float] = []  # per face, last frame: its largest edge scale
        # Faces that failed to upload, label or draw: (framebuffer, generation, reason).
        # The face shows the reason until its session has a new framebuffer or size.
        self._failures: dict[int, tuple[Framebuffer | None, int, str]] = {}
        self.face_errors: list[str] = []  # per face, last frame: why it is not shown, or ""
        GL.glBindVertexArray(self.vao)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.vbo)
        stride = 5 * 4
        GL.glEnableVertexAttribArray(0)
        GL.glVertexAttribPointer(0, 3, GL.GL_FLOAT, False, stride, ctypes.c_void_p(0))
        GL.glEnableVertexAttribArray(1)
        GL.glVertexAttribPointer(1, 2, GL.GL_FLOAT, False, stride, ctypes.c_void_p(12))
        GL.glBindVertexArray(0)

    def ensure(self, n: int) -> None:
        """Textures for n faces (kept when faces go away: a face may come back)."""
        while len(self.textures) < n:
            self.textures.append(SessionTexture(self.filter))
            self.labels.append(LabelTexture())
            self.cursors.append(ImageTexture(nearest=True))

    def set_filter(self, mode: str) -> None:
        """The minification filter (one of texture.FILTERS) of every face from now on."""
        self.filter = mode
        for tex in self.textures:
            tex.set_mode(mode)

    def set_geometry(self, scene: Scene) -> list[tuple[int, int, int]]:
        """Upload the pieces' vertices (and the outline quad) when they changed.

        Returns (face, first vertex, vertex count) per piece, in drawing order; the
        outline quad, if any, is the last four vertices.
        """
        blocks = [p.vertices for p in scene.pieces]
        if scene.outline is not None:
            blocks.append(np.hstack([scene.outline, TEX_COORDS]))
        data = np.ascontiguousarray(np.vstack(blocks), dtype=np.float32)
        spans = []
        first = 0
        for p in scene.pieces:
            spans.append((p.face, first, len(p.vertices)))
            first += len(p.vertices)
        key = data.tobytes()
        if key != self._geometry:
            self._geometry = key
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.vbo)
            GL.glBufferData(GL.GL_ARRAY_BUFFER, data.nbytes, data, GL.GL_DYNAMIC_DRAW)
        return spans

    def upload(self, faces: list[FaceView]) -> int:
        """Bring every face's texture up to date; returns the bytes uploaded."""
        total = 0
        for i, (tex, face) in enumerate(zip(self.textures, faces, strict=False)):
            if face.framebuffer is None or self._failure(i, face.framebuffer):
                continue
            # A face drawn at half size or less everywhere (judged from the last frame,
            # with a margin) never samples level 0: its upload waits until it is needed.
            small = i < len(self._largest) and self._largest[i] <= HALF_SIZE
            try:
                total += tex.sync(face.framebuffer, skip_base=small)
            except Exception as exc:  # one session's picture must not take the wall down
                tex.size = (0, 0)
                self._fail(i, face.framebuffer, "uploading", exc)
        return total

    def _failure(self, i: int, fb: Framebuffer | None) -> str:
        """Why face i cannot be shown while it shows `fb` as it is now ("" if it can)."""
        failed = self._failures.get(i)
        if failed is None:
            return ""
        source, generation, reason = failed
        if source is not fb or (fb is not None and fb.generation != generation):
            del self._failures[i]  # a new connection or size: try again
            return ""
        return reason

    def _fail(self, i: int, fb: Framebuffer | None, stage: str, exc: BaseException) -> None:
        """Mark face i failed (logged once) until its framebuffer changes."""
        reason = f"cannot show this desktop ({stage}: {one_line(exc)})"
        entry = (fb, fb.generation if fb is not None else 0, reason)
        if self._failures.get(i) != entry:
            log.warning("face %d: %s", i, reason)
        self._failures[i] = entry

    def draw(
        self,
        faces: list[FaceView],
        scene: Scene,
        camera: Camera,
        viewport: tuple[int, int],
        background: tuple[float, float, float],
        aspects: Sequence[float],
    ) -> list[int]:
        """Draw one frame into the bound framebuffer; returns the draw order used."""
        n = len(faces)
        assert scene.corners.shape[0] == n and len(self.textures) >= n
        spans = self.set_geometry(scene)
        w, h = viewport
        GL.glViewport(0, 0, w, h)
        GL.glClearColor(background[0], background[1], background[2], 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_CULL_FACE)
        GL.glEnable(GL.GL_BLEND)
        # Colour blends back to front; the window's own alpha stays opaque.
        GL.glBlendFuncSeparate(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ZERO, GL.GL_ONE)
        p = self.program
        p.use()
        mvp = camera.projection_matrix(w / h) @ camera.view_matrix()
        GL.glUniformMatrix4fv(p.loc("mvp"), 1, GL.GL_TRUE, as_gl_matrix(mvp))
        GL.glUniform1i(p.loc("screen"), 0)
        GL.glUniform1i(p.loc("label"), 1)
        GL.glUniform1i(p.loc("cursor"), 2)
        sampler = self._samplers.get(self.filter)
        if sampler is None:
            sampler = self._samplers[self.filter] = make_sampler(self.filter)
        # A face drawn at least as large as its pixels (1:1 zoom, magnified) samples level
        # 0 alone, so it is exact whatever the filter does (anisotropic filters differ).
        scales, self._largest = face_scales(
            scene, mvp, viewport, [t.size for t in self.textures[:n]])
        self._face_samplers = [self._exact if k >= NOT_SHRUNK else sampler for k in scales]
        GL.glBindVertexArray(self.vao)
        if scene.outline is not None:
            GL.glUniform1i(p.loc("has_screen"), 0)
            GL.glUniform3f(p.loc("placeholder"), *OUTLINE_COLOUR)
            GL.glUniform1f(p.loc("dim"), 0.0)
            GL.glUniform1f(p.loc("opacity"), scene.outline_alpha)
            GL.glUniform4f(p.loc("label_rect"), -1.0, -1.0, -1.0, -1.0)
            GL.glUniform4f(p.loc("cursor_rect"), -2.0, -2.0, -2.0, -2.0)
            end = spans[-1][1] + spans[-1][2] if spans else 0
            GL.glDrawArrays(GL.GL_TRIANGLE_FAN, end, 4)
        shown = [self._face_state(i, faces[i], aspects[i]) for i in range(n)]
        self.face_errors = [self._error(i, faces[i]) for i in range(n)]
        opaque = [sp for sp in spans if scene.alphas[sp[0]] >= 1.0]
        if scene.depth_safe and opaque and has_depth_buffer():
            # Opaque faces first, nearest first, writing depth; then the translucent ones
            # back to front, tested against it: what an opaque face hides is rejected
            # before shading (most of a software renderer's time goes into that fill).
            # The picture is the same as drawing everything back to front; the offset
            # keeps a translucent face that meets an opaque one at an edge behind it.
            GL.glClear(GL.GL_DEPTH_BUFFER_BIT)
            GL.glEnable(GL.GL_DEPTH_TEST)
            GL.glDepthFunc(GL.GL_LESS)
            for i, first, count in reversed(opaque):
                self._draw_span(i, first, count, shown[i], float(scene.alphas[i]))
            GL.glDepthMask(GL.GL_FALSE)
            GL.glEnable(GL.GL_POLYGON_OFFSET_FILL)
            GL.glPolygonOffset(1.0, 4.0)
            for i, first, count in spans:
                if scene.alphas[i] < 1.0:
                    self._draw_span(i, first, count, shown[i], float(scene.alphas[i]))
            GL.glDisable(GL.GL_POLYGON_OFFSET_FILL)
            GL.glDepthMask(GL.GL_TRUE)
            GL.glDisable(GL.GL_DEPTH_TEST)
        else:
            for i, first, count in spans:
                self._draw_span(i, first, count, shown[i], float(scene.alphas[i]))
        GL.glBindVertexArray(0)
        GL.glBindSampler(0, 0)  # the unit goes back to the textures' own parameters
        return scene.order

    def _draw_span(self, i: int, first: int, count: int,
                   state: tuple[FaceView, Quad, Quad], opacity: float) -> None:
        """Draw one piece of face i; a failure marks the face, the others go on."""
        try:
            self._draw_piece(i, first, count, state, opacity)
        except Exception as exc:
            self._fail(i, state[0].framebuffer, "drawing", exc)

    def _draw_piece(self, i: int, first: int, count: int,
                    state: tuple[FaceView, Quad, Quad], opacity: float) -> None:
        """Draw one piece of face i with its textures and uniforms."""
        face, label, cursor = state
        p = self.program
        tex = self.textures[i]
        if label[0] >= 0.0:
            GL.glActiveTexture(GL.GL_TEXTURE1)
            GL.glBindTexture(GL.GL_TEXTURE_2D, self.labels[i].id)
        if cursor[0] > -2.0:
            GL.glActiveTexture(GL.GL_TEXTURE2)
            GL.glBindTexture(GL.GL_TEXTURE_2D, self.cursors[i].id)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex.id)
        GL.glBindSampler(0, self._face_samplers[i])
        has_screen = face.framebuffer is not None and tex.size[0] > 0
        GL.glUniform1i(p.loc("has_screen"), int(has_screen))
        GL.glUniform3f(p.loc("placeholder"), *face.placeholder)
        GL.glUniform1f(p.loc("dim"), face.dim)
        GL.glUniform1f(p.loc("opacity"), opacity)
        GL.glUniform4f(p.loc("label_rect"), *label)
        GL.glUniform4f(p.loc("cursor_rect"), *cursor)
        GL.glDrawArrays(GL.GL_TRIANGLE_FAN, first, count)

    def _error(self, i: int, face: FaceView) -> str:
        """Why face i's picture is not shown ("" when it is, or when it has none)."""
        if face.framebuffer is None:
            return ""
        return self._failure(i, face.framebuffer) or self.textures[i].error

    def _face_state(self, i: int, face: FaceView, aspect: float) -> tuple[FaceView, Quad, Quad]:
        """Face i as drawn this frame, its label's and cursor's uv rectangles (textures set).

        A face whose picture failed shows its reason instead; one whose label or cursor
        fails is marked failed too, and drawn without them."""
        error = self._error(i, face)
        if error:
            face = FaceView(None, [*face.label[:1], error], False, dim=0.5)
        label: Quad = (-1.0, -1.0, -1.0, -1.0)
        cursor: Quad = (-2.0, -2.0, -2.0, -2.0)
        try:
            if self.show_labels and face.label:
                self.labels[i].set(face.label)
                label = label_rect(self.labels[i].size, aspect, centred=not face.live)
            cursor = self._cursor(i, face)
        except Exception as exc:
            self.labels[i].key = None
            self._fail(i, face.framebuffer, "labelling", exc)
        return face, label, cursor

    def _cursor(self, i: int, face: FaceView) -> tuple[float, float, float, float]:
        """Bind face i's cursor image on unit 2; its placement in uv (off-face if none)."""
        c, fb = face.cursor, face.framebuffer
        if c is None or fb is None or fb.width == 0 or fb.height == 0 or c.rgba.size == 0:
            return (-2.0, -2.0, -2.0, -2.0)
        GL.glActiveTexture(GL.GL_TEXTURE2)
        self.cursors[i].upload(c.serial, c.rgba)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.cursors[i].id)
        ch, cw = c.rgba.shape[:2]
        x0 = (c.pos[0] - c.hot[0]) / fb.width
        y0 = (c.pos[1] - c.hot[1]) / fb.height
        return (x0, y0, x0 + cw / fb.width, y0 + ch / fb.height)


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line: a GL error's description, not its arguments
    (PyOpenGL's text carries whole arrays)."""
    if isinstance(exc, GLError):
        raw = exc.description
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
        text = f"GL error 0x{int(exc.err or 0):x}" + (f": {text}" if text else "")
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


NOT_SHRUNK = 0.98  # screen pixels per texel (by area) from which a face is drawn unfiltered
HALF_SIZE = 0.4  # largest edge scale (screen/texel) below which level 0 is not sampled


def face_scales(scene: Scene, mvp: np.ndarray, viewport: tuple[int, int],
                sizes: Sequence[tuple[int, int]]) -> tuple[list[float], list[float]]:
    """Per face, from its pieces' projected corners: the screen pixels it covers per
    texel it shows (by area; 1 at 1:1, below 1 when shrunk), and the largest ratio of an
    edge's length on screen to its length in texels."""
    screen = [0.0] * len(sizes)
    texels = [0.0] * len(sizes)
    largest = [0.0] * len(sizes)
    w, h = viewport
    for piece in scene.pieces:
        v = piece.vertices
        clip = np.hstack([v[:, :3], np.ones((len(v), 1))]) @ mvp.T
        if np.any(clip[:, 3] <= 1e-9):
            continue  # behind the eye: not drawn at 1:1 anyway
        x = clip[:, 0] / clip[:, 3] * (w / 2)
        y = clip[:, 1] / clip[:, 3] * (h / 2)
        tw, th = sizes[piece.face]
        screen[piece.face] += abs(_area(x, y))
        texels[piece.face] += abs(_area(v[:, 3], v[:, 4])) * tw * th
        on_screen = np.hypot(np.diff(x, append=x[:1]), np.diff(y, append=y[:1]))
        in_texels = np.hypot(np.diff(v[:, 3], append=v[:1, 3]) * tw,
                             np.diff(v[:, 4], append=v[:1, 4]) * th)
        edges = on_screen[in_texels > 1.0] / in_texels[in_texels > 1.0]
        if edges.size:
            largest[piece.face] = max(largest[piece.face], float(edges.max()))
        else:
            largest[piece.face] = np.inf  # a sliver: judge it unshrunk
    areas = [s / t if t > 0 else 0.0 for s, t in zip(screen, texels, strict=True)]
    return areas, largest


def _area(x: np.ndarray, y: np.ndarray) -> float:
    """Signed area of a polygon (shoelace)."""
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def clear(viewport: tuple[int, int], background: tuple[float, float, float]) -> None:
    """Fill the bound framebuffer with the background colour (an empty wall)."""
    GL.glViewport(0, 0, viewport[0], viewport[1])
    GL.glClearColor(background[0], background[1], background[2], 1.0)
    GL.glClear(GL.GL_COLOR_BUFFER_BIT)


def read_pixels(width: int, height: int) -> np.ndarray:
    """The bound framebuffer as an (h, w, 3) uint8 array, top row first."""
    GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
    data = GL.glReadPixels(0, 0, width, height, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
    arr = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
    return np.ascontiguousarray(arr[::-1])


def has_depth_buffer() -> bool:
    """Whether the framebuffer being drawn into has a depth buffer."""
    fbo = int(GL.glGetIntegerv(GL.GL_DRAW_FRAMEBUFFER_BINDING))
    attachment = GL.GL_DEPTH if fbo == 0 else GL.GL_DEPTH_ATTACHMENT
    kind = GL.glGetFramebufferAttachmentParameteriv(
        GL.GL_DRAW_FRAMEBUFFER, attachment, GL.GL_FRAMEBUFFER_ATTACHMENT_OBJECT_TYPE)
    if int(kind) == GL.GL_NONE:
        return False
    bits = GL.glGetFramebufferAttachmentParameteriv(
        GL.GL_DRAW_FRAMEBUFFER, attachment, GL.GL_FRAMEBUFFER_ATTACHMENT_DEPTH_SIZE)
    return int(bits) > 0


class OffscreenTarget:
    """A framebuffer object of a fixed size, for snapshots."""

    def __init__(self, width: int, height: int) -> None:
        self.size = (width, height)
        self.fbo = int(GL.glGenFramebuffers(1))
        self.rbo = int(GL.glGenRenderbuffers(1))
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self.rbo)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_RGBA8, width, height)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0,
                                     GL.GL_RENDERBUFFER, self.rbo)
        self.depth = int(GL.glGenRenderbuffers(1))  # as the window has: see WallRenderer.draw
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self.depth)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_DEPTH_COMPONENT24, width, height)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT,
                                     GL.GL_RENDERBUFFER, self.depth)
        status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
        if status != GL.GL_FRAMEBUFFER_COMPLETE:
            raise RuntimeError(f"offscreen framebuffer incomplete (0x{int(status):x})")

    def bind(self) -> None:
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)

    def read(self) -> np.ndarray:
        self.bind()
        return read_pixels(*self.size)
