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

import numpy as np

from ..atomic import atomic_path
from ..data.camera_raw import RawImage, dng_bytes

__all__ = ["render_linear", "preview_image", "write_preview"]


def _gray_world(image: RawImage, mosaic: np.ndarray) -> list[float]:
    """White-balance multipliers (R, G, B, G) that make the mosaic's mean grey."""
    means = {c: float(np.mean(mosaic[i // 2::2, i % 2::2])) for i, c in enumerate(image.cfa) if c != "G"}
    green = float(np.mean([mosaic[i // 2::2, i % 2::2].mean() for i, c in enumerate(image.cfa) if c == "G"]))
    scale = [green / max(means[c], 1e-6) for c in "RB"]
    return [scale[0], 1.0, scale[1], 1.0]


def render_linear(image: RawImage, mosaic: np.ndarray, white_balance: list[float] | None) -> np.ndarray:
    """``mosaic`` (normalized, in ``image.cfa``) developed by LibRaw into linear sRGB, H x W x 3
    float in [0, 1], oriented; ``white_balance`` multipliers (R, G, B, G), or None for the
    file's as-shot neutral."""
    import rawpy
    with rawpy.imread(io.BytesIO(dng_bytes(mosaic, image))) as raw:
        wb = {"use_camera_wb": True} if white_balance is None else {"user_wb": white_balance}
        rgb = raw.postprocess(gamma=(1, 1), no_auto_bright=True, output_bps=16,
                              output_color=rawpy.ColorSpace.sRGB, **wb)
    return rgb.astype(np.float32) / 65535.0


def _encode_srgb(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0, 1)
    encoded = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.round(encoded * 255).astype(np.uint8)


def preview_image(noisy: RawImage, denoised: np.ndarray) -> np.ndarray:
    """Noisy (left) and denoised (right) side by side, sRGB uint8, H x 2W x 3 (or W x 2H x 3 for
    a file whose orientation turns it by 90 degrees)."""
    clipped = np.clip(noisy.mosaic, 0, 1)
    balance = None if noisy.metadata.as_shot_neutral is not None else _gray_world(noisy, denoised)
    left, right = (render_linear(noisy, m, balance) for m in (clipped, denoised))
    exposure = 0.9 / max(float(np.percentile(right, 99)), 1e-4)
    return np.concatenate([_encode_srgb(left * exposure), _encode_srgb(right * exposure)], axis=1)


def write_preview(path: str | os.PathLike, noisy: RawImage, denoised: np.ndarray) -> None:
    """Write :func:`preview_image` as a PNG (or any format scikit-image writes), atomically."""
    import skimage.io
    with atomic_path(path) as tmp:
        skimage.io.imsave(tmp, preview_image(noisy, denoised), check_contrast=False)
