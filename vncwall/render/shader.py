"""Load GLSL programs shipped in the package's shaders/ and cache uniform locations."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from OpenGL import GL


class ShaderError(RuntimeError):
    """A shader failed to compile or link; the text is the driver's log."""


def shader_source(name: str) -> str:
    """The text of shaders/NAME: from the installed package, or the source checkout."""
    try:
        return resources.files("vncwall.shaders").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        # Running from a checkout without installing: shaders/ sits beside vncwall/.
        return (Path(__file__).resolve().parents[2] / "shaders" / name).read_text(
            encoding="utf-8"
        )


def _compile(kind: int, source: str, name: str) -> int:
    shader = GL.glCreateShader(kind)
    GL.glShaderSource(shader, source)
    GL.glCompileShader(shader)
    if not GL.glGetShaderiv(shader, GL.GL_COMPILE_STATUS):
        log = GL.glGetShaderInfoLog(shader)
        GL.glDeleteShader(shader)
        text = log.decode(errors="replace") if isinstance(log, bytes) else str(log)
        raise ShaderError(f"{name}: {text.strip()}")
    return int(shader)


class Program:
    """A linked vertex + fragment program with its uniform locations looked up once."""

    def __init__(self, vertex: str, fragment: str) -> None:
        vs = _compile(GL.GL_VERTEX_SHADER, shader_source(vertex), vertex)
        fs = _compile(GL.GL_FRAGMENT_SHADER, shader_source(fragment), fragment)
        self.id = int(GL.glCreateProgram())
        GL.glAttachShader(self.id, vs)
        GL.glAttachShader(self.id, fs)
        GL.glLinkProgram(self.id)
        GL.glDeleteShader(vs)
        GL.glDeleteShader(fs)
        if not GL.glGetProgramiv(self.id, GL.GL_LINK_STATUS):
            log = GL.glGetProgramInfoLog(self.id)
            text = log.decode(errors="replace") if isinstance(log, bytes) else str(log)
            raise ShaderError(f"{vertex}+{fragment}: {text.strip()}")
        self.uniforms: dict[str, int] = {}
        count = GL.glGetProgramiv(self.id, GL.GL_ACTIVE_UNIFORMS)
        for i in range(count):
            name, _, _ = GL.glGetActiveUniform(self.id, i)
            text = name.decode() if isinstance(name, bytes) else str(name)
            self.uniforms[text] = int(GL.glGetUniformLocation(self.id, text))

    def loc(self, name: str) -> int:
        """A uniform's location (-1 if the compiler optimised it away)."""
        return self.uniforms.get(name, -1)

    def use(self) -> None:
        GL.glUseProgram(self.id)
