"""Bayer patterns: their names, unification by crop or pad, and phase-correct geometric transforms.

Follows Liu, Jia, Liu and Tian, "Learning Raw Image Denoising with Bayer Pattern Unification and
Bayer Preserving Augmentation", CVPR Workshops 2019. A network trained on one CFA pattern is only
ever shown mosaics in that pattern: a mosaic in another pattern is shifted by one row and/or
column into the trained one, by cropping (training) or by reflect-padding (inference, where the
output must keep the input's size and pattern and is cropped back exactly).

A pattern is named by the colours of its top-left 2 x 2 cell in reading order (``"RGGB"``: red
at (0, 0), blue at (1, 1)). Every function works on the last two axes of a numpy array or a
torch tensor, so batches (N x C x H x W) and stacks (K x H x W) are handled alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError

__all__ = [
    "PATTERNS",
    "DEFAULT_PATTERN",
    "PatternError",
    "parse_pattern",
    "shifted_pattern",
    "pattern_offset",
    "pattern_after",
    "Window",
    "unify_pad",
    "unify_crop",
    "restore",
]

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
# The pattern of the synthetic data, of every network this toolkit trains, and of model files
# written before the pattern was recorded in them.
DEFAULT_PATTERN = "RGGB"

Mosaic = TypeVar("Mosaic", np.ndarray, torch.Tensor)


class PatternError(DataError):
    """An unknown CFA pattern name, or a mosaic that no Bayer pattern describes."""


def parse_pattern(text: str) -> str:
    """``text`` as one of :data:`PATTERNS` (case-insensitive); PatternError otherwise."""
    name = str(text).strip().upper()
    if name not in PATTERNS:
        raise PatternError(f"unknown CFA pattern {text!r} (known: {', '.join(PATTERNS)})")
    return name


def _cell(pattern: str) -> np.ndarray:
    return np.array(list(parse_pattern(pattern))).reshape(2, 2)


def _name(cell: np.ndarray) -> str:
    return "".join(cell[:2, :2].reshape(-1))


def shifted_pattern(pattern: str, dy: int, dx: int) -> str:
    """The pattern of ``mosaic[dy:, dx:]`` for a mosaic in ``pattern``."""
    return _name(np.roll(_cell(pattern), (-dy, -dx), axis=(0, 1)))


def pattern_offset(pattern: str | None, target: str | None) -> tuple[int, int]:
    """(dy, dx) in {0, 1}^2 such that ``mosaic[dy:, dx:]`` of a ``pattern`` mosaic is in ``target``;
    (0, 0) for an image without a CFA (pattern and target None: an sRGB image)."""
    if pattern is None or target is None:
        if pattern != target:
            raise PatternError(
                f"cannot unify a {pattern or 'non-mosaic'} image to {target or 'a non-mosaic'} one"
            )
        return 0, 0
    target = parse_pattern(target)
    for dy in (0, 1):
        for dx in (0, 1):
            if shifted_pattern(pattern, dy, dx) == target:
                return dy, dx
    raise PatternError(
        f"no shift turns {pattern} into {target}"
    )  # unreachable for the four patterns


def pattern_after(
    pattern: str | None, transform: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, int]
) -> str | None:
    """The pattern of ``transform(mosaic)`` for an H x W ``mosaic`` in ``pattern``, where
    ``transform`` is any flip, transpose or rotation of the last two axes.

    The transform is applied to a small mosaic of colour codes with the parity of ``shape``
    (what a flip does to the phase depends on whether the side is even or odd), so the answer is
    right by construction for every transform that the data and the ensemble use. An image
    without a CFA (``pattern`` None, sRGB) stays without one."""
    if pattern is None:
        return None
    h, w = (2 + shape[0] % 2, 2 + shape[1] % 2)
    codes = torch.as_tensor(np.tile(np.arange(4).reshape(2, 2), (2, 2))[:h, :w])
    letters = np.array(list(parse_pattern(pattern)))
    return "".join(letters[transform(codes)[:2, :2].reshape(-1).numpy()])


@dataclass(frozen=True)
class Window:
    """Where the original mosaic sits inside a unified one: rows ``top:top + height`` and columns
    ``left:left + width``; :func:`restore` cuts it back out."""

    top: int
    left: int
    height: int
    width: int


def _reflect_pad(mosaic: Mosaic, top: int, bottom: int, left: int, right: int) -> Mosaic:
    """Reflect padding (``x[-1] = x[1]``), which keeps every padded pixel on its CFA phase. Pads
    wider than the mosaic are applied as repeated reflections; a side of 1 pixel is replicated."""
    if isinstance(mosaic, np.ndarray):
        widths = [(0, 0)] * (mosaic.ndim - 2) + [(top, bottom), (left, right)]
        mode = "reflect" if min(mosaic.shape[-2:]) > 1 else "edge"
        return np.pad(mosaic, widths, mode=mode)
    while top or bottom or left or right:
        h, w = mosaic.shape[-2:]
        step = [
            min(p, max(side - 1, 0)) for p, side in ((left, w), (right, w), (top, h), (bottom, h))
        ]
        mode = "reflect" if any(step) else "replicate"
        step = step if any(step) else [left, right, top, bottom]
        batched = mosaic.reshape(-1, 1, h, w)
        mosaic = F.pad(batched, step, mode=mode).reshape(
            *mosaic.shape[:-2], h + step[2] + step[3], w + step[0] + step[1]
        )
        left, right, top, bottom = (p - s for p, s in zip((left, right, top, bottom), step))
    return mosaic


def unify_pad(
    mosaic: Mosaic, pattern: str | None, target: str | None, multiple: int = 2
) -> tuple[Mosaic, Window]:
    """Reflect-pad ``mosaic`` (in ``pattern``) so that it is in ``target``, with sides that are
    multiples of ``multiple`` (2: Liu et al.'s one pixel on both sides; 8: a size the wavelet
    network accepts). Returns the padded mosaic and the :class:`Window` that :func:`restore` cuts
    back out; the round trip is exact."""
    dy, dx = pattern_offset(pattern, target)
    h, w = mosaic.shape[-2:]
    bottom, right = -(h + dy) % multiple, -(w + dx) % multiple
    return _reflect_pad(mosaic, dy, bottom, dx, right), Window(dy, dx, h, w)


def unify_crop(mosaic: Mosaic, pattern: str, target: str) -> Mosaic:
    """Crop ``mosaic`` (in ``pattern``) into ``target``: drop one row (column) at both ends where a
    shift is needed, so even sides stay even. For training and pseudo-label crops, where losing
    the border costs nothing."""
    dy, dx = pattern_offset(pattern, target)
    h, w = mosaic.shape[-2:]
    if h <= 2 * dy or w <= 2 * dx:
        raise PatternError(f"a {h} x {w} mosaic is too small to crop from {pattern} to {target}")
    return mosaic[..., dy : h - dy, dx : w - dx]


def restore(unified: Mosaic, window: Window) -> Mosaic:
    """The part of ``unified`` (a :func:`unify_pad` result, or a network's output for it) that
    corresponds to the original mosaic: same size and pattern as the input."""
    return unified[
        ..., window.top : window.top + window.height, window.left : window.left + window.width
    ]
