"""Which noisy inputs the distillation pseudo-labels, and the setting the ablation table records.

Three settings, chosen with ``--unlabeled``:

- ``training crops`` (no ``--unlabeled``): fixed crops of the training inputs, drawn per seed;
  the pseudo-labels bring no new images.
- ``validation inputs (transductive)`` (``--unlabeled validation``, or the validation source's
  own name, e.g. ``synthetic``): exactly the noisy inputs of the validation blocks, as the paper
  pseudo-labels the challenge's inputs; the validation PSNRs are then optimistic.
- ``disjoint`` (any other source, e.g. ``synthetic-unseen`` or ``raws:DIR``): inputs of a source
  that is neither the training nor the validation source; sources that draw crops
  (``synthetic-unseen``, ``raws:DIR``) draw them per seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from ..data import BlockSet, PatchSampler, check_channels, crop_size, unlabeled_blocks
from ..data.sources import SOURCES
from ..errors import DataError
from .pipeline import fixed_noisy_blocks
from .stages import (
    DISJOINT,
    TRAINING_CROPS,
    TRAINING_SOURCE,
    TRANSDUCTIVE,
    VALIDATION,
    UnlabeledSetting,
)

__all__ = [
    "UnlabeledInputs",
    "unlabeled_inputs",
]


@dataclass(frozen=True)
class UnlabeledInputs:
    """The setting and, for each seed, its noisy inputs (float32 N x S x S raw mosaics or
    N x C x S x S)."""

    setting: UnlabeledSetting
    blocks_for: Callable[[int], np.ndarray]


def unlabeled_inputs(
    choice: str | None,
    sampler: PatchSampler,
    data: str,
    val: BlockSet,
    val_source: str,
    num_blocks: int,
    block_size: int,
    patch: int,
    first_seed: int = 0,
) -> UnlabeledInputs:
    """The unlabeled inputs of ``--unlabeled choice`` (None: crops of the training inputs of
    ``sampler``, source ``data``, drawn with seed + 2), with validation set ``val`` (of source
    ``val_source``); DataError unless steps 3 and 4 can cut training patches of ``patch`` from
    them. ``num_blocks`` and ``block_size`` size the sources that draw crops (per seed; those of
    ``first_seed`` are drawn now, so that a bad source fails before any training)."""
    mosaic = sampler.channels == 1
    if choice is None:
        sampler.check_patch(block_size)
        setting = UnlabeledSetting(TRAINING_CROPS, data)
        return UnlabeledInputs(
            setting,
            lambda seed: fixed_noisy_blocks(sampler, num_blocks, block_size, seed=seed + 2),
        )
    if choice in (VALIDATION, val_source):
        check_channels(sampler.channels, val.channels, val_source)
        blocks = _stacked(val, val_source)
        _check_size(blocks, crop_size(patch, mosaic), val_source)
        return UnlabeledInputs(UnlabeledSetting(TRANSDUCTIVE, val_source), lambda seed: blocks)
    setting = UnlabeledSetting(TRAINING_SOURCE if choice == data else DISJOINT, choice)
    draws_crops = SOURCES.get(choice.partition(":")[0])
    if draws_crops is not None and draws_crops.unlabeled is not None:

        @lru_cache(maxsize=1)
        def crops(seed: int):
            return unlabeled_blocks(choice, num_blocks, block_size, seed=seed + 2)

        check_channels(sampler.channels, crops(first_seed).channels, choice)
        return UnlabeledInputs(setting, lambda seed: crops(seed).noisy)
    fixed = unlabeled_blocks(choice, num_blocks, block_size)
    check_channels(sampler.channels, fixed.channels, choice)
    _check_size(fixed.noisy, crop_size(patch, mosaic), choice)
    return UnlabeledInputs(setting, lambda seed: fixed.noisy)


def _stacked(val: BlockSet, source: str) -> np.ndarray:
    if len({np.shape(b) for b in val.noisy}) != 1:
        raise DataError(f"{source}: its blocks differ in size; pseudo-labelling needs one size")
    return np.stack([np.asarray(b) for b in val.noisy]).astype(np.float32)


def _check_size(blocks: np.ndarray, needed: int, source: str) -> None:
    side = min(blocks.shape[-2:])
    if side < needed:
        raise DataError(
            f"{source}: its blocks are {side} px a side, but steps 3 and 4 train on them in "
            f"patches that need {needed}"
        )
