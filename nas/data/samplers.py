"""The two things every data source yields: training patch samplers and fixed validation blocks.

A block or a patch is channel-first: a raw mosaic is one plane (H x W in a :class:`BlockSet`,
1 x H x W in a batch), an sRGB image three (3 x H x W). :class:`CropSampler` draws training
patches from any in-memory or on-disk arrays of either kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import DataError
from .bayer import DEFAULT_PATTERN, parse_pattern, pattern_after, pattern_offset

__all__ = [
    "BlockSet",
    "PatchSampler",
    "CropSampler",
    "array_reader",
    "random_int",
    "augment",
    "crop_size",
    "fits_channels",
    "layout_of",
]


def layout_of(channels: int) -> str:
    """The layout of one image of ``channels``: raw mosaics have no channel axis."""
    return "H x W (a raw mosaic)" if channels == 1 else f"{channels} x H x W"


def fits_channels(image: np.ndarray, channels: int) -> bool:
    """Whether ``image`` is in the layout of ``channels`` (:func:`layout_of`)."""
    if channels == 1:
        return image.ndim == 2
    return image.ndim == 3 and image.shape[0] == channels


@dataclass
class BlockSet:
    """Fixed validation blocks, index-aligned float32 arrays in [0, 1] of noisy and clean images.
    ``channels`` says what they hold: 1, raw mosaics (each H x W), or C, images C x H x W (3:
    sRGB). The layout follows ``channels``; a block that does not fit it is a DataError."""

    noisy: Sequence[np.ndarray]
    clean: Sequence[np.ndarray]
    source: str
    channels: int

    def __post_init__(self) -> None:
        if len(self.noisy) != len(self.clean):
            raise DataError(
                f"{self.source}: {len(self.noisy)} noisy but {len(self.clean)} clean blocks"
            )
        for i, (noisy, clean) in enumerate(zip(self.noisy, self.clean)):
            if noisy.shape != clean.shape or not fits_channels(noisy, self.channels):
                raise DataError(
                    f"{self.source}: block {i} is {noisy.shape} noisy, {clean.shape} clean; "
                    f"expected {layout_of(self.channels)}"
                )

    def __len__(self) -> int:
        return len(self.noisy)

    def subset(self, indices: Sequence[int]) -> "BlockSet":
        """The blocks at ``indices``, in that order."""
        return BlockSet(
            [self.noisy[i] for i in indices],
            [self.clean[i] for i in indices],
            self.source,
            self.channels,
        )


class PatchSampler:
    """Draws training batches (noisy, clean), each ``batch x C x patch x patch``, from a generator.
    ``channels``: what the batches hold, 1 (raw mosaics) or 3 (sRGB)."""

    channels: int = 1

    def sample(
        self, batch: int, patch: int, g: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def check_patch(self, patch: int) -> None:
        """DataError unless every image can give a ``patch`` x ``patch`` crop (checked before
        training)."""

    def on_device(self, device: torch.device) -> "PatchSampler | None":
        """A sampler of the same batches' kind that makes them on ``device`` (same statistics;
        its random draws follow ``g`` but are not the CPU's numbers), or None where this source
        makes its batches on the CPU only (the trainer then copies them over)."""
        return None


def crop_size(patch: int, mosaic: bool) -> int:
    """Side of the crop a patch is cut from: a raw mosaic's takes 2 more pixels to align its Bayer
    phase."""
    return patch + (2 if mosaic else 0)


def random_int(high: int, g: torch.Generator) -> int:
    return int(torch.randint(high, (1,), generator=g))


def augment(block: torch.Tensor, flip_h: bool, flip_v: bool, transpose: bool) -> torch.Tensor:
    block = block.flip(-1) if flip_h else block
    block = block.flip(-2) if flip_v else block
    return block.transpose(-1, -2) if transpose else block


@lru_cache(maxsize=None)
def _aligning_offset(
    pattern: str | None, target: str | None, flip_h: bool, flip_v: bool, transpose: bool
) -> tuple[int, int]:
    """Where to cut an augmented even-sided crop of a ``pattern`` mosaic so it is in ``target``."""
    augmented = pattern_after(pattern, lambda t: augment(t, flip_h, flip_v, transpose), (2, 2))
    return pattern_offset(augmented, target)


class CropSampler(PatchSampler):
    """Augmented crops of image pairs. A pair is (read_noisy(y, x, size), read_target(y, x, size),
    (height, width)) with an optional fourth element, the file's CFA pattern (default: ``target``).

    Raw mosaics (``target`` a CFA pattern) get Bayer unification and Bayer-preserving
    augmentation (Liu et al. 2019): crop two pixels more at even offsets, flip/transpose, then cut
    the patch at the one-pixel offset that puts it in ``target`` whatever the file's pattern and
    the flips. sRGB images (``target`` None, ``channels`` 3) are cropped anywhere and every flip
    is valid. A target reader may return K stacked planes (e.g. two teachers' outputs); batches
    then carry K target channels."""

    def __init__(
        self, pairs: Sequence[tuple], target: str | None = DEFAULT_PATTERN, channels: int = 1
    ) -> None:
        self.pairs = pairs
        self.target = parse_pattern(target) if target is not None else None
        self.channels = channels

    def _origin(self, h: int, w: int, size: int, g: torch.Generator) -> tuple[int, int]:
        if self.target is None:
            return random_int(h - size + 1, g), random_int(w - size + 1, g)
        return 2 * random_int((h - size) // 2 + 1, g), 2 * random_int((w - size) // 2 + 1, g)

    def _crop_size(self, patch: int) -> int:
        return crop_size(patch, mosaic=self.target is not None)

    def check_patch(self, patch: int) -> None:
        size = self._crop_size(patch)
        h, w = min((pair[2] for pair in self.pairs), key=min)
        if min(h, w) < size:
            raise DataError(
                f"patch {patch} needs images of at least {size} x {size}; the smallest is {h} x {w}"
            )

    def sample(self, batch, patch, g):
        size = self._crop_size(patch)
        noisy, target = [], []
        for _ in range(batch):
            read_noisy, read_target, (h, w), *pattern = self.pairs[random_int(len(self.pairs), g)]
            if min(h, w) < size:
                raise DataError(
                    f"patch {patch} needs images of at least {size} x {size}, found {h} x {w}"
                )
            y, x = self._origin(h, w, size, g)
            flips = tuple((torch.rand(3, generator=g) < 0.5).tolist())
            dy, dx = _aligning_offset(pattern[0] if pattern else self.target, self.target, *flips)
            for out, read in ((noisy, read_noisy), (target, read_target)):
                block = augment(
                    torch.from_numpy(np.ascontiguousarray(read(y, x, size), dtype=np.float32)),
                    *flips,
                )
                block = block[..., dy : dy + patch, dx : dx + patch]
                out.append(block if block.dim() == 3 else block[None])
        return torch.stack(noisy), torch.stack(target)


def array_reader(array: np.ndarray) -> Callable:
    """Crops of an H x W (or K x H x W) array."""
    return lambda y, x, size: array[..., y : y + size, x : x + size]
