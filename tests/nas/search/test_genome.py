import json
import random
from pathlib import Path

import pytest

from models import mwrcanet_paper_spec
from nas.search.genome import GENOME_LENGTH, GenomeCodec, GenomeError
from nas.search.space import load_space

from ..helpers import tiny_space

PAPER_GENOME = Path(__file__).resolve().parents[3] / "search_spaces" / "mwrcanet_paper.json"


@pytest.fixture(scope="module")
def codec():
    return GenomeCodec(load_space("rcab_dense.yaml"))


def test_codec_round_trip(codec):
    rng = random.Random(0)
    for _ in range(50):
        genome = codec.random_genome(rng)
        assert codec.encode(codec.decode(genome)) == genome


def test_paper_genome_file_decodes_to_the_released_architecture(codec):
    data = json.loads(PAPER_GENOME.read_text())
    spec = codec.decode(data["genome"])
    paper = mwrcanet_paper_spec()
    assert (spec.widths, spec.groups, spec.activation) == (
        paper.widths,
        paper.groups,
        paper.activation,
    )
    assert data["key"] == codec.key(data["genome"]) == "c20-c20-c20-c20-c20_w96-128-128"


def test_canonical_key_ignores_type_of_empty_groups(codec):
    a = [0, 0] + [2, 3] * 4 + [0, 0, 0]
    b = [1, 0] + [2, 3] * 4 + [0, 0, 0]
    assert codec.key(a) == codec.key(b)
    assert codec.key(a) != codec.key([0, 1] + [2, 3] * 4 + [0, 0, 0])


def test_operators_keep_genomes_valid(codec):
    rng = random.Random(1)
    population = [codec.random_genome(rng) for _ in range(20)]
    for _ in range(200):
        a, b = rng.sample(population, 2)
        child_a, child_b = codec.crossover(a, b, rng)
        mutant = codec.mutate(child_a, rng, rate=0.5)
        for genome in (child_a, child_b, mutant):
            assert codec.validate(genome) == genome and len(genome) == GENOME_LENGTH
        population[rng.randrange(20)] = mutant


def test_mutation_changes_genomes(codec):
    rng = random.Random(2)
    genome = codec.random_genome(rng)
    assert any(codec.mutate(genome, rng, 0.3) != genome for _ in range(5))


def test_repair_meets_constraints():
    space = tiny_space(blocks_per_group={"min": 0, "max": 20}, constraints={"max_gflops": 40.0})
    codec = GenomeCodec(space)
    rng = random.Random(3)
    for _ in range(5):
        genome = codec.repair([2, 20] * 5 + [2, 2, 2], rng)
        assert codec.cost(genome).gflops <= 40.0


@pytest.mark.parametrize(
    "genome, message",
    [
        ([0] * 12, "expected a list of 13"),
        ([0, 0] * 5 + [0, 0, 9], "level3 width index 9"),
        ([5, 0] + [0, 0] * 4 + [0, 0, 0], "enc1 block index 5"),
        ([0, 99] + [0, 0] * 4 + [0, 0, 0], "enc1 block count 99"),
        ([0.5] + [0] * 12, "must be an integer"),
    ],
)
def test_bad_genomes_are_named(codec, genome, message):
    with pytest.raises(GenomeError, match=message):
        codec.decode(genome)


def test_neighbours_are_every_one_gene_change_and_feasible(codec):
    genome = codec.random_genome(random.Random(3))
    around = codec.neighbours(genome)
    assert all(sum(a != b for a, b in zip(other, genome)) == 1 for other in around)
    # 5 groups x (2 other block types + 20 other counts) + 3 levels x 2 other widths
    assert len(around) == len({tuple(g) for g in around}) == 5 * (2 + 20) + 3 * 2
    limited = GenomeCodec(
        load_space("rcab_dense.yaml").with_overrides(constraints={"max_gflops": 60.0})
    )
    small = limited.repair(genome, random.Random(0))
    assert all(limited.feasible(g) for g in limited.neighbours(small))
    assert len(limited.neighbours(small)) < len(around)
