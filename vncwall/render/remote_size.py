"""When to ask servers to match their faces' pixel sizes: on a change, once it has settled."""

from __future__ import annotations

from collections.abc import Sequence

Size = tuple[int, int]


class SizeRequests:
    """Debounces desktop-size requests per face (pure; the wall sends what `due` returns).

    A face's wanted size must stay the same for `settle` seconds, with nothing moving
    (no rotation, zoom or layout switch), before it is asked for; a size already asked
    for on the same connection (`key`, e.g. its framebuffer) is never asked again.
    """

    def __init__(self, settle: float = 0.5) -> None:
        self.settle = settle
        self._pending: dict[int, tuple[object, Size, float]] = {}
        self._asked: dict[int, tuple[object, Size]] = {}

    def due(self, wanted: Sequence[tuple[object, Size] | None], moving: bool,
            now: float) -> list[tuple[int, Size]]:
        """(face, size) pairs to ask for now; `wanted[i]` is (connection key, size) or None."""
        out: list[tuple[int, Size]] = []
        for i, want in enumerate(wanted):
            if want is None or self._asked.get(i) == want:
                self._pending.pop(i, None)
                continue
            key, size = want
            pending = self._pending.get(i)
            if pending is None or pending[:2] != (key, size):
                self._pending[i] = (key, size, now)
                continue
            if not moving and now - pending[2] >= self.settle:
                out.append((i, size))
                self._asked[i] = want
                del self._pending[i]
        return out
