"""Where tensors live and in which precision a model trains: one rule for every command and trial.

``--device auto`` (the default) takes the GPU when there is one: inside a Ray trial that asked
for GPUs, Ray sets ``CUDA_VISIBLE_DEVICES`` to the trial's GPU, so ``cuda`` is that GPU (a
fractional trial shares it with others); otherwise the first visible GPU; otherwise the CPU.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from .errors import UserError

__all__ = ["DeviceError", "DEVICE_HELP", "resolve_device", "Precision", "AMP_MODES", "to_device"]

DEVICE_HELP = "auto (a GPU if there is one, else the CPU), cpu, cuda or cuda:N"
AMP_MODES = ("off", "auto", "bf16", "fp16")


class DeviceError(UserError):
    """A device that this machine does not have, or a name that is not a device."""


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The device ``name`` means on this machine; DeviceError if it has no such device."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}; use {DEVICE_HELP}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(
                f"device {name}: this machine has no CUDA GPU (use --device cpu or auto)"
            )
        if device.index is not None and device.index >= count:
            raise DeviceError(
                f"device {name}: this machine has {count} CUDA GPU(s), cuda:0..cuda:{count - 1}"
            )
    elif device.type != "cpu":
        raise DeviceError(f"unsupported device {name!r}; use {DEVICE_HELP}")
    return device


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a CPU batch to ``device``: through pinned memory without blocking for a GPU."""
    if tensor.device == device:
        return tensor
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


@dataclass
class Precision:
    """Mixed precision of a training loop: the autocast dtype (None: float32) and, for float16,
    the gradient scaler. Only CUDA devices use mixed precision; the CPU trains in float32."""

    device_type: str
    dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None

    @classmethod
    def for_device(cls, device: torch.device, amp: str = "off") -> "Precision":
        """``amp``: off, auto (bf16 where the GPU supports it, else fp16), bf16 or fp16."""
        if amp not in AMP_MODES:
            raise DeviceError(f"amp must be one of {', '.join(AMP_MODES)}, got {amp!r}")
        if device.type != "cuda" or amp == "off":
            return cls(device.type)
        if amp == "auto":
            amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if amp == "bf16":
            return cls(device.type, torch.bfloat16)
        return cls(device.type, torch.float16, torch.amp.GradScaler("cuda"))

    def autocast(self):
        """The forward pass's autocast context (a no-op in float32)."""
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)
