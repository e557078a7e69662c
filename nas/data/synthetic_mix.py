"""``synthetic-mix`` and ``synthetic-srgb-mix``: the bundled photos with a wider noise
distribution (:mod:`.noise_models`), each sample drawing its own noise model.

The photos, crops, augmentation and validation seed are those of :mod:`.synthetic`; only the
noise differs. ``synthetic`` and ``synthetic-srgb`` stay as they are, so old runs reproduce.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import torch

from ..errors import DataError
from .noise_models import RAW_MIX, SRGB_MIX, RawNoiseModel, SrgbNoiseModel, raw_pairs
from .samplers import BlockSet, PatchSampler, random_int
from .synthetic import TRAIN_PHOTOS, VAL_PHOTOS, VALIDATION_SEED, photo, random_crops

__all__ = [
    "NoiseModelSampler",
    "noise_model_blocks",
    "synthetic_mix_train",
    "synthetic_mix_val",
    "synthetic_srgb_mix_train",
    "synthetic_srgb_mix_val",
]


def _pairs(crops: torch.Tensor, g: torch.Generator, noise, srgb: bool):
    return noise(crops, g) if srgb else raw_pairs(crops, g, noise)


def _small(photos: Sequence[torch.Tensor], size: int, what: str) -> None:
    h, w = min((tuple(image.shape[-2:]) for image in photos), key=min)
    if min(h, w) < size:
        raise DataError(f"{what} {size} is larger than a photo ({h} x {w})")


class NoiseModelSampler(PatchSampler):
    """Random flipped/transposed RGB crops of the training photos made into noisy pairs by a noise
    model: an sRGB one (``srgb``) or a raw one after unprocessing to RGGB mosaics."""

    def __init__(
        self,
        noise: SrgbNoiseModel | RawNoiseModel,
        srgb: bool,
        photos: Sequence[str] = TRAIN_PHOTOS,
    ) -> None:
        self.photos = [photo(name) for name in photos]
        self.noise, self.srgb = noise, srgb
        self.channels = 3 if srgb else 1

    def check_patch(self, patch: int) -> None:
        _small(self.photos, patch, "patch")

    def sample(self, batch, patch, g):
        self.check_patch(patch)
        return _pairs(random_crops(self.photos, batch, patch, g), g, self.noise, self.srgb)


def noise_model_blocks(
    noise: SrgbNoiseModel | RawNoiseModel, srgb: bool, num_blocks: int, block_size: int, source: str
) -> BlockSet:
    """Fixed validation blocks: crops of the validation photos with ``noise``, seeded once."""
    g = torch.Generator().manual_seed(VALIDATION_SEED)
    photos = [photo(name) for name in VAL_PHOTOS]
    _small(photos, block_size, "validation block size")
    crops = []
    for k in range(num_blocks):
        image = photos[k % len(photos)]
        h, w = image.shape[-2:]
        y, x = random_int(h - block_size + 1, g), random_int(w - block_size + 1, g)
        crops.append(image[:, y : y + block_size, x : x + block_size])
    noisy, clean = _pairs(torch.stack(crops), g, noise, srgb)
    if srgb:
        return BlockSet(list(noisy.numpy()), list(clean.numpy()), source, channels=3)
    return BlockSet(noisy[:, 0].numpy(), clean[:, 0].numpy(), source, channels=1)


def _no_argument(kind: str, arg: str) -> None:
    if arg:
        raise DataError(f"{kind} takes no argument, got {arg!r}")


def synthetic_mix_train(arg: str) -> PatchSampler:
    _no_argument("synthetic-mix", arg)
    return NoiseModelSampler(RAW_MIX, srgb=False)


def synthetic_srgb_mix_train(arg: str) -> PatchSampler:
    _no_argument("synthetic-srgb-mix", arg)
    return NoiseModelSampler(SRGB_MIX, srgb=True)


@lru_cache(maxsize=8)
def _mix_blocks(srgb: bool, num_blocks: int, block_size: int) -> BlockSet:
    if srgb:
        return noise_model_blocks(SRGB_MIX, True, num_blocks, block_size, "synthetic-srgb-mix")
    return noise_model_blocks(RAW_MIX, False, num_blocks, block_size, "synthetic-mix")


def synthetic_mix_val(arg: str, num_blocks: int | None, block_size: int) -> BlockSet:
    _no_argument("synthetic-mix", arg)
    return _mix_blocks(False, num_blocks or 64, block_size)


def synthetic_srgb_mix_val(arg: str, num_blocks: int | None, block_size: int) -> BlockSet:
    _no_argument("synthetic-srgb-mix", arg)
    return _mix_blocks(True, num_blocks or 64, block_size)
