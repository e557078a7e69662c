"""Named architectures: the paper's found network and its original network. Each is a builder
with an ``in_channels`` argument: 1 for raw mosaics, 3 for sRGB images (the method's sRGB track);
what a network takes is a property of its spec, never part of its name."""

from __future__ import annotations

from .spec import GROUP_NAMES, ArchSpec, GroupSpec

__all__ = ["mwrcanet_paper_spec", "mwresnet_spec", "ARCHITECTURES", "named_spec"]


def mwrcanet_paper_spec(in_channels: int = 1) -> ArchSpec:
    """The released NTIRE 2020 raw winner: 5 groups of 20 RCABs, widths 96/128/128, PReLU.
    ``in_channels`` 3: the same network for sRGB images (the method's sRGB track)."""
    return ArchSpec(
        widths=(96, 128, 128),
        groups=tuple(GroupSpec("rcab", 20) for _ in GROUP_NAMES),
        in_channels=in_channels,
        activation="prelu",
        name="mwrcanet_paper",
    )


def mwresnet_spec(
    widths: tuple[int, int, int] = (64, 128, 256), blocks_per_group: int = 4, in_channels: int = 1
) -> ArchSpec:
    """The paper's "original network": residual blocks with ReLU, 4 per group, two groups in the
    middle.

    The paper does not publish its widths. We use MWCNN's doubling 64/128/256 (Liu et al. 2018),
    the widths of the MWCNN the paper starts from. That gives 16.9 M parameters and 75 GFLOP at
    256 x 256, about a fifth of mwrcanet_paper's FLOPs, in keeping with the paper's account of
    the search as growing the original network. Both are arguments so users can change them.
    """
    groups = tuple(
        GroupSpec("residual", blocks_per_group, 2 if name == "middle" else 1)
        for name in GROUP_NAMES
    )
    return ArchSpec(
        widths=tuple(widths),
        groups=groups,
        in_channels=in_channels,
        activation="relu",
        name="mwresnet",
    )


# The registry: name -> builder taking ``in_channels``.
ARCHITECTURES = {
    "mwrcanet_paper": mwrcanet_paper_spec,
    "mwresnet": mwresnet_spec,
}


def named_spec(name: str, in_channels: int = 1) -> ArchSpec:
    """The spec of a named architecture for ``in_channels`` (1: raw, 3: sRGB); KeyError lists
    the known names."""
    try:
        builder = ARCHITECTURES[name]
    except KeyError:
        raise KeyError(
            f"unknown architecture {name!r} (known: {', '.join(ARCHITECTURES)})"
        ) from None
    return builder(in_channels=in_channels)
