"""A regular (non-editable) install, used from another directory, finds its shaders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_installed_package_ships_shaders(tmp_path: Path) -> None:
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    probe = (
        "import vncwall.render.shader as s, sys; "
        "src = s.shader_source('face.frag'); "
        "assert 'void main' in src and s.__file__.startswith(sys.argv[1]), s.__file__; "
        "print(len(src))"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    run = subprocess.run([sys.executable, "-c", probe, str(target)], capture_output=True,
                         text=True, timeout=60, check=False, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert (target / "vncwall" / "shaders" / "face.vert").exists()
