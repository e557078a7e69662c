"""Raw denoising data: synthetic unprocessed pairs, SIDD files, plain .npy pairs."""
from .mat import DataError, read_array, write_array
from .sources import SOURCES, BlockSet, PatchSampler, training_sampler, validation_set

__all__ = ["DataError", "read_array", "write_array", "SOURCES", "BlockSet", "PatchSampler", "training_sampler",
           "validation_set"]
