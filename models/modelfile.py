"""The toolkit's model file: one ``.pt`` holding a network's spec, weights and where they came from.

On disk it is a plain dict of tensors and JSON values, loadable with
``torch.load(weights_only=True)`` by anyone::

    {"spec": {...}, "state_dict": {...}, "cfa": "RGGB" or None,
     "provenance": {"source": "train", "step": 20000}, "metrics": {"val_psnr": 51.2}}

Files written before provenance and metrics were records (``step``, ``val_psnr`` and ``key``
beside ``spec``; no ``cfa`` in the oldest) load too. ``cfa`` is the CFA pattern the network was
trained on; None for an sRGB network, or for a raw one whose file does not say (the reader
decides what that means: ``nas.arch`` reads it as the synthetic data's RGGB).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from .atomic import atomic_path
from .released import WeightsError, read_checkpoint, state_dict_of
from .spec import ArchSpec

__all__ = ["Provenance", "ModelFile", "is_model_file"]

# Fields of the files written before provenance and metrics were records.
_LEGACY_PROVENANCE = ("step",)
_LEGACY_METRICS = ("val_psnr",)


@dataclass(frozen=True)
class Provenance:
    """What made a model file: ``source`` (e.g. ``train``, ``export``; empty if unknown) and the
    training ``step`` of its weights (None if unknown)."""

    source: str = ""
    step: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.source, str):
            raise WeightsError(f"provenance.source: expected a string, got {self.source!r}")
        if self.step is not None and (
            not isinstance(self.step, int) or isinstance(self.step, bool) or self.step < 0
        ):
            raise WeightsError(f"provenance.step: expected an integer >= 0, got {self.step!r}")

    def to_dict(self) -> dict:
        return {"source": self.source, "step": self.step}

    @classmethod
    def from_dict(cls, data: object) -> "Provenance":
        if not isinstance(data, Mapping) or set(data) - {"source", "step"}:
            raise WeightsError(f"provenance: expected {{source, step}}, got {data!r}")
        return cls(**data)


@dataclass(frozen=True, eq=False)
class ModelFile:
    """A network's spec, its weights (``state_dict``, CPU tensors), the trained CFA pattern
    (``cfa``; None for sRGB or not recorded), what made it and its metrics (name -> number)."""

    spec: ArchSpec
    state_dict: Mapping[str, torch.Tensor]
    cfa: str | None = None
    provenance: Provenance = field(default_factory=Provenance)
    metrics: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.spec, ArchSpec):
            raise TypeError(f"spec: expected an ArchSpec, got {type(self.spec).__name__}")
        state = {
            k: v.detach().cpu() for k, v in state_dict_of(self.state_dict, "state_dict").items()
        }
        object.__setattr__(self, "state_dict", state)
        if self.cfa is not None and not isinstance(self.cfa, str):
            raise WeightsError(f"cfa: expected a pattern name or None, got {self.cfa!r}")
        if self.spec.in_channels != 1 and self.cfa is not None:
            raise WeightsError(f"cfa {self.cfa!r}: an sRGB network has no CFA pattern")
        if not isinstance(self.provenance, Provenance):
            raise TypeError(f"provenance: expected a Provenance, got {self.provenance!r}")
        object.__setattr__(self, "metrics", _checked_metrics(self.metrics))

    @property
    def key(self) -> str:
        return self.spec.key()

    def to_payload(self) -> dict:
        """What :meth:`save` writes: a dict of tensors and JSON values."""
        return {
            "spec": self.spec.to_dict(),
            "state_dict": dict(self.state_dict),
            "cfa": self.cfa,
            "provenance": self.provenance.to_dict(),
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_payload(cls, payload: object, path: str | os.PathLike = "model file") -> "ModelFile":
        """The record of a loaded model file, this layout or the older one. WeightsError if it is
        not a model file or its weights are malformed; SpecError if its spec is."""
        if not is_model_file(payload):
            raise WeightsError(f"{path}: not a model file of this toolkit (no 'spec')")
        legacy = {k: payload[k] for k in _LEGACY_PROVENANCE if k in payload}
        provenance = Provenance.from_dict(payload.get("provenance") or legacy)
        metrics = payload.get("metrics")
        if metrics is None:
            metrics = {k: payload[k] for k in _LEGACY_METRICS if payload.get(k) is not None}
        spec = ArchSpec.from_dict(payload["spec"])
        return cls(
            spec=spec,
            state_dict=state_dict_of(payload, path),
            cfa=payload.get("cfa") if spec.in_channels == 1 else None,
            provenance=provenance,
            metrics=metrics,
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the file atomically: the old file or the whole new one, never a torn one."""
        with atomic_path(path) as tmp:
            torch.save(self.to_payload(), tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ModelFile":
        """Read a model file safely (``torch.load(weights_only=True)``); WeightsError if it is
        missing, unreadable or not a model file."""
        return cls.from_payload(read_checkpoint(path), path)


def is_model_file(payload: object) -> bool:
    """Whether a loaded checkpoint is one of this toolkit's model files (it carries a spec)."""
    return isinstance(payload, Mapping) and "spec" in payload


def _checked_metrics(metrics: object) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise WeightsError(f"metrics: expected a mapping of names to numbers, got {metrics!r}")
    for name, value in metrics.items():
        if (
            not isinstance(name, str)
            or not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise WeightsError(f"metrics: {name!r}: expected a finite number, got {value!r}")
    return {name: float(value) for name, value in metrics.items()}
