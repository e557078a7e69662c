"""Resolving an ``--arch`` argument into a spec (and weights), and this toolkit's model file.

``--arch`` takes a named architecture (``mwrcanet_paper``, ``mwresnet``), a spec JSON file, a
JSON file with a ``spec`` field (a run's ``best.json``, an exported ``model.json``, a genome file
such as ``search_spaces/mwrcanet_paper.json``), or a model file (``.pt``) written by this toolkit.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from models import (ArchSpec, SpecError, WaveletUNet, build_model, load_state_dict_strict, named_spec,
                    read_checkpoint, read_state_dict, state_dict_of)
from models.zoo import ARCHITECTURES

from .atomic import atomic_path
from .search.best import ResultError, read_result

__all__ = ["ArchError", "resolve_arch", "build_with_weights", "load_model", "save_model_file"]


class ArchError(ValueError):
    """An ``--arch`` argument names nothing usable."""


def resolve_arch(arg: str) -> tuple[ArchSpec, dict | None]:
    """(spec, state dict or None) for an ``--arch`` argument."""
    if arg in ARCHITECTURES:
        return named_spec(arg), None
    path = Path(arg)
    if not path.is_file():
        raise ArchError(f"--arch {arg!r}: neither a named architecture ({', '.join(ARCHITECTURES)}) nor a file")
    if path.suffix.lower() == ".json":
        return _spec_from_json(path), None
    loaded = read_checkpoint(path)
    if not isinstance(loaded, dict) or "spec" not in loaded:
        raise ArchError(f"{path}: not a model file of this toolkit (no 'spec'); pass a spec with --arch and "
                        "the file with --weights")
    try:
        return ArchSpec.from_dict(loaded["spec"]), state_dict_of(loaded, path)
    except SpecError as err:
        raise ArchError(f"{path}: {err}") from None


def _spec_from_json(path: Path) -> ArchSpec:
    """A genome or result file (decoded with its space, checked against its spec), or a plain spec."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArchError(f"{path}: invalid JSON ({err})") from None
    if isinstance(data, dict) and "genome" in data:
        try:
            return read_result(path)["spec"]
        except ResultError as err:
            raise ArchError(str(err)) from None
    try:
        return ArchSpec.from_dict(data.get("spec", data) if isinstance(data, dict) else data)
    except SpecError as err:
        raise ArchError(f"{path}: {err}") from None


def build_with_weights(spec: ArchSpec, state: dict | None, source: str = "weights") -> WaveletUNet:
    """``spec``'s model in eval mode, with ``state`` loaded strictly (random init when None)."""
    model = build_model(spec)
    if state is not None:
        load_state_dict_strict(model, state, source=source)
    return model.eval()


def load_model(arch: str, weights: str | None = None, device: str | torch.device = "cpu") -> WaveletUNet:
    """Build the model of ``arch`` with ``weights`` (any checkpoint format, strict) in eval mode."""
    spec, state = resolve_arch(arch)
    if weights:
        state = read_state_dict(weights)
    return build_with_weights(spec, state, source=str(weights or arch)).to(device)


def save_model_file(path: str | os.PathLike, spec: ArchSpec, state_dict: dict, **extra) -> None:
    """One file with spec and weights, loadable with ``torch.load(weights_only=True)``."""
    with atomic_path(path) as tmp:
        torch.save({"spec": spec.to_dict(), "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
                    **extra}, tmp)
