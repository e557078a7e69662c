"""Building blocks of the wavelet U-Net, and the one registry of block types.

Module attribute names follow the released MWRCANet (``conv1``, ``act``, ``conv2``, ``cuca``,
``body``, ``tail``) so its state dict loads without renaming.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "BLOCKS",
    "conv3x3",
    "ResidualBlock",
    "DenseBlock",
    "RCAB",
    "ChannelAttention",
    "ResidualGroup",
]

ActFactory = Callable[[], nn.Module]

# PReLU as released: one slope shared by all channels.
ACTIVATIONS: dict[str, ActFactory] = {
    "prelu": lambda: nn.PReLU(),
    "relu": lambda: nn.ReLU(inplace=True),
    "lrelu": lambda: nn.LeakyReLU(0.2, inplace=True),
}


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=True)


class ResidualBlock(nn.Module):
    """conv3x3 -> activation -> conv3x3, plus the input (EDSR style, no normalisation)."""

    def __init__(self, width: int, act: ActFactory) -> None:
        super().__init__()
        self.conv1 = conv3x3(width, width)
        self.act = act()
        self.conv2 = conv3x3(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gate of RCAN: avg-pool -> 1x1 (C/r) -> ReLU -> 1x1 (C) -> sigmoid."""

    def __init__(self, width: int, reduction: int = 16) -> None:
        super().__init__()
        squeezed = max(1, width // reduction)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(width, squeezed, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(squeezed, width, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv_du(self.avg_pool(x))


class RCAB(nn.Module):
    """Residual channel attention block exactly as released: conv -> act -> conv -> CA, plus
    input."""

    def __init__(self, width: int, act: ActFactory, reduction: int = 16) -> None:
        super().__init__()
        self.conv1 = conv3x3(width, width)
        self.act = act()
        self.conv2 = conv3x3(width, width)
        self.cuca = ChannelAttention(width, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cuca(self.conv2(self.act(self.conv1(x))))


class DenseBlock(nn.Module):
    """Residual dense block (RDN, Zhang et al. 2018): ``num_layers`` 3x3 convs, each seeing the
    concatenation of the input and all earlier outputs, a 1x1 fusion back to ``width``, a local
    skip.

    Growth ``width // 4`` (at least 4) with 4 layers costs about as much as an RCAB at the same
    width (models/cost.py counts it), so the search compares block types at a similar price
    rather than buying PSNR with FLOPs.
    """

    def __init__(
        self, width: int, act: ActFactory, num_layers: int = 4, growth: int | None = None
    ) -> None:
        super().__init__()
        growth = growth or max(4, width // 4)
        self.layers = nn.ModuleList(
            nn.Sequential(conv3x3(width + i * growth, growth), act()) for i in range(num_layers)
        )
        self.fuse = nn.Conv2d(width + num_layers * growth, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return x + self.fuse(torch.cat(features, 1))


# The one table of block types: name -> constructor(width, activation factory).
BLOCKS: dict[str, Callable[[int, ActFactory], nn.Module]] = {
    "residual": ResidualBlock,
    "dense": DenseBlock,
    "rcab": RCAB,
}


class ResidualGroup(nn.Module):
    """``num_blocks`` blocks of one type, a 3x3 conv, and a group-level skip (RCAN's RG)."""

    def __init__(self, block: str, num_blocks: int, width: int, act: ActFactory) -> None:
        super().__init__()
        self.body = nn.Sequential(*(BLOCKS[block](width, act) for _ in range(num_blocks)))
        self.tail = conv3x3(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.tail(self.body(x))
