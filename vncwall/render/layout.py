"""Per-face presentation maths (opacity by facing, label placement); pure numpy."""

from __future__ import annotations

import math

import numpy as np

from .prism import Camera, F64Array, Prism

LABEL_REFERENCE_HEIGHT = 900.0  # label pixels are laid out as if a face were this tall


def front_weights(prism: Prism, theta: float, camera: Camera) -> F64Array:
    """How much each face is 'the front one': 1 squarely facing the eye, 0 half a step away.

    Uses the cosine c between a face's outward normal and the direction from the axis to
    the eye, mapped linearly from cos(pi/N) (half a face step round) to 1. So at rest
    exactly one face has weight 1 and all others 0, and the weight moves smoothly while
    the prism turns.
    """
    eye = np.asarray(camera.eye, dtype=np.float64)
    towards = np.array([eye[0], 0.0, eye[2]])
    norm = float(np.linalg.norm(towards))
    towards = towards / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
    c = prism.normals(theta) @ towards
    if prism.n == 1:
        c0 = -1.0
    elif prism.n == 2:
        c0 = 0.0
    else:
        c0 = math.cos(math.pi / prism.n)
    weights: F64Array = np.clip((c - c0) / (1.0 - c0), 0.0, 1.0)
    return weights


def face_opacities(
    prism: Prism, theta: float, camera: Camera, opacity: float, front_opacity: float
) -> F64Array:
    """Each face's alpha: `front_opacity` for the front face, `opacity` for the rest."""
    w = front_weights(prism, theta, camera)
    result: F64Array = opacity + (front_opacity - opacity) * w
    return result


def label_rect(
    label_size: tuple[int, int], face_aspect: float, centred: bool
) -> tuple[float, float, float, float]:
    """Where a label texture sits on a face, in texture coordinates (x0, y0, x1, y1).

    Live faces carry a small label in the bottom-left corner; faces without a picture
    (connecting, disconnected) show it twice as large in the middle.
    """
    lw, lh = label_size
    scale = 2.0 if centred else 1.0
    h = scale * lh / LABEL_REFERENCE_HEIGHT
    w = h * (lw / max(lh, 1)) / face_aspect
    limit = 0.96
    if w > limit:
        h *= limit / w
        w = limit
    if centred:
        x0, y0 = (1.0 - w) / 2.0, (1.0 - h) / 2.0
    else:
        x0, y0 = 0.02, 1.0 - 0.02 * face_aspect - h
    return (x0, y0, x0 + w, y0 + h)
