"""Resolving an ``--arch`` argument into a spec (and weights); writing a model file.

``--arch`` takes a named architecture (``mwrcanet_paper``, ``mwresnet``: built for the channels
the command's data hold, raw mosaics unless told), a spec JSON file, a
JSON file with a ``spec`` field (a run's ``best.json``, an exported ``model.json``, a genome file
such as ``search_spaces/mwrcanet_paper.json``), or a model file (``.pt``) written by this toolkit.

A model file and an exported ``model.json`` record the CFA pattern the network was trained on
(``"cfa": "RGGB"``); files without the field, named architectures and other checkpoints are
read as RGGB, the pattern of the synthetic data. The model file itself is
:class:`models.ModelFile`.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import torch

from models import (
    ArchSpec,
    ModelFile,
    Provenance,
    SpecError,
    WaveletUNet,
    build_model,
    is_model_file,
    load_state_dict_strict,
    named_spec,
    read_checkpoint,
    state_dict_of,
)
from models.zoo import ARCHITECTURES

from .data.bayer import DEFAULT_PATTERN, parse_pattern
from .errors import UserError

__all__ = [
    "ArchError",
    "DEPRECATED_NAMES",
    "is_named",
    "resolve_arch",
    "build_with_weights",
    "load_denoiser",
    "read_weights",
    "save_model_file",
]


log = logging.getLogger(__name__)

# Former names of the sRGB builds of the named architectures: still read, with a warning.
DEPRECATED_NAMES = {"mwrcanet_paper_srgb": ("mwrcanet_paper", 3), "mwresnet_srgb": ("mwresnet", 3)}


class ArchError(UserError):
    """An ``--arch`` argument names nothing usable."""


def resolve_arch(arg: str, channels: int | None = None) -> tuple[ArchSpec, dict | None]:
    """(spec, state dict or None) for an ``--arch`` argument. ``channels``: what a named
    architecture is built for (the data's: 1 raw, 3 sRGB; default 1); a file's spec says its own."""
    spec, state, _ = _resolve(arg, channels)
    return spec, state


def is_named(arg: str) -> bool:
    """Whether an ``--arch`` argument is a named architecture (built for the data's channels)."""
    return arg in ARCHITECTURES or arg in DEPRECATED_NAMES


def _resolve(arg: str, channels: int | None = None) -> tuple[ArchSpec, dict | None, str | None]:
    """(spec, state dict or None, trained CFA pattern; None for an sRGB network) for an ``--arch``
    argument, reading it once."""
    spec, state, pattern = _resolve_file(arg, channels)
    return spec, state, pattern if spec.in_channels == 1 else None


def _named(arg: str, channels: int | None) -> ArchSpec:
    if arg in DEPRECATED_NAMES:
        name, channels = DEPRECATED_NAMES[arg]
        message = f"--arch {arg} is deprecated: use --arch {name} (channels follow the data)"
        warnings.warn(message, DeprecationWarning, stacklevel=4)
        log.warning("warning: %s", message)
        arg = name
    try:
        return named_spec(arg, in_channels=channels or 1)
    except SpecError as err:
        raise ArchError(f"--arch {arg}: {err}") from None


def _resolve_file(arg: str, channels: int | None = None) -> tuple[ArchSpec, dict | None, str]:
    if is_named(arg):
        return _named(arg, channels), None, DEFAULT_PATTERN
    path = Path(arg)
    if not path.is_file():
        raise ArchError(
            f"--arch {arg!r}: neither a named architecture ({', '.join(ARCHITECTURES)}) nor a file"
        )
    if path.suffix.lower() == ".json":
        return _spec_from_json(path)
    loaded = read_checkpoint(path)
    if not is_model_file(loaded):
        raise ArchError(
            f"{path}: not a model file of this toolkit (no 'spec'); pass a spec with --arch and "
            "the file with --weights"
        )
    record = _model_file(loaded, path)
    return record.spec, dict(record.state_dict), _pattern(record.cfa, path)


def _model_file(loaded: object, path: Path) -> ModelFile:
    try:
        return ModelFile.from_payload(loaded, path)
    except SpecError as err:
        raise ArchError(f"{path}: {err}") from None


def _pattern(cfa: object, path: Path) -> str:
    """A recorded ``cfa`` field, checked; RGGB when absent (older files, plain specs)."""
    if cfa is None:
        return DEFAULT_PATTERN
    try:
        return parse_pattern(cfa)
    except ValueError as err:
        raise ArchError(f"{path}: cfa: {err}") from None


def _spec_from_json(path: Path) -> tuple[ArchSpec, None, str]:
    """The ``spec`` field of a JSON file (a run's ``best.json``, a genome file, an exported
    ``model.json``), or the file itself as a plain spec. A genome alone is not read: decoding it
    is the search space's business (``python -m nas.export`` turns it into a model.json)."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArchError(f"{path}: invalid JSON ({err})") from None
    if isinstance(data, dict) and "genome" in data and "spec" not in data:
        raise ArchError(
            f"{path}: has a genome but no 'spec'; export it first: python -m nas.export {path}"
        )
    pattern = _pattern(data.get("cfa") if isinstance(data, dict) else None, path)
    try:
        return (
            ArchSpec.from_dict(data.get("spec", data) if isinstance(data, dict) else data),
            None,
            pattern,
        )
    except SpecError as err:
        raise ArchError(f"{path}: {err}") from None


def read_weights(path: str | os.PathLike) -> tuple[dict, str | None]:
    """(state dict, trained CFA pattern or None if the file does not say) of any weights file: a
    model file of this toolkit or another checkpoint (see :func:`models.state_dict_of`)."""
    loaded = read_checkpoint(path)
    if not is_model_file(loaded):
        return state_dict_of(loaded, path), None
    record = _model_file(loaded, Path(path))
    return dict(record.state_dict), _pattern(record.cfa, Path(path)) if record.cfa else None


def build_with_weights(spec: ArchSpec, state: dict | None, source: str = "weights") -> WaveletUNet:
    """``spec``'s model in eval mode, with ``state`` loaded strictly (random init when None)."""
    model = build_model(spec)
    if state is not None:
        load_state_dict_strict(model, state, source=source)
    return model.eval()


def load_denoiser(
    arch: str,
    weights: str | None = None,
    device: str | torch.device = "cpu",
    channels: int | None = None,
) -> tuple[WaveletUNet, str | None]:
    """(model in eval mode, the CFA pattern it was trained on): the pattern recorded in the
    weights file if it records one, else in ``arch``'s file, else RGGB; None for an sRGB network.
    ``channels``: what a named ``arch`` is built for (default 1, raw mosaics)."""
    spec, state, pattern = _resolve(arch, channels)
    if weights:
        state, recorded = read_weights(weights)
        pattern = (recorded or pattern) if spec.in_channels == 1 else None
    return build_with_weights(spec, state, source=str(weights or arch)).to(device), pattern


def save_model_file(
    path: str | os.PathLike,
    spec: ArchSpec,
    state_dict: dict,
    cfa: str | None = DEFAULT_PATTERN,
    step: int | None = None,
    source: str = "",
    **metrics: float,
) -> None:
    """Write a :class:`models.ModelFile` (atomically): spec, weights, the trained CFA pattern
    ``cfa`` (checked; dropped for an sRGB network), what made it (``source``, ``step``) and its
    ``metrics`` (e.g. ``val_psnr``)."""
    ModelFile(
        spec,
        state_dict,
        cfa=parse_pattern(cfa) if spec.in_channels == 1 else None,
        provenance=Provenance(source, step),
        metrics=metrics,
    ).save(path)
