"""Rotation easing and per-face presentation maths (pure)."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest

from vncwall.render.animation import Rotation
from vncwall.render.layout import face_opacities, front_weights, label_rect
from vncwall.render.prism import Camera, Prism


def test_ease_from_rest() -> None:
    r = Rotation(duration=1.0)
    r.retarget(1.0, now=10.0)
    assert r.angle(10.0) == 0.0 and r.speed(10.0) == 0.0
    assert r.angle(10.5) == pytest.approx(0.5)
    assert r.angle(11.0) == 1.0 and not r.moving(11.0)
    samples = [r.angle(10.0 + i / 100) for i in range(101)]
    assert all(b >= a for a, b in pairwise(samples))


def test_retarget_keeps_angle_and_speed_continuous() -> None:
    r = Rotation(duration=1.0)
    r.retarget(1.0, now=0.0)
    before_angle, before_speed = r.angle(0.4), r.speed(0.4)
    r.retarget(2.0, now=0.4)
    assert r.angle(0.4) == pytest.approx(before_angle)
    assert r.speed(0.4) == pytest.approx(before_speed)
    assert r.angle(1.4) == pytest.approx(2.0) and r.angle(1.5) == 2.0
    eps = 1e-6
    assert (r.angle(0.4 + eps) - r.angle(0.4)) / eps == pytest.approx(before_speed, rel=1e-3)


def test_zero_duration_jumps() -> None:
    r = Rotation(duration=0.0)
    r.retarget(3.0, now=5.0)
    assert r.angle(5.0) == 3.0


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 7])
def test_front_weights_at_rest(n: int) -> None:
    prism = Prism([1.6] * n)
    cam = Camera.orbit(5.0)
    for k in range(n):
        w = front_weights(prism, prism.front_angle(k), cam)
        expected = np.zeros(n)
        expected[k] = 1.0
        np.testing.assert_allclose(w, expected, atol=1e-9)
        a = face_opacities(prism, prism.front_angle(k), cam, 0.3, 0.9)
        assert a[k] == pytest.approx(0.9)
        assert all(a[i] == pytest.approx(0.3) for i in range(n) if i != k)


def test_front_weights_move_smoothly() -> None:
    prism = Prism([1.6] * 6)
    cam = Camera.orbit(5.0)
    angles = np.linspace(0, -math.pi / 3, 50)
    w0 = [front_weights(prism, float(t), cam)[0] for t in angles]
    w1 = [front_weights(prism, float(t), cam)[1] for t in angles]
    assert all(b <= a + 1e-12 for a, b in pairwise(w0))
    assert all(b >= a - 1e-12 for a, b in pairwise(w1))
    assert w0[-1] == pytest.approx(0.0) and w1[-1] == pytest.approx(1.0)


def test_label_rect() -> None:
    x0, y0, x1, y1 = label_rect((400, 60), 1.6, centred=False)
    assert 0 < x0 < x1 <= 1 and 0 < y0 < y1 < 1 and y1 > 0.9
    cx0, cy0, cx1, cy1 = label_rect((400, 60), 1.6, centred=True)
    assert (cx0 + cx1) / 2 == pytest.approx(0.5) and (cy0 + cy1) / 2 == pytest.approx(0.5)
    wide = label_rect((8000, 60), 1.0, centred=True)
    assert wide[2] - wide[0] == pytest.approx(0.96)
