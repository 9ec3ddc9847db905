"""Eased prism rotation that can be retargeted mid-flight without a jolt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Rotation:
    """The prism's angle over time: a cubic Hermite from the current angle and speed.

    Retargeting mid-animation starts a new curve at the current angle with the current
    angular velocity, so the motion stays smooth (C1); from rest it is a smoothstep
    ease-in-out. `duration` 0 jumps straight to the target.
    """

    duration: float = 0.6
    start: float = 0.0
    target: float = 0.0
    velocity: float = 0.0  # at the start of the current curve, radians per second
    t0: float = 0.0

    def _progress(self, now: float) -> float:
        if self.duration <= 0:
            return 1.0
        return min(max((now - self.t0) / self.duration, 0.0), 1.0)

    def angle(self, now: float) -> float:
        s = self._progress(now)
        if s >= 1.0:
            return self.target
        h00 = 2 * s**3 - 3 * s**2 + 1
        h10 = s**3 - 2 * s**2 + s
        h01 = -2 * s**3 + 3 * s**2
        return h00 * self.start + h10 * self.duration * self.velocity + h01 * self.target

    def speed(self, now: float) -> float:
        """Angular velocity at `now`, radians per second."""
        s = self._progress(now)
        if s >= 1.0 or self.duration <= 0:
            return 0.0
        d00 = 6 * s**2 - 6 * s
        d10 = 3 * s**2 - 4 * s + 1
        d01 = -6 * s**2 + 6 * s
        return (d00 * self.start + d01 * self.target) / self.duration + d10 * self.velocity

    def moving(self, now: float) -> bool:
        """Whether the angle still changes (a jump, or a retarget to where it is, is rest)."""
        if self.start == self.target and self.velocity == 0.0:
            return False
        return self._progress(now) < 1.0

    def retarget(self, target: float, now: float) -> None:
        """Head for `target` from wherever the prism is now, keeping its speed."""
        self.start, self.velocity = self.angle(now), self.speed(now)
        self.target, self.t0 = target, now

    def jump(self, angle: float, now: float) -> None:
        self.start = self.target = angle
        self.velocity, self.t0 = 0.0, now
