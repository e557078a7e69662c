"""``train``: one network trained in full, from Python.

from nas.train import train
summary = train("runs/NAME/export-KEY/model.json", data="synthetic", steps=20000)
summary.best                 # the model file with the best validation PSNR
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pydantic import ValidationError

from models import ArchSpec, read_state_dict

from ..arch import resolve_arch
from ..data import default_source, source_channels, training_sampler, validation_set
from .config import TrainConfig, TrainError, describe_error
from .trainer import TrainSummary, train_network

__all__ = ["VAL_BLOCKS", "VAL_BLOCK_SIZE", "TrainSummary", "default_out", "train"]

VAL_BLOCKS = 64
VAL_BLOCK_SIZE = 128


def default_out(spec: ArchSpec) -> Path:
    """Where a training without ``out`` goes: ``runs/train-<key>-<date>-<time>``."""
    return Path("runs") / f"train-{spec.key()}-{dt.datetime.now():%Y%m%d-%H%M%S}"


def train(
    arch: str | os.PathLike,
    *,
    data: str | None = None,
    val_data: str | None = None,
    steps: int | None = None,
    out: str | os.PathLike | None = None,
    weights: str | os.PathLike | None = None,
    resume: bool = False,
    config: TrainConfig | None = None,
    val_blocks: int = VAL_BLOCKS,
    val_block_size: int = VAL_BLOCK_SIZE,
    progress: bool = True,
    **settings,
) -> TrainSummary:
    """Train ``arch`` in full into ``out`` and return its :class:`TrainSummary` (best PSNR,
    steps, and the paths of ``best.pt``, ``final.pt`` and ``metrics.csv``).

    ``arch``: a named architecture (built for ``data``'s channels), a spec/genome/``best.json``/
    ``model.json`` file, or a model file. ``data``: the training source (``synthetic``,
    ``synthetic:FILE.dng``, ``synthetic-srgb``, ``sidd-medium:DIR``, ``pairs:DIR``, ...; default:
    the synthetic source for the network's channels); ``val_data``: the validation source
    (default: ``data``'s), ``val_blocks`` evenly spaced blocks of it, ``val_block_size`` a side
    for the synthetic sets. ``weights``: initial weights (fine-tuning). ``out`` (default:
    ``runs/train-<key>-<time>``); with ``resume``, continue the run in ``out``.

    The training config is ``config`` (a :class:`TrainConfig`) with ``steps`` and the other
    ``settings`` (its fields: ``batch_size``, ``patch_size``, ``lr``, ``warmup_steps``,
    ``val_every``, ``seed``, ``device``, ``amp``, ``channels_last``) applied over it; without
    ``config``, ``steps`` is required and the other fields take their defaults.

    Raises TrainError for an invalid config or an ``out`` that already holds a run (without
    ``resume``), ArchError, DataError or WeightsError for unusable inputs.
    """
    config = _config(config, steps, settings)
    if resume and out is None:
        raise TrainError("resume needs out, the folder of the run to continue")
    spec = resolve_arch(os.fspath(arch), source_channels(data) if data else None)[0]
    data = data or default_source(spec.in_channels)
    sampler = training_sampler(data, spec.in_channels)
    sampler.check_patch(config.patch_size)
    val = validation_set(val_data or data, val_blocks, val_block_size, spec.in_channels)
    return train_network(
        spec,
        sampler,
        val,
        Path(out) if out is not None else default_out(spec),
        config,
        resume=resume,
        init_state=read_state_dict(weights) if weights else None,
        progress=progress,
    )


def _config(config: TrainConfig | None, steps: int | None, settings: dict) -> TrainConfig:
    changes = {**({} if steps is None else {"steps": steps}), **settings}
    if config is not None:
        return config.replace(**changes) if changes else config
    if steps is None:
        raise TrainError("steps: required (or pass a TrainConfig as config)")
    try:
        return TrainConfig(**changes)
    except ValidationError as err:
        raise TrainError(describe_error(err)) from None
