"""The training config: what one training of one network is given, validated by its fields.

:class:`TrainSettings` holds the fields every training shares (length, batches, learning-rate
schedule, precision, memory layout) with their constraints, written once as the annotated types
below. :class:`TrainConfig` is a full training (``nas.train``, every stage of ``nas.distill``) with
its defaults; the search's ``Budget`` (nas/search/space.py) extends the same settings with the
proxy's own fields and defaults. The command lines read their defaults and help from these fields.
"""

from __future__ import annotations

from typing import Annotated, Callable, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..device import AMP_MODES, DEVICE_HELP

__all__ = ["GPU_MODES", "TrainError", "TrainSettings", "TrainConfig", "describe_error"]


class TrainError(ValueError):
    """A training cannot be configured, started or resumed."""


Steps = Annotated[int, Field(ge=1, description="training steps")]
BatchSize = Annotated[int, Field(ge=1, description="patches per step")]
PatchSize = Annotated[
    int, Field(ge=8, multiple_of=8, description="training patch side, a multiple of 8")
]
LearningRate = Annotated[
    float,
    Field(gt=0, allow_inf_nan=False, description="peak learning rate (cosine decay to 1%)"),
]
WarmupSteps = Annotated[
    int,
    Field(
        ge=0,
        description="steps of linear learning-rate warm-up before the cosine; deep, wide "
        "networks can diverge without it at a high learning rate (the search's 2e-3)",
    ),
]
Amp = Annotated[
    Literal[AMP_MODES],
    Field(
        description="mixed precision on GPU (auto: bf16 where supported, else fp16 with a "
        "gradient scaler); the CPU trains in float32"
    ),
]
ChannelsLast = Annotated[bool, Field(description="train in the channels_last memory format")]
GPU_MODES = ("auto", "on", "off")
CudaGraphs = Annotated[
    Literal[GPU_MODES],
    Field(
        description="capture the training step in a CUDA graph and replay it (auto: on a CUDA "
        "device without fp16's gradient scaler, else eager with the reason logged; on: an "
        "error where it cannot)"
    ),
]
DeviceBatches = Annotated[
    Literal[GPU_MODES],
    Field(
        description="make the training batches on the training's device (auto: on a CUDA "
        "device, for the sources that can, the synthetic raw one; on: an error where the source "
        "cannot; off: on the CPU, then copied)"
    ),
]
SyncEvery = Annotated[
    int,
    Field(
        ge=1,
        description="read the training losses back from the device every K steps (and at every "
        "validation); a NaN or infinite loss fails the training at the next read",
    ),
]


class TrainSettings(BaseModel):
    """The fields of every training, with their constraints; subclasses give the defaults of
    the first seven, the GPU throughput fields have one default for every training."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: Steps
    batch_size: BatchSize
    patch_size: PatchSize
    lr: LearningRate
    warmup_steps: WarmupSteps
    amp: Amp
    channels_last: ChannelsLast
    cuda_graphs: CudaGraphs = "auto"
    device_batches: DeviceBatches = "auto"
    sync_every: SyncEvery = 100

    @model_validator(mode="after")
    def _warmup_below_steps(self):
        if self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps: must be below steps ({self.steps})")
        return self

    def replace(self, **changes) -> Self:
        """A copy with ``changes``, validated again; TrainError (one line) if it is invalid."""
        try:
            return type(self).model_validate({**self.model_dump(), **changes})
        except ValidationError as err:
            raise TrainError(describe_error(err)) from None


class TrainConfig(TrainSettings):
    """One full training: the shared settings with full training's defaults, plus validation
    cadence, seed and device."""

    batch_size: BatchSize = 16
    patch_size: PatchSize = 64
    lr: LearningRate = 2e-4
    warmup_steps: WarmupSteps = 0
    amp: Amp = "auto"
    channels_last: ChannelsLast = False
    val_every: int = Field(default=500, ge=1, description="validate (and checkpoint) every K steps")
    seed: int = Field(default=0, ge=0, description="sets the initial weights and the batches")
    device: str = Field(default="auto", description=DEVICE_HELP)


def describe_error(err: ValidationError, name: Callable[[str], str] = str) -> str:
    """One line for pydantic's first error: ``FIELD VALUE: message`` (``name`` spells the field,
    e.g. as a command-line option)."""
    first = err.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:
        return message
    field = ".".join(str(part) for part in first["loc"])
    return f"{name(field)} {first['input']!r}: {message}"
