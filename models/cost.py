"""Cost of a spec (parameters, FLOPs) measured on the meta device: no memory, no real compute."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from .backbone import build_model
from .spec import GROUP_LEVEL, GROUP_NAMES, ArchSpec, GroupSpec

__all__ = ["Cost", "spec_cost", "composed_cost"]


@dataclass(frozen=True)
class Cost:
    params: int  # trainable parameters
    state_values: int  # every value in the state dict (the fixed Haar filters too)
    gflops: float  # 2 x multiply-adds, as torch.utils.flop_counter counts, for one input


def _counts(spec: ArchSpec, height: int, width: int) -> tuple[int, int, int]:
    """(trainable params, state-dict values, FLOPs) of one forward pass, on the meta device."""
    model = build_model(spec, device="meta")
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    state_values = sum(t.numel() for t in model.state_dict().values())
    x = torch.empty(1, spec.in_channels, height, width, device="meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return params, state_values, counter.get_total_flops()


def _as_cost(counts) -> Cost:
    return Cost(params=counts[0], state_values=counts[1], gflops=counts[2] / 1e9)


def spec_cost(spec: ArchSpec, height: int = 256, width: int = 256) -> Cost:
    """Parameters and GFLOPs of ``spec`` for one ``1 x C x height x width`` input."""
    return _as_cost(_counts(spec, height, width))


@lru_cache(maxsize=None)
def _cached_counts(spec: ArchSpec, height: int, width: int) -> tuple[int, int, int]:
    return _counts(spec, height, width)


def _with_group(
    spec: ArchSpec, slot: int, group: GroupSpec, other_width: int | None = None
) -> ArchSpec:
    """``spec`` with only ``slot`` holding ``group``; with ``other_width``, the widths of the other
    levels set to it (a slot's own cost does not depend on them, so pieces are shared)."""
    groups = tuple(group if i == slot else GroupSpec(num_blocks=0) for i in range(len(spec.groups)))
    widths = spec.widths
    if other_width is not None:
        level = GROUP_LEVEL[GROUP_NAMES[slot]]
        widths = tuple(w if i == level else other_width for i, w in enumerate(widths))
    return replace(spec, widths=widths, groups=groups, name="")


@lru_cache(maxsize=1 << 16)
def composed_cost(spec: ArchSpec, height: int = 256, width: int = 256) -> Cost:
    """Exactly :func:`spec_cost`, composed from cached measurements of small pieces: the skeleton
    (every group empty) and each slot holding one and two blocks of a type at its level's width
    (the other levels at a fixed width: a slot's cost does not depend on them). Costs add over
    modules, so a deep spec costs a few small measurements the first time and none after; the
    search's repair and constraint checks call this."""
    total = list(_cached_counts(_with_group(spec, -1, GroupSpec()), height, width))
    for slot, group in enumerate(spec.groups):
        if group.num_blocks == 0:
            continue

        def piece(blocks):
            return _cached_counts(
                _with_group(spec, slot, GroupSpec(group.block, blocks), _PIECE_WIDTH), height, width
            )

        skeleton, one, two = piece(0), piece(1), piece(2)
        for k in range(3):
            # first = one block + group tail
            per_block, first = two[k] - one[k], one[k] - skeleton[k]
            total[k] += group.num_groups * (first + (group.num_blocks - 1) * per_block)
    return _as_cost(total)


_PIECE_WIDTH = 4
