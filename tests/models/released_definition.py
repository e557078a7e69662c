"""An independent transcription of the released MWRCANet definition, for tests only.

Written from the reference facts (../shared/reference/README.md) in the released style: grouped
conv / transposed conv Haar transforms with the filter bank as a frozen parameter, and the
forward spelled out by hand. Widths and block counts are arguments so tests can shrink it.
"""

import torch
import torch.nn.functional as F
from torch import nn


def _bank():
    f = torch.tensor(
        [
            [[0.5, 0.5], [0.5, 0.5]],
            [[-0.5, -0.5], [0.5, 0.5]],
            [[-0.5, 0.5], [-0.5, 0.5]],
            [[0.5, -0.5], [-0.5, 0.5]],
        ]
    )
    return nn.Parameter(f.flip(-1).flip(-2).unsqueeze(1), requires_grad=False)


class DWT(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = _bank()

    def forward(self, x):
        c = x.shape[1]
        return F.conv2d(x, self.weight.repeat(c, 1, 1, 1), stride=2, groups=c)


class IWT(DWT):
    def forward(self, x):
        c = x.shape[1] // 4
        return F.conv_transpose2d(x, self.weight.repeat(c, 1, 1, 1), stride=2, groups=c)


class CALayer(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(ch, ch // 16, 1), nn.ReLU(True), nn.Conv2d(ch // 16, ch, 1), nn.Sigmoid()
        )

    def forward(self, x):
        return x * self.conv_du(self.avg_pool(x))


class RCAB(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = nn.PReLU()
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.cuca = CALayer(ch)

    def forward(self, x):
        return self.cuca(self.conv2(self.act(self.conv1(x)))) + x


class RG(nn.Module):
    def __init__(self, ch, n):
        super().__init__()
        self.body = nn.Sequential(*[RCAB(ch) for _ in range(n)])
        self.tail = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.tail(self.body(x)) + x


class ReleasedMWRCANet(nn.Module):
    def __init__(self, c1=96, c2=128, c3=128, n=20):
        super().__init__()

        def conv(i, o):
            return nn.Conv2d(i, o, 3, padding=1)

        self.head = DWT()
        self.down1 = nn.Sequential(conv(4, c1), nn.PReLU(), RG(c1, n))
        self.down2 = nn.Sequential(DWT(), conv(4 * c1, c2), nn.PReLU(), RG(c2, n))
        self.down3 = nn.Sequential(DWT(), conv(4 * c2, c3), nn.PReLU())
        self.middle = RG(c3, n)
        self.up1 = nn.Sequential(conv(c3, 4 * c2), nn.PReLU(), IWT())
        self.up2 = nn.Sequential(RG(c2, n), conv(c2, 4 * c1), nn.PReLU(), IWT())
        self.up3 = nn.Sequential(RG(c1, n), conv(c1, 4))
        self.tail = IWT()

    def forward(self, x):
        x0 = self.head(x)
        x1 = self.down1(x0)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        x_ = self.up1(self.middle(x3)) + x2
        x_ = self.up2(x_) + x1
        return self.tail(self.up3(x_) + x0)
