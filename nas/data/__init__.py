"""Denoising data: synthetic pairs (raw and sRGB), SIDD files, the user's own pairs, camera raw
files."""

from ..errors import DataError
from .mat import read_array, write_array
from .samplers import crop_size
from .sources import (
    SOURCES,
    BlockSet,
    PatchSampler,
    check_channels,
    default_source,
    describe_channels,
    source_channels,
    training_sampler,
    UnlabeledBlocks,
    unlabeled_blocks,
    validation_set,
)

__all__ = [
    "DataError",
    "read_array",
    "write_array",
    "SOURCES",
    "BlockSet",
    "PatchSampler",
    "training_sampler",
    "validation_set",
    "unlabeled_blocks",
    "UnlabeledBlocks",
    "source_channels",
    "check_channels",
    "describe_channels",
    "default_source",
    "crop_size",
]
