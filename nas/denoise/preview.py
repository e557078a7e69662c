"""A side-by-side sRGB preview of a noisy mosaic and its denoised version.

Both mosaics are written as in-memory DNGs with the source's metadata and developed by LibRaw
(through ``rawpy``): demosaicking, white balance, the camera's colour matrix to sRGB and the
file's orientation. Both halves get the same white balance and the same exposure (set so the
denoised image's 99th percentile sits at 90% of white), then the sRGB transfer curve, so the only
difference between them is the denoising.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..data.camera_raw import RawImage, dng_bytes

__all__ = ["render_linear", "preview_image", "write_preview"]


def _gray_world(image: RawImage, mosaic: np.ndarray) -> list[float]:
    """White-balance multipliers (R, G, B, G) that make the mosaic's mean grey."""
    means = {
        c: float(np.mean(mosaic[i // 2 :: 2, i % 2 :: 2]))
        for i, c in enumerate(image.cfa)
        if c != "G"
    }
    green = float(
        np.mean(
            [mosaic[i // 2 :: 2, i % 2 :: 2].mean() for i, c in enumerate(image.cfa) if c == "G"]
        )
    )
    scale = [green / max(means[c], 1e-6) for c in "RB"]
    return [scale[0], 1.0, scale[1], 1.0]


def render_linear(
    image: RawImage, mosaic: np.ndarray, white_balance: list[float] | None
) -> np.ndarray:
    """``mosaic`` (normalized, in ``image.cfa``) developed by LibRaw into linear sRGB, H x W x 3
    uint16 (65535 = white), oriented; ``white_balance`` multipliers (R, G, B, G), or None for
    the file's as-shot neutral."""
    import rawpy

    with rawpy.imread(io.BytesIO(dng_bytes(mosaic, image))) as raw:
        wb = {"use_camera_wb": True} if white_balance is None else {"user_wb": white_balance}
        return raw.postprocess(
            gamma=(1, 1),
            no_auto_bright=True,
            output_bps=16,
            output_color=rawpy.ColorSpace.sRGB,
            **wb,
        )


def _srgb_table(exposure: float) -> np.ndarray:
    """uint16 linear value -> uint8 sRGB after multiplying by ``exposure``: a 65536-entry table."""
    x = np.clip(np.arange(65536, dtype=np.float64) / 65535.0 * exposure, 0, 1)
    encoded = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.round(encoded * 255).astype(np.uint8)


def preview_image(noisy: RawImage, denoised: np.ndarray) -> np.ndarray:
    """Noisy (left) and denoised (right) side by side, sRGB uint8, H x 2W x 3 (or W x 2H x 3 for
    a file whose orientation turns it by 90 degrees)."""
    balance = None if noisy.metadata.as_shot_neutral is not None else _gray_world(noisy, denoised)
    right = render_linear(noisy, denoised, balance)
    sample = right[::4, ::4].reshape(-1)  # the exposure from a subsample
    table = _srgb_table(0.9 * 65535.0 / max(float(np.percentile(sample, 99)), 1.0))
    right = table[right]
    left = table[render_linear(noisy, np.clip(noisy.mosaic, 0, 1), balance)]
    return np.concatenate([left, right], axis=1)


def write_preview(path: str | os.PathLike, noisy: RawImage, denoised: np.ndarray) -> None:
    """Write :func:`preview_image` as a PNG (or another format imageio writes: .jpg, .tif),
    atomically. imageio comes with scikit-image."""
    import imageio.v3 as iio

    image = preview_image(noisy, denoised)
    fast = (
        {"compress_level": 1} if Path(path).suffix.lower() == ".png" else {}
    )  # 12 MP: seconds, not tens
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, image, **fast)
