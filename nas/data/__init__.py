"""Raw denoising data: synthetic unprocessed pairs, SIDD files, plain .npy pairs, camera raw files."""
from .mat import DataError, read_array, write_array
from .sources import SOURCES, BlockSet, PatchSampler, training_sampler, unlabeled_blocks, validation_set

__all__ = ["DataError", "read_array", "write_array", "SOURCES", "BlockSet", "PatchSampler", "training_sampler",
           "validation_set", "unlabeled_blocks"]
