"""Resolving an ``--arch`` argument into a spec (and weights), and this toolkit's model file.

``--arch`` takes a named architecture (``mwrcanet_paper``, ``mwresnet``), a spec JSON file, a
JSON file with a ``spec`` field (a run's ``best.json``, an exported ``model.json``, a genome file
such as ``search_spaces/mwrcanet_paper.json``), or a model file (``.pt``) written by this toolkit.

A model file and an exported ``model.json`` record the CFA pattern the network was trained on
(``"cfa": "RGGB"``); files without the field, named architectures and other checkpoints are
read as RGGB, the pattern of the synthetic data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from models import (
    ArchSpec,
    SpecError,
    WaveletUNet,
    build_model,
    load_state_dict_strict,
    named_spec,
    read_checkpoint,
    state_dict_of,
)
from models.zoo import ARCHITECTURES

from .atomic import atomic_path
from .data.bayer import DEFAULT_PATTERN, parse_pattern
from .errors import UserError
from .search.best import ResultError, read_result

__all__ = [
    "ArchError",
    "resolve_arch",
    "build_with_weights",
    "load_model",
    "load_denoiser",
    "read_weights",
    "save_model_file",
]


class ArchError(UserError):
    """An ``--arch`` argument names nothing usable."""


def resolve_arch(arg: str) -> tuple[ArchSpec, dict | None]:
    """(spec, state dict or None) for an ``--arch`` argument."""
    spec, state, _ = _resolve(arg)
    return spec, state


def _resolve(arg: str) -> tuple[ArchSpec, dict | None, str | None]:
    """(spec, state dict or None, trained CFA pattern; None for an sRGB network) for an ``--arch``
    argument, reading it once."""
    spec, state, pattern = _resolve_file(arg)
    return spec, state, pattern if spec.in_channels == 1 else None


def _resolve_file(arg: str) -> tuple[ArchSpec, dict | None, str]:
    if arg in ARCHITECTURES:
        return named_spec(arg), None, DEFAULT_PATTERN
    path = Path(arg)
    if not path.is_file():
        raise ArchError(
            f"--arch {arg!r}: neither a named architecture ({', '.join(ARCHITECTURES)}) nor a file"
        )
    if path.suffix.lower() == ".json":
        return _spec_from_json(path)
    loaded = read_checkpoint(path)
    if not isinstance(loaded, dict) or "spec" not in loaded:
        raise ArchError(
            f"{path}: not a model file of this toolkit (no 'spec'); pass a spec with --arch and "
            "the file with --weights"
        )
    try:
        return (
            ArchSpec.from_dict(loaded["spec"]),
            state_dict_of(loaded, path),
            _pattern_of(loaded, path),
        )
    except SpecError as err:
        raise ArchError(f"{path}: {err}") from None


def _pattern_of(data: object, path: Path) -> str:
    """The ``cfa`` field of a model file or model.json; RGGB when absent (older files)."""
    if not isinstance(data, dict) or data.get("cfa") is None:
        return DEFAULT_PATTERN
    try:
        return parse_pattern(data["cfa"])
    except ValueError as err:
        raise ArchError(f"{path}: cfa: {err}") from None


def _spec_from_json(path: Path) -> tuple[ArchSpec, None, str]:
    """A genome or result file (decoded with its space, checked against its spec), or a plain spec."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArchError(f"{path}: invalid JSON ({err})") from None
    pattern = _pattern_of(data, path)
    if isinstance(data, dict) and "genome" in data:
        try:
            return read_result(path)["spec"], None, pattern
        except ResultError as err:
            raise ArchError(str(err)) from None
    try:
        return (
            ArchSpec.from_dict(data.get("spec", data) if isinstance(data, dict) else data),
            None,
            pattern,
        )
    except SpecError as err:
        raise ArchError(f"{path}: {err}") from None


def read_weights(path: str | os.PathLike) -> tuple[dict, str | None]:
    """(state dict, trained CFA pattern or None if the file does not say) of any weights file."""
    loaded = read_checkpoint(path)
    recorded = isinstance(loaded, dict) and loaded.get("cfa") is not None
    return state_dict_of(loaded, path), _pattern_of(loaded, Path(path)) if recorded else None


def build_with_weights(spec: ArchSpec, state: dict | None, source: str = "weights") -> WaveletUNet:
    """``spec``'s model in eval mode, with ``state`` loaded strictly (random init when None)."""
    model = build_model(spec)
    if state is not None:
        load_state_dict_strict(model, state, source=source)
    return model.eval()


def load_model(
    arch: str, weights: str | None = None, device: str | torch.device = "cpu"
) -> WaveletUNet:
    """Build the model of ``arch`` with ``weights`` (any checkpoint format, strict) in eval mode."""
    return load_denoiser(arch, weights, device)[0]


def load_denoiser(
    arch: str, weights: str | None = None, device: str | torch.device = "cpu"
) -> tuple[WaveletUNet, str | None]:
    """(model in eval mode, the CFA pattern it was trained on): the pattern recorded in the
    weights file if it records one, else in ``arch``'s file, else RGGB; None for an sRGB network."""
    spec, state, pattern = _resolve(arch)
    if weights:
        state, recorded = read_weights(weights)
        pattern = (recorded or pattern) if spec.in_channels == 1 else None
    return build_with_weights(spec, state, source=str(weights or arch)).to(device), pattern


def save_model_file(
    path: str | os.PathLike, spec: ArchSpec, state_dict: dict, cfa: str = DEFAULT_PATTERN, **extra
) -> None:
    """One file with spec, weights and the trained CFA pattern ``cfa``, loadable with
    ``torch.load(weights_only=True)``."""
    with atomic_path(path) as tmp:
        torch.save(
            {
                "spec": spec.to_dict(),
                "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
                "cfa": parse_pattern(cfa) if spec.in_channels == 1 else None,
                **extra,
            },
            tmp,
        )
