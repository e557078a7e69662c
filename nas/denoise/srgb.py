"""Denoising an ordinary sRGB photo (PNG, JPEG or TIFF) with a 3-channel network."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..data.images import IMAGE_SUFFIXES, ImageMetadata, read_image, write_image
from ..data.sources import describe_channels
from ..errors import DataError
from ..inference import denoise_array, tile_count

__all__ = ["read_srgb", "srgb_tiles", "denoise_srgb", "side_by_side"]


def read_srgb(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(3 x H x W float32 in [0, 1], bits per sample) of an RGB image file; DataError otherwise."""
    if Path(path).suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(
            f"the network takes {describe_channels(3)} but {path} is not one "
            f"({', '.join(IMAGE_SUFFIXES)})"
        )
    image, bits = read_image(path)
    if image.ndim != 3:
        raise DataError(f"the network takes {describe_channels(3)} but {path} is a grey image")
    return image, bits


def srgb_tiles(image: np.ndarray, tile: int | None, overlap: int) -> int:
    """How many tiles :func:`denoise_srgb` runs."""
    return tile_count(*image.shape[-2:], tile, overlap) if tile else 1


def denoise_srgb(
    model: torch.nn.Module,
    image: np.ndarray,
    ensemble: bool,
    tile: int | None,
    overlap: int,
    progress: Callable | None = None,
) -> np.ndarray:
    """The denoised 3 x H x W image, any size (padded to a multiple of 8 and cut back)."""
    return denoise_array(
        model, image, ensemble=ensemble, tile=tile, overlap=overlap, progress=progress
    )


def side_by_side(
    path: str | os.PathLike,
    noisy: np.ndarray,
    denoised: np.ndarray,
    metadata: ImageMetadata | None = None,
) -> None:
    """Noisy (left) and denoised (right) as one 8-bit image, with the photo's ICC profile and
    EXIF."""
    write_image(path, np.concatenate([noisy, denoised], axis=-1), bits=8, metadata=metadata)
