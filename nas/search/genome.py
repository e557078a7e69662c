"""The one codec between genomes and architecture specs.

A genome is a flat list of 13 integers: for each group slot of ``models.GROUP_NAMES`` a pair
(block type index into ``space.blocks``, block count), then one width index per wavelet level
into ``space.widths``. Genomes that build the same network (e.g. differing only in the block
type of an empty group) share one canonical key.
"""

from __future__ import annotations

import random
from models import GROUP_NAMES, ArchSpec, Cost, GroupSpec
from models.cost import composed_cost

from ..errors import UserError
from .space import SearchSpace

__all__ = ["GenomeError", "GenomeCodec", "spec_key", "GENOME_LENGTH"]

GENOME_LENGTH = 2 * len(GROUP_NAMES) + 3


class GenomeError(UserError):
    """A genome does not fit its search space."""


def spec_key(spec: ArchSpec) -> str:
    """Canonical, filename-safe key, e.g. ``c20-c20-c20-c20-c20_w96-128-128``: ``spec.key()``."""
    return spec.key()


class GenomeCodec:
    """Encodes, decodes, samples, mutates, crosses and repairs genomes of one search space."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.widths = space.widths.choices()
        self.count = space.blocks_per_group

    # ---- codec ---------------------------------------------------------------------------------
    def validate(self, genome) -> list[int]:
        if not isinstance(genome, (list, tuple)) or len(genome) != GENOME_LENGTH:
            raise GenomeError(
                f"genome: expected a list of {GENOME_LENGTH} integers, got {genome!r}"
            )
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in genome):
            raise GenomeError(f"genome: every gene must be an integer, got {list(genome)!r}")
        for i, name in enumerate(GROUP_NAMES):
            block, count = genome[2 * i], genome[2 * i + 1]
            if not 0 <= block < len(self.space.blocks):
                raise GenomeError(
                    f"genome: {name} block index {block} outside 0..{len(self.space.blocks) - 1}"
                )
            if not self.count.min <= count <= self.count.max:
                raise GenomeError(
                    f"genome: {name} block count {count} outside {self.count.min}..{self.count.max}"
                )
        for level, (index, choices) in enumerate(zip(genome[-3:], self.widths), start=1):
            if not 0 <= index < len(choices):
                raise GenomeError(
                    f"genome: level{level} width index {index} outside 0..{len(choices) - 1}"
                )
        return list(genome)

    def decode(self, genome) -> ArchSpec:
        genome = self.validate(genome)
        groups = tuple(
            GroupSpec(self.space.blocks[genome[2 * i]], genome[2 * i + 1])
            for i in range(len(GROUP_NAMES))
        )
        widths = tuple(choices[i] for choices, i in zip(self.widths, genome[-3:]))
        return ArchSpec(
            widths=widths,
            groups=groups,
            in_channels=self.space.in_channels,
            activation=self.space.activation,
        )

    def encode(self, spec: ArchSpec) -> list[int]:
        """The genome of ``spec``; GenomeError if the spec is not a point of this space."""
        genome = []
        for name, group in zip(GROUP_NAMES, spec.groups):
            if group.num_groups != 1:
                raise GenomeError(
                    f"spec: {name} has {group.num_groups} groups; this space has one per slot"
                )
            if group.block not in self.space.blocks:
                raise GenomeError(
                    f"spec: {name} block {group.block!r} is not in this space ({self.space.blocks})"
                )
            genome += [self.space.blocks.index(group.block), group.num_blocks]
        for level, (width, choices) in enumerate(zip(spec.widths, self.widths), start=1):
            if width not in choices:
                raise GenomeError(
                    f"spec: level{level} width {width} is not a choice of this space ({choices})"
                )
            genome.append(choices.index(width))
        if spec.activation != self.space.activation:
            raise GenomeError(
                f"spec: activation {spec.activation!r} differs from the space's "
                f"{self.space.activation!r}"
            )
        return self.validate(genome)

    def key(self, genome) -> str:
        return spec_key(self.decode(genome))

    def cost(self, genome) -> Cost:
        return composed_cost(self.decode(genome))

    def _smallest_genome(self) -> list[int]:
        """The cheapest genome: fewest blocks, narrowest widths, the cheapest block type."""
        narrow = [min(range(len(c)), key=c.__getitem__) for c in self.widths]
        candidates = [
            [b, self.count.min] * len(GROUP_NAMES) + narrow for b in range(len(self.space.blocks))
        ]
        return min(candidates, key=lambda g: (self.cost(g).gflops, self.cost(g).params))

    def smallest_cost(self) -> Cost:
        return self.cost(self._smallest_genome())

    # ---- variation -----------------------------------------------------------------------------
    def random_genome(self, rng: random.Random) -> list[int]:
        genome = []
        for _ in GROUP_NAMES:
            genome += [
                rng.randrange(len(self.space.blocks)),
                rng.randint(self.count.min, self.count.max),
            ]
        return self.repair(genome + [rng.randrange(len(c)) for c in self.widths], rng)

    def mutate(self, genome: list[int], rng: random.Random, rate: float) -> list[int]:
        """Per gene with probability ``rate``: a new block type, a count step or redraw, a new
        width."""
        out = list(genome)
        for i in range(len(GROUP_NAMES)):
            if rng.random() < rate and len(self.space.blocks) > 1:
                out[2 * i] = rng.choice(
                    [b for b in range(len(self.space.blocks)) if b != out[2 * i]]
                )
            if rng.random() < rate:
                if rng.random() < 0.5:
                    out[2 * i + 1] = rng.randint(self.count.min, self.count.max)
                else:
                    step = max(1, (self.count.max - self.count.min) // 5)
                    out[2 * i + 1] += rng.choice((-1, 1)) * rng.randint(1, step)
        for j, choices in enumerate(self.widths):
            if rng.random() < rate:
                out[2 * len(GROUP_NAMES) + j] = rng.randrange(len(choices))
        return self.repair(out, rng)

    def crossover(
        self, a: list[int], b: list[int], rng: random.Random
    ) -> tuple[list[int], list[int]]:
        """Uniform crossover per group slot (type and count travel together) and per width."""
        a, b = list(a), list(b)
        for i in range(len(GROUP_NAMES)):
            if rng.random() < 0.5:
                a[2 * i : 2 * i + 2], b[2 * i : 2 * i + 2] = (
                    b[2 * i : 2 * i + 2],
                    a[2 * i : 2 * i + 2],
                )
        for j in range(2 * len(GROUP_NAMES), GENOME_LENGTH):
            if rng.random() < 0.5:
                a[j], b[j] = b[j], a[j]
        return self.repair(a, rng), self.repair(b, rng)

    def repair(self, genome: list[int], rng: random.Random) -> list[int]:
        """Clip into range, then shrink (a random non-empty group, else a width) until the
        constraints hold. Terminates: the smallest genome is feasible (checked on load)."""
        out = list(genome)
        for i in range(len(GROUP_NAMES)):
            out[2 * i + 1] = min(max(out[2 * i + 1], self.count.min), self.count.max)
        while not self.feasible(out):
            shrinkable = [i for i in range(len(GROUP_NAMES)) if out[2 * i + 1] > self.count.min]
            wide = [j for j, c in enumerate(self.widths) if c[out[-3 + j]] > min(c)]
            if shrinkable and (not wide or rng.random() < 0.8):
                out[2 * rng.choice(shrinkable) + 1] -= 1
            elif wide:
                j = rng.choice(wide)
                choices = self.widths[j]
                out[-3 + j] = choices.index(max(w for w in choices if w < choices[out[-3 + j]]))
            else:  # smallest counts and widths: only the block types are left to change
                return self.validate(self._smallest_genome())
        return self.validate(out)

    def neighbours(self, genome: list[int]) -> list[list[int]]:
        """Every feasible genome that differs from ``genome`` in exactly one gene."""
        genome = self.validate(genome)
        ranges = []
        for _ in GROUP_NAMES:
            ranges += [range(len(self.space.blocks)), range(self.count.min, self.count.max + 1)]
        ranges += [range(len(choices)) for choices in self.widths]
        return [
            other
            for other in (
                genome[:i] + [value] + genome[i + 1 :]
                for i, values in enumerate(ranges)
                for value in values
                if value != genome[i]
            )
            if self.feasible(other)
        ]

    def feasible(self, genome: list[int]) -> bool:
        limits = self.space.constraints
        if limits.max_params is None and limits.max_gflops is None:
            return True
        cost = self.cost(genome)
        return (limits.max_params is None or cost.params <= limits.max_params) and (
            limits.max_gflops is None or cost.gflops <= limits.max_gflops
        )
