"""Cost of a spec (parameters, FLOPs) measured on the meta device: no memory, no real compute."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from .backbone import build_model
from .spec import ArchSpec

__all__ = ["Cost", "spec_cost"]


@dataclass(frozen=True)
class Cost:
    params: int          # trainable parameters
    state_values: int    # every value in the state dict (the fixed Haar filters too)
    gflops: float        # 2 x multiply-adds, as torch.utils.flop_counter counts, for one input

    def to_dict(self) -> dict:
        return {"params": self.params, "state_values": self.state_values, "gflops": self.gflops}


def spec_cost(spec: ArchSpec, height: int = 256, width: int = 256) -> Cost:
    """Parameters and GFLOPs of ``spec`` for one ``1 x C x height x width`` input."""
    model = build_model(spec, device="meta")
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    state_values = sum(t.numel() for t in model.state_dict().values())
    x = torch.empty(1, spec.in_channels, height, width, device="meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return Cost(params=params, state_values=state_values, gflops=counter.get_total_flops() / 1e9)
