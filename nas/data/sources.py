"""Data sources, selected by one string: training patch samplers and fixed validation block sets.

========================  ========  ========  ==========  ==========================================
source string             channels  training  validation  what it reads
========================  ========  ========  ==========  ==========================================
``synthetic``             1 (raw)   yes       yes         unprocessed scikit-image photos (no files)
``synthetic:FILE.dng``    1         yes       yes         the same, noise of FILE's NoiseProfile
``synthetic-srgb``        3 (sRGB)  yes       yes         the same, raw noise through a simple ISP
``sidd-val:DIR``          1         no        yes         Validation{Noisy,Gt}BlocksRaw.mat
``siddplus-val:DIR``      1         no        yes         siddplus_valid_{noisy,gt}_raw.mat
``sidd-srgb-val:DIR``     3         no        yes         Validation{Noisy,Gt}BlocksSrgb.mat
``sidd-medium:DIR``       1         yes       no          */*{NOISY,GT}_RAW_*.MAT, key ``x`` (v7.3)
``sidd-medium-srgb:DIR``  3         yes       no          */*{NOISY,GT}_SRGB_*.PNG
``pairs:DIR``             1 or 3    yes       yes         DIR/{noisy,clean}/NAME (.npy or images)
``raws:DIR``              1         no        no          noisy camera raws only (pseudo-labelling)
``synthetic-unseen``      1         no        no          noisy mosaics of bundled photos that
                                                          neither synthetic source trains or
                                                          validates on (pseudo-labelling)
========================  ========  ========  ==========  ==========================================

Real mosaics are unified to the trained CFA pattern (RGGB) as they are cropped, and augmented
with phase-correct flips and transposes, so every patch a network sees is RGGB. sRGB images are
3 x H x W in [0, 1]; every flip and transpose of them is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DataError
from .camera_raw import raw_crops
from .pairs import pairs_train, pairs_val
from .samplers import BlockSet, CropSampler, PatchSampler, array_reader
from .sidd import sidd_medium_srgb_train, sidd_medium_train, sidd_srgb_val, sidd_val, siddplus_val
from .synthetic import (
    synthetic_srgb_train,
    synthetic_srgb_val,
    synthetic_train,
    synthetic_unseen_crops,
    synthetic_val,
)

__all__ = [
    "BlockSet",
    "PatchSampler",
    "CropSampler",
    "array_reader",
    "SOURCES",
    "Source",
    "source_channels",
    "training_sampler",
    "validation_set",
    "unlabeled_blocks",
    "UnlabeledBlocks",
    "describe_channels",
    "check_channels",
    "DEFAULT_SOURCES",
    "default_source",
]


@dataclass(frozen=True)
class Source:
    train: Callable[[str], PatchSampler] | None
    # (argument, num_blocks, block_size) -> blocks; file sources ignore the size and are subset
    # after
    validation: Callable[[str, int | None, int], BlockSet] | None
    channels: int | None = 1  # None: the files decide (pairs:DIR)
    needs_dir: bool = True
    # (argument, num_blocks, block_size, seed) -> noisy-only blocks N x S x S, for pseudo-labelling
    unlabeled: Callable[[str, int, int, int], np.ndarray] | None = None


# The one table of data sources.
SOURCES: dict[str, Source] = {
    "synthetic": Source(train=synthetic_train, validation=synthetic_val, needs_dir=False),
    "synthetic-srgb": Source(
        train=synthetic_srgb_train, validation=synthetic_srgb_val, channels=3, needs_dir=False
    ),
    "sidd-val": Source(train=None, validation=sidd_val),
    "siddplus-val": Source(train=None, validation=siddplus_val),
    "sidd-srgb-val": Source(train=None, validation=sidd_srgb_val, channels=3),
    "sidd-medium": Source(train=sidd_medium_train, validation=None),
    "sidd-medium-srgb": Source(train=sidd_medium_srgb_train, validation=None, channels=3),
    "pairs": Source(train=pairs_train, validation=pairs_val, channels=None),
    "raws": Source(train=None, validation=None, unlabeled=raw_crops),
    "synthetic-unseen": Source(
        train=None, validation=None, needs_dir=False, unlabeled=synthetic_unseen_crops
    ),
}

# The same photos with a wider noise distribution, one noise model per sample (noise_models.py).
from .synthetic_mix import (  # noqa: E402
    synthetic_mix_train,
    synthetic_mix_val,
    synthetic_srgb_mix_train,
    synthetic_srgb_mix_val,
)

SOURCES["synthetic-mix"] = Source(synthetic_mix_train, synthetic_mix_val, needs_dir=False)
SOURCES["synthetic-srgb-mix"] = Source(
    synthetic_srgb_mix_train, synthetic_srgb_mix_val, channels=3, needs_dir=False
)


# The embedded default data of each kind of network: nothing is fetched.
DEFAULT_SOURCES = {1: "synthetic", 3: "synthetic-srgb"}


def default_source(channels: int) -> str:
    """The embedded synthetic source for networks of ``channels`` (1: raw, 3: sRGB)."""
    return DEFAULT_SOURCES[channels]


def describe_channels(channels: int) -> str:
    """How the toolkit names what a channel count holds."""
    return {1: "raw mosaics (1 channel)", 3: "sRGB images (3 channels)"}.get(
        channels, f"{channels}-channel images"
    )


def check_channels(network_channels: int, data_channels: int | None, data: str) -> None:
    """DataError unless data of ``data_channels`` (None: not known before reading) suits a
    network that takes ``network_channels``."""
    if data_channels is not None and data_channels != network_channels:
        raise DataError(
            f"the network takes {describe_channels(network_channels)} but {data} holds "
            f"{describe_channels(data_channels)}"
        )


def _parse(text: str) -> tuple[str, Source, str]:
    kind, _, arg = text.partition(":")
    if kind not in SOURCES:
        known = ", ".join(k + ("" if not SOURCES[k].needs_dir else ":DIR") for k in SOURCES)
        raise DataError(f"unknown data source {text!r} (known: {known})")
    source = SOURCES[kind]
    if source.needs_dir and not arg:
        raise DataError(f"data source {kind!r} needs a folder: {kind}:DIR")
    if source.needs_dir and not Path(arg).is_dir():
        raise DataError(f"data source {text!r}: folder not found: {arg}")
    return kind, source, arg


def source_channels(text: str) -> int | None:
    """What a source string holds before reading any file: 1, 3, or None (its files decide)."""
    kind = text.partition(":")[0]
    if kind not in SOURCES:
        _parse(text)  # raises the one-line error
    return SOURCES[kind].channels


def training_sampler(text: str, channels: int | None = None) -> PatchSampler:
    """The training sampler of a source string such as ``synthetic`` or ``sidd-medium:DIR``;
    DataError unless it holds ``channels`` (when given: the network's)."""
    kind, source, arg = _parse(text)
    if source.train is None:
        raise DataError(
            f"data source {kind!r} holds "
            f"{'validation blocks' if source.validation else 'noisy photos'} "
            "only; train on synthetic, synthetic-srgb, sidd-medium:DIR, sidd-medium-srgb:DIR "
            "or pairs:DIR"
        )
    if channels is not None:
        check_channels(channels, source.channels, text)
    sampler = source.train(arg)
    if channels is not None:
        check_channels(channels, sampler.channels, text)
    return sampler


def validation_set(
    text: str, num_blocks: int | None = None, block_size: int = 128, channels: int | None = None
) -> BlockSet:
    """The fixed validation blocks of a source. ``num_blocks`` keeps an evenly spaced subset (the
    synthetic sets are generated with exactly that many ``block_size`` blocks, 64 if not given).
    DataError unless they hold ``channels`` (when given: the network's)."""
    kind, source, arg = _parse(text)
    if channels is not None:
        check_channels(channels, source.channels, text)
    if source.validation is None:
        raise DataError(
            f"data source {kind!r} is for "
            f"{'training' if source.train else 'pseudo-labelling'} only; "
            "validate on synthetic, synthetic-srgb, sidd-val:DIR, siddplus-val:DIR, "
            "sidd-srgb-val:DIR "
            "or pairs:DIR"
        )
    blocks = source.validation(arg, num_blocks, block_size)
    if channels is not None:
        check_channels(channels, blocks.channels, text)
    if num_blocks and num_blocks < len(blocks):
        keep = np.linspace(0, len(blocks) - 1, num_blocks).round().astype(int)
        blocks = blocks.subset(keep)
    return blocks


@dataclass(frozen=True)
class UnlabeledBlocks:
    """Noisy inputs to pseudo-label: float32 N x S x S (``channels`` 1, raw mosaics) or
    N x C x S x S."""

    noisy: np.ndarray
    channels: int


def unlabeled_blocks(
    text: str, num_blocks: int = 64, block_size: int = 128, seed: int = 0
) -> UnlabeledBlocks:
    """Noisy inputs to pseudo-label: ``num_blocks`` fixed crops (``seed``) of the camera raws of
    ``raws:DIR``, unified to RGGB, or of the unseen photos of ``synthetic-unseen``; or all noisy
    blocks of a validation source (``siddplus-val:DIR``, ...), which must share one size."""
    kind, source, arg = _parse(text)
    if source.unlabeled is not None:
        return UnlabeledBlocks(source.unlabeled(arg, num_blocks, block_size, seed), channels=1)
    if source.validation is None:
        raise DataError(
            f"data source {kind!r} holds no fixed inputs to pseudo-label; use raws:DIR or a "
            "validation source"
        )
    blocks = source.validation(arg, num_blocks, block_size)  # file sources: all their blocks
    if len({b.shape for b in blocks.noisy}) != 1:
        raise DataError(f"{text}: its blocks differ in size; pseudo-labelling needs one size")
    return UnlabeledBlocks(np.stack(list(blocks.noisy)).astype(np.float32), blocks.channels)
