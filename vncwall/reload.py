"""Live reload: which sessions a new config keeps, restarts, adds and removes (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .config import SessionConfig


@dataclass(frozen=True)
class ReloadPlan:
    """How to get from the running sessions' configs to a new config's.

    `order[i]` is, for the new config's session i, the index of the running session to
    keep (its config is unchanged), or None to start a new one. `stopped` are the
    running sessions to end (removed, or changed and so replaced).
    """

    order: tuple[int | None, ...]
    stopped: tuple[int, ...]
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    kept: tuple[str, ...] = field(default=())

    def summary(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "removed": list(self.removed),
                "changed": list(self.changed), "kept": list(self.kept)}


def _keys(configs: Sequence[SessionConfig]) -> list[tuple[str, int]]:
    """Each session's identity: its name and which occurrence of that name it is."""
    seen: dict[str, int] = {}
    keys = []
    for c in configs:
        n = seen.get(c.name, 0)
        seen[c.name] = n + 1
        keys.append((c.name, n))
    return keys


def plan_reload(old: Sequence[SessionConfig], new: Sequence[SessionConfig]) -> ReloadPlan:
    """Match sessions by name: same config kept, other config restarted, the rest added or
    removed."""
    old_index = {k: i for i, k in enumerate(_keys(old))}
    order: list[int | None] = []
    added, changed, kept = [], [], []
    matched: set[int] = set()
    for key, cfg in zip(_keys(new), new, strict=True):
        i = old_index.get(key)
        if i is None:
            order.append(None)
            added.append(cfg.name)
            continue
        matched.add(i)
        if old[i] == cfg:
            order.append(i)
            kept.append(cfg.name)
        else:
            order.append(None)
            changed.append(cfg.name)
    stopped = tuple(i for i in range(len(old)) if i not in order)  # removed or changed
    removed = tuple(old[i].name for i in range(len(old)) if i not in matched)
    return ReloadPlan(tuple(order), stopped, tuple(added), removed, tuple(changed),
                      tuple(kept))
