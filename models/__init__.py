"""Wavelet U-Net denoisers: Haar transforms, blocks, the spec-built backbone, named
architectures."""

from .backbone import SIZE_MULTIPLE, WaveletUNet, build_model
from .blocks import ACTIVATIONS, BLOCKS
from .cost import Cost, composed_cost, spec_cost
from .errors import UserError, first_line
from .modelfile import ModelFile, Provenance, is_model_file
from .released import (
    WeightsError,
    load_released,
    load_state_dict_strict,
    read_checkpoint,
    read_state_dict,
    state_dict_of,
)
from .spec import GROUP_NAMES, ArchSpec, GroupSpec, SpecError
from .wavelet import DWT, IWT, haar_filters
from .zoo import ARCHITECTURES, mwrcanet_paper_spec, mwresnet_spec, named_spec

__all__ = [
    "SIZE_MULTIPLE",
    "WaveletUNet",
    "build_model",
    "ACTIVATIONS",
    "BLOCKS",
    "Cost",
    "UserError",
    "first_line",
    "composed_cost",
    "spec_cost",
    "ModelFile",
    "Provenance",
    "is_model_file",
    "WeightsError",
    "load_released",
    "load_state_dict_strict",
    "read_checkpoint",
    "read_state_dict",
    "state_dict_of",
    "GROUP_NAMES",
    "ArchSpec",
    "GroupSpec",
    "SpecError",
    "DWT",
    "IWT",
    "haar_filters",
    "ARCHITECTURES",
    "mwrcanet_paper_spec",
    "mwresnet_spec",
    "named_spec",
]
