"""Synthetic pairs from the photos scikit-image ships (nothing is fetched): raw mosaics by
unprocessing (``synthetic``) and sRGB images through a simple ISP (``synthetic-srgb``)."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import DataError
from .camera_raw import read_raw
from .isp import srgb_pairs_from_rgb
from .samplers import BlockSet, PatchSampler, random_int
from .unprocess import raw_pairs_from_rgb

__all__ = [
    "TRAIN_PHOTOS",
    "VAL_PHOTOS",
    "VALIDATION_SEED",
    "UNSEEN_PHOTOS",
    "synthetic_unseen_crops",
    "photo",
    "SyntheticSampler",
    "DeviceSyntheticSampler",
    "synthetic_blocks",
    "camera_noise_profile",
    "synthetic_train",
    "synthetic_val",
    "synthetic_srgb_train",
    "synthetic_srgb_val",
]

# scikit-image's bundled colour photos. The stereo pair stays together in training so no view of
# a validation scene is ever trained on; retina and ihc are medical/microscopy, not photographs.
TRAIN_PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
)
VAL_PHOTOS = ("chelsea.png", "rocket.jpg")
VALIDATION_SEED = 20200614  # fixed: every candidate of every run sees identical validation data
# Bundled images in neither list, for pseudo-labelling new images (``synthetic-unseen``): two
# colour ones (microscopy and a retina) and grey photos and textures, replicated to RGB.
UNSEEN_PHOTOS = (
    "retina.jpg",
    "ihc.png",
    "camera.png",
    "coins.png",
    "brick.png",
    "grass.png",
    "gravel.png",
)


@lru_cache(maxsize=None)
def photo(name: str) -> torch.Tensor:
    """A bundled photo read from scikit-image's own data folder (never fetched), 3 x H x W in
    [0, 1]; a grey one is replicated to three channels."""
    import skimage.data
    import skimage.io

    path = Path(skimage.data.data_dir) / name
    if not path.is_file():
        raise DataError(f"scikit-image does not ship {name} at {path}; reinstall scikit-image")
    image = skimage.io.imread(path)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1).float() / 255.0


def _pairs(
    crops: torch.Tensor, g: torch.Generator, srgb: bool, noise_profile: tuple[float, ...] | None
):
    return srgb_pairs_from_rgb(crops, g) if srgb else raw_pairs_from_rgb(crops, g, noise_profile)


class SyntheticSampler(PatchSampler):
    """Random RGB crops of the training photos, flipped/transposed, then made into noisy pairs:
    raw mosaics (augmenting before the mosaic keeps every patch RGGB), or with ``srgb`` sRGB
    images through the ISP. ``noise_profile`` (raw only): a camera's DNG NoiseProfile instead of
    random noise parameters."""

    def __init__(
        self,
        photos: Sequence[str] = TRAIN_PHOTOS,
        noise_profile: tuple[float, ...] | None = None,
        srgb: bool = False,
    ) -> None:
        self.names = tuple(photos)
        self.photos = [photo(name) for name in photos]
        self.noise_profile, self.srgb = noise_profile, srgb
        self.channels = 3 if srgb else 1

    def on_device(self, device: torch.device) -> "DeviceSyntheticSampler | None":
        """The raw pipeline on ``device`` (:class:`DeviceSyntheticSampler`); None for sRGB, whose
        ISP runs on the CPU."""
        if self.srgb:
            return None
        return DeviceSyntheticSampler(self.names, self.noise_profile, torch.device(device))

    def check_patch(self, patch: int) -> None:
        h, w = min((tuple(image.shape[-2:]) for image in self.photos), key=min)
        if min(h, w) < patch:
            raise DataError(f"patch {patch} is larger than a training photo ({h} x {w})")

    def sample(self, batch, patch, g):
        crops = random_crops(self.photos, batch, patch, g)
        return _pairs(crops, g, self.srgb, self.noise_profile)


class DeviceSyntheticSampler(SyntheticSampler):
    """:class:`SyntheticSampler`'s raw batches made on ``device``: the photos live there, the
    crops are cut there and the unprocessing, mosaic and noise run there. The crops' places and
    flips are drawn from the CPU generator ``g`` as on the CPU (no transfer, no wait for the
    device); the pixels' random numbers come from a generator on ``device`` seeded from ``g`` for
    each batch, so ``g``'s state (a checkpoint's) still fixes every batch. The statistics are
    the CPU path's; the numbers are not."""

    def __init__(
        self,
        photos: Sequence[str],
        noise_profile: tuple[float, ...] | None,
        device: torch.device,
    ) -> None:
        super().__init__(photos, noise_profile)
        self.device = device
        self.photos = [image.to(device) for image in self.photos]
        self.pixel_generator = torch.Generator(device=device)

    def on_device(self, device: torch.device) -> "DeviceSyntheticSampler":
        return self if torch.device(device) == self.device else super().on_device(device)

    def sample(self, batch, patch, g):
        crops = random_crops(self.photos, batch, patch, g)
        self.pixel_generator.manual_seed(random_int(2**62, g))
        return raw_pairs_from_rgb(crops, self.pixel_generator, self.noise_profile)


def random_crops(
    photos: list[torch.Tensor], batch: int, patch: int, g: torch.Generator
) -> torch.Tensor:
    """``batch`` random crops of side ``patch``, each of a random photo, flipped and transposed
    at random: the training crops of every synthetic source (one order of draws from ``g``, a
    CPU generator; the crops are cut on the photos' device)."""
    crops = []
    for _ in range(batch):
        image = photos[random_int(len(photos), g)]
        h, w = image.shape[-2:]
        if min(h, w) < patch:
            raise DataError(f"patch {patch} is larger than a training photo ({h} x {w})")
        y, x = random_int(h - patch + 1, g), random_int(w - patch + 1, g)
        crop = image[:, y : y + patch, x : x + patch]
        flips = torch.rand(3, generator=g) < 0.5
        crop = crop.flip(-1) if flips[0] else crop
        crop = crop.flip(-2) if flips[1] else crop
        crops.append(crop.transpose(-1, -2) if flips[2] else crop)
    return torch.stack(crops)


@lru_cache(maxsize=8)
def synthetic_blocks(
    num_blocks: int,
    block_size: int,
    noise_profile: tuple[float, ...] | None = None,
    srgb: bool = False,
) -> BlockSet:
    """The fixed synthetic validation blocks: crops of the validation photos, seeded once."""
    g = torch.Generator().manual_seed(VALIDATION_SEED)
    crops = _spread_crops(
        VAL_PHOTOS,
        num_blocks,
        block_size,
        g,
        f"validation block size {block_size} is larger than a validation photo",
    )
    noisy, clean = _pairs(crops, g, srgb, noise_profile)
    if srgb:
        return BlockSet(list(noisy.numpy()), list(clean.numpy()), "synthetic-srgb", channels=3)
    return BlockSet(noisy[:, 0].numpy(), clean[:, 0].numpy(), "synthetic", channels=1)


def synthetic_unseen_crops(arg: str, num_blocks: int, block_size: int, seed: int) -> np.ndarray:
    """``num_blocks`` noisy raw mosaics (float32 N x S x S, RGGB) of :data:`UNSEEN_PHOTOS`, which
    neither training nor validation uses: crops spread evenly over the photos at places drawn
    from ``seed``, made noisy as the training pairs are (``arg``: a DNG whose NoiseProfile sets
    the noise, as ``synthetic:FILE.dng``)."""
    noise_profile = camera_noise_profile(arg)
    g = torch.Generator().manual_seed(seed)
    crops = _spread_crops(
        UNSEEN_PHOTOS,
        num_blocks,
        block_size,
        g,
        f"synthetic-unseen: crops of {block_size} are larger than a photo",
    )
    noisy, _ = raw_pairs_from_rgb(crops, g, noise_profile)
    return noisy[:, 0].numpy().astype(np.float32)


def _spread_crops(
    names, num_blocks: int, block_size: int, g: torch.Generator, too_big: str
) -> torch.Tensor:
    """``num_blocks`` crops (N x 3 x S x S) taken in turn from the photos ``names``, at places
    drawn from ``g``; DataError ``too_big (H x W)`` for a photo smaller than a crop."""
    photos = [photo(name) for name in names]
    crops = []
    for k in range(num_blocks):
        image = photos[k % len(photos)]
        h, w = image.shape[-2:]
        if min(h, w) < block_size:
            raise DataError(f"{too_big} ({h} x {w})")
        y, x = random_int(h - block_size + 1, g), random_int(w - block_size + 1, g)
        crops.append(image[:, y : y + block_size, x : x + block_size])
    return torch.stack(crops)


def camera_noise_profile(path: str) -> tuple[float, ...] | None:
    """The NoiseProfile of the DNG at ``path`` (None for an empty path); DataError if it has
    none."""
    if not path:
        return None
    profile = read_raw(path).metadata.noise_profile
    if profile is None or len(profile) not in (2, 6):
        raise DataError(
            f"{path}: no NoiseProfile tag with 1 or 3 (shot, read) pairs; "
            "synthetic:FILE needs a DNG that records its noise"
        )
    return profile


def synthetic_train(path: str) -> PatchSampler:
    return SyntheticSampler(noise_profile=camera_noise_profile(path))


def synthetic_val(path: str, num_blocks: int | None, block_size: int) -> BlockSet:
    blocks = synthetic_blocks(num_blocks or 64, block_size, camera_noise_profile(path))
    return replace(blocks, source=f"synthetic:{path}") if path else blocks


def _no_argument(arg: str) -> None:
    if arg:
        raise DataError(
            f"synthetic-srgb takes no argument, got {arg!r} "
            "(a camera's noise profile is for the raw source: synthetic:FILE.dng)"
        )


def synthetic_srgb_train(arg: str) -> PatchSampler:
    _no_argument(arg)
    return SyntheticSampler(srgb=True)


def synthetic_srgb_val(arg: str, num_blocks: int | None, block_size: int) -> BlockSet:
    _no_argument(arg)
    return synthetic_blocks(num_blocks or 64, block_size, srgb=True)
