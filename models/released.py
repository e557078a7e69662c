"""Loading the released MWRCANet checkpoint (``dn_mwrcanet_raw_c1.pth``) into ``mwrcanet_paper``."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping

import torch

from .backbone import WaveletUNet, build_model
from .errors import UserError, first_line
from .zoo import mwrcanet_paper_spec

__all__ = [
    "WeightsError",
    "read_checkpoint",
    "state_dict_of",
    "read_state_dict",
    "load_state_dict_strict",
    "load_released",
]

_PREFIX = "module."  # the release was saved from nn.DataParallel


class WeightsError(UserError):
    """A weights file is missing, unreadable, or does not match the architecture."""


def read_checkpoint(path: str | os.PathLike) -> object:
    """Whatever a weights file holds, loaded safely (``weights_only=True``); WeightsError if the
    file is missing or is not a readable checkpoint."""
    if not os.path.isfile(path):
        raise WeightsError(f"weights file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err):  # torch's long, ANSI-coloured explanation
            raise WeightsError(
                f"cannot read weights from {path}: it holds Python objects beyond tensors, which "
                "are refused (only weights_only files load)"
            ) from None
        raise WeightsError(f"cannot read weights from {path}: {first_line(err)}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise WeightsError(f"cannot read weights from {path}: {first_line(err)}") from None


def state_dict_of(loaded: object, path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict inside a loaded checkpoint: a bare state dict, a release-style
    ``{"state_dict": ...}`` dict, or one of this toolkit's ``{"spec", "state_dict"}`` files.
    A ``module.`` prefix on every key (DataParallel) is removed."""
    state = loaded.get("state_dict", loaded) if isinstance(loaded, Mapping) else None
    if (
        not isinstance(state, Mapping)
        or not all(isinstance(v, torch.Tensor) for v in state.values())
        or not all(isinstance(k, str) for k in state)
    ):
        raise WeightsError(
            f"{path} holds no state dict (expected a dict of tensors, or a dict with 'state_dict')"
        )
    if state and all(k.startswith(_PREFIX) for k in state):
        state = {k[len(_PREFIX) :]: v for k, v in state.items()}
    return dict(state)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict of a weights file in any supported format (see :func:`state_dict_of`)."""
    return state_dict_of(read_checkpoint(path), path)


def load_state_dict_strict(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str = "weights"
) -> None:
    """Load ``state`` into ``model``; any missing, unexpected or mis-shaped key raises
    WeightsError."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(
        f"{k} ({tuple(state[k].shape)} vs {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    )
    if missing or unexpected or misshaped:
        parts = [
            f"{label} {len(keys)}: {_preview(keys)}"
            for label, keys in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("wrong shape", misshaped),
            )
            if keys
        ]
        raise WeightsError(f"{source} does not match the architecture; " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def load_released(path: str | os.PathLike, device: str | torch.device = "cpu") -> WaveletUNet:
    """Return ``mwrcanet_paper`` in eval mode with the released weights at ``path``."""
    model = build_model(mwrcanet_paper_spec())
    load_state_dict_strict(model, read_state_dict(path), source=str(path))
    return model.to(device).eval()


def _preview(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... (+{len(keys) - limit} more)" if len(keys) > limit else "")
