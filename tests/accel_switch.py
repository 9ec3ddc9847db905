"""Run decoder tests on both decode paths: the compiled accelerator and pure Python.

A test module opts in with `pytestmark = pytest.mark.usefixtures("accel_path")` after
importing `accel_path`; loaded as a plugin (`-p tests.accel_switch`, or listed in
conftest's `pytest_plugins`), it also runs the hostile-server modules on both paths.
The pure path is also selected in child processes, through VNCWALL_PURE.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vncwall.net.decoders import accel

# The compiled path runs only where the extension was built (see tests/test_accel.py,
# which fails when a compiler is there but the module is not).
PATHS = ["compiled", "pure"] if accel.available() else ["pure"]
# Modules this plugin puts on both paths when loaded.
PLUGIN_MODULES = {"tests.test_hostile", "tests.test_hostile_regressions"}


@pytest.fixture(scope="module", params=PATHS)
def accel_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Select one decode path for a module's tests; the id says which."""
    path: str = request.param
    pure = path == "pure"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VNCWALL_PURE", "1" if pure else "0")
        before = accel.set_pure(pure)
        try:
            yield path
        finally:
            accel.set_pure(before)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__ in PLUGIN_MODULES and "accel_path" not in metafunc.fixturenames:
        metafunc.fixturenames.append("accel_path")
        metafunc.parametrize("accel_path", PATHS, indirect=True, scope="module")
