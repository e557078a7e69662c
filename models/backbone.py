"""The one wavelet U-Net backbone (MWCNN-style, three Haar levels), built from an ArchSpec."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ACTIVATIONS, ResidualGroup, conv3x3
from .spec import ArchSpec, GroupSpec
from .wavelet import DWT, IWT

__all__ = ["WaveletUNet", "build_model", "SIZE_MULTIPLE"]

# Three Haar levels halve the size three times: inputs must be multiples of 8.
SIZE_MULTIPLE = 8


class WaveletUNet(nn.Module):
    """Multi-level wavelet U-Net. Module names follow the released MWRCANet:

    ``head`` DWT -> ``down1`` (conv, act, enc1) -> ``down2`` (DWT, conv, act, enc2)
    -> ``down3`` (DWT, conv, act) -> ``middle`` -> ``up1`` (conv, act, IWT) + down2 output
    -> ``up2`` (dec2, conv, act, IWT) + down1 output -> ``up3`` (dec1, conv) + head output
    -> ``tail`` IWT.
    """

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        self.spec = spec
        act = ACTIVATIONS[spec.activation]
        c = 4 * spec.in_channels
        w1, w2, w3 = spec.widths
        self.head = DWT()
        self.down1 = nn.Sequential(conv3x3(c, w1), act(), _groups(spec.group("enc1"), w1, act))
        self.down2 = nn.Sequential(
            DWT(), conv3x3(4 * w1, w2), act(), _groups(spec.group("enc2"), w2, act)
        )
        self.down3 = nn.Sequential(DWT(), conv3x3(4 * w2, w3), act())
        self.middle = _groups(spec.group("middle"), w3, act)
        self.up1 = nn.Sequential(conv3x3(w3, 4 * w2), act(), IWT())
        self.up2 = nn.Sequential(
            _groups(spec.group("dec2"), w2, act), conv3x3(w2, 4 * w1), act(), IWT()
        )
        self.up3 = nn.Sequential(_groups(spec.group("dec1"), w1, act), conv3x3(w1, c))
        self.tail = IWT()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
            raise ValueError(
                f"input height and width must be multiples of {SIZE_MULTIPLE}, got {h} x {w}"
            )
        x0 = self.head(x)
        x1 = self.down1(x0)
        x2 = self.down2(x1)
        x = self.up1(self.middle(self.down3(x2))) + x2
        x = self.up2(x) + x1
        return self.tail(self.up3(x) + x0)


def _groups(group: GroupSpec, width: int, act) -> nn.Module:
    if group.num_blocks == 0:
        return nn.Identity()
    made = [
        ResidualGroup(group.block, group.num_blocks, width, act) for _ in range(group.num_groups)
    ]
    return made[0] if len(made) == 1 else nn.Sequential(*made)


def build_model(spec: ArchSpec, device: torch.device | str | None = None) -> WaveletUNet:
    """Build the backbone for ``spec`` (on ``device``, e.g. ``"meta"`` to size it without
    memory)."""
    with torch.device(device or "cpu"):
        return WaveletUNet(spec)
