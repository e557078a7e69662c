"""Architecture specs: plain data that describes one wavelet U-Net, round-trips to JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from .errors import UserError

__all__ = ["GROUP_NAMES", "GroupSpec", "ArchSpec", "SpecError"]

# The five residual-group slots of the backbone, in forward order.
GROUP_NAMES = ("enc1", "enc2", "middle", "dec2", "dec1")
# The wavelet level (0-based index into ArchSpec.widths) that each group runs at.
GROUP_LEVEL = {"enc1": 0, "enc2": 1, "middle": 2, "dec2": 1, "dec1": 0}
# One letter per block type in :meth:`ArchSpec.key` (other types are spelled out).
KEY_LETTERS = {"residual": "r", "dense": "d", "rcab": "c"}
# The rounding of scaled widths (:meth:`ArchSpec.scaled`): multiples of this, at least this.
WIDTH_STEP = 4


class SpecError(UserError):
    """An architecture spec is malformed; the message names the field."""


@dataclass(frozen=True)
class GroupSpec:
    """One group slot: ``num_groups`` residual groups of ``num_blocks`` blocks of type ``block``.

    ``num_blocks == 0`` skips the slot entirely (no blocks, no group conv, no skip).
    """

    block: str = "rcab"
    num_blocks: int = 20
    num_groups: int = 1


@dataclass(frozen=True)
class ArchSpec:
    """A wavelet U-Net: widths of the 3 levels and one :class:`GroupSpec` per slot in
    GROUP_NAMES."""

    widths: tuple[int, int, int] = (96, 128, 128)
    groups: tuple[GroupSpec, ...] = field(
        default_factory=lambda: tuple(GroupSpec() for _ in GROUP_NAMES)
    )
    in_channels: int = 1
    activation: str = "prelu"
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        object.__setattr__(self, "groups", tuple(self.groups))
        self.validate()

    def group(self, name: str) -> GroupSpec:
        return self.groups[GROUP_NAMES.index(name)]

    def key(self) -> str:
        """The canonical, filename-safe key of the network, e.g.
        ``c20-c20-c20-c20-c20_w96-128-128``: one entry per slot (letter of the block type, block
        count, ``xN`` for N > 1 groups; ``0`` for an empty slot), then the widths. Specs that
        build the same network share it; journals and databases store it, so its spelling never
        changes."""
        groups = "-".join(
            f"{KEY_LETTERS.get(g.block, g.block)}{g.num_blocks}"
            + (f"x{g.num_groups}" if g.num_groups > 1 else "")
            if g.num_blocks
            else "0"
            for g in self.groups
        )
        return f"{groups}_w{'-'.join(map(str, self.widths))}"

    def scaled(self, multiplier: float) -> "ArchSpec":
        """This spec with every width times ``multiplier``, rounded to a multiple of 4 (at least 4):
        the narrower network the search trains as a proxy of this one."""
        step = WIDTH_STEP
        widths = tuple(max(step, int(round(w * multiplier / step)) * step) for w in self.widths)
        return replace(self, widths=widths)

    def validate(self) -> None:
        from .blocks import ACTIVATIONS, BLOCKS  # the registries own the allowed names

        if len(self.widths) != 3 or not all(_positive_int(w) for w in self.widths):
            raise SpecError(f"widths: expected 3 positive integers, got {list(self.widths)}")
        if len(self.groups) != len(GROUP_NAMES):
            raise SpecError(
                f"groups: expected {len(GROUP_NAMES)} ({', '.join(GROUP_NAMES)}), "
                f"got {len(self.groups)}"
            )
        for name, group in zip(GROUP_NAMES, self.groups):
            if not isinstance(group, GroupSpec):
                raise SpecError(f"groups.{name}: expected a GroupSpec, got {type(group).__name__}")
            if not isinstance(group.block, str) or group.block not in BLOCKS:
                raise SpecError(
                    f"groups.{name}.block: unknown block type {group.block!r} "
                    f"(known: {', '.join(BLOCKS)})"
                )
            if not _nonneg_int(group.num_blocks):
                raise SpecError(
                    f"groups.{name}.num_blocks: expected an integer >= 0, got {group.num_blocks!r}"
                )
            if not _positive_int(group.num_groups):
                raise SpecError(
                    f"groups.{name}.num_groups: expected an integer >= 1, got {group.num_groups!r}"
                )
        if self.in_channels not in (1, 3) or isinstance(self.in_channels, bool):
            raise SpecError(
                "in_channels: expected 1 (raw mosaics) or 3 (sRGB images), "
                f"got {self.in_channels!r}"
            )
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            raise SpecError(
                f"activation: unknown {self.activation!r} (known: {', '.join(ACTIVATIONS)})"
            )
        if not isinstance(self.name, str):
            raise SpecError(f"name: expected a string, got {self.name!r}")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["widths"] = list(self.widths)
        data["groups"] = [dict(name=n, **asdict(g)) for n, g in zip(GROUP_NAMES, self.groups)]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ArchSpec":
        if not isinstance(data, dict):
            raise SpecError(f"spec: expected a JSON object, got {type(data).__name__}")
        unknown = set(data) - {"widths", "groups", "in_channels", "activation", "name"}
        if unknown:
            raise SpecError(f"spec: unknown field(s) {', '.join(sorted(unknown))}")
        if "widths" not in data or "groups" not in data:
            raise SpecError("spec: 'widths' and 'groups' are required")
        groups = data["groups"]
        if not isinstance(groups, list) or len(groups) != len(GROUP_NAMES):
            raise SpecError(
                f"groups: expected a list of {len(GROUP_NAMES)} objects ({', '.join(GROUP_NAMES)})"
            )
        parsed = []
        for name, g in zip(GROUP_NAMES, groups):
            if not isinstance(g, dict):
                raise SpecError(f"groups.{name}: expected an object, got {type(g).__name__}")
            g = dict(g)
            if g.pop("name", name) != name:
                raise SpecError(
                    f"groups.{name}: out of order, slots must be {', '.join(GROUP_NAMES)}"
                )
            extra = set(g) - {"block", "num_blocks", "num_groups"}
            if extra:
                raise SpecError(f"groups.{name}: unknown field(s) {', '.join(sorted(extra))}")
            parsed.append(GroupSpec(**g))
        widths = data["widths"]
        if not isinstance(widths, list):
            raise SpecError(f"widths: expected a list of 3 integers, got {widths!r}")
        rest = {k: data[k] for k in ("in_channels", "activation", "name") if k in data}
        return cls(widths=tuple(widths), groups=tuple(parsed), **rest)

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> "ArchSpec":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SpecError(f"spec: invalid JSON ({err})") from None
        return cls.from_dict(data)


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _nonneg_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
