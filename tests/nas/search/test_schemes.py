"""Selection schemes on a cheap synthetic landscape (no training), through the real engine."""

import statistics

import pytest
from scipy.stats import mannwhitneyu

from models.spec import GROUP_NAMES
from nas.search.engine import SearchEngine
from nas.search.generational import run_generations
from nas.search.result import CandidateResult
from nas.search.schemes import SCHEMES, Aging, make_scheme

from ..helpers import tiny_space

TARGET_BLOCKS, TARGET_WIDTHS = ("rcab", "dense", "rcab", "residual", "rcab"), (96, 128, 128)


def landscape_psnr(spec) -> float:
    """A known optimum: 12 blocks of the target type in every group, the target widths."""
    score = 40.0
    for name, group, block in zip(GROUP_NAMES, spec.groups, TARGET_BLOCKS):
        score -= abs(group.num_blocks - 12) / 4 + (group.block != block)
    return score - sum(w != t for w, t in zip(spec.widths, TARGET_WIDTHS))


class LandscapeEvaluator:
    def evaluate(self, candidates, generation, on_result=None):
        results = {
            c.key: CandidateResult("ok", landscape_psnr(c.spec), 0.9, 1, 1.0, steps=1)
            for c in candidates
        }
        for key, r in results.items():
            on_result(key, r)
        return results


def best_found(tmp_path, selection, seed, **evolution):
    settings = {
        "selection": selection,
        "population": 8,
        "generations": 7,
        "tournament_size": 3,
        **evolution,
    }
    space = tiny_space(blocks_per_group={"min": 0, "max": 20}, evolution=settings)
    run = SearchEngine(space, seed, tmp_path / f"{selection}-{seed}")
    run_generations(run, LandscapeEvaluator())
    return run.best().metrics.psnr, len(run.evaluations)


def test_every_scheme_is_chosen_by_name():
    for name in SCHEMES:
        space = tiny_space(
            objectives=["psnr", "gflops"] if name == "nsga2" else ["psnr"],
            evolution={"selection": name},
        )
        assert make_scheme(space.evolution).name == name


@pytest.mark.parametrize(
    "selection, evolution",
    [("tournament", {"generations": 8}), ("aging", {"offspring": 2, "generations": 32})],
)
def test_evolution_beats_random_sampling_at_equal_evaluations(tmp_path, selection, evolution):
    seeds = range(30)
    evolved = [best_found(tmp_path, selection, s, **evolution) for s in seeds]
    budget = max(
        n for _, n in evolved
    )  # random gets at least as many evaluations as any evolved run
    sampled = [best_found(tmp_path, "random", s, generations=-(-budget // 8) - 1) for s in seeds]
    evolved_best, sampled_best = [p for p, _ in evolved], [p for p, _ in sampled]
    assert statistics.median(evolved_best) > statistics.median(sampled_best)
    assert mannwhitneyu(evolved_best, sampled_best, alternative="greater").pvalue < 0.01


class Ind(list):
    pass


def test_aging_removes_the_oldest_not_the_worst():
    space = tiny_space(evolution={"selection": "aging", "population": 4, "offspring": 2})
    scheme = Aging(space.evolution)
    scheme.population = [Ind([i]) for i in range(4)]  # oldest first
    scheme.replace([Ind([10]), Ind([11])])
    assert [ind[0] for ind in scheme.population] == [2, 3, 10, 11]


@pytest.mark.parametrize(
    "population, offspring", [(6, None), (6, 5), (2, None), (3, None), (8, None)]
)
def test_nsga2_proposes_its_number_of_children(tmp_path, population, offspring):
    space = tiny_space(
        objectives=["psnr", "gflops"],
        blocks_per_group={"min": 0, "max": 20},
        evolution={
            "selection": "nsga2",
            "population": population,
            "offspring": offspring,
            "generations": 2,
            "elitism": 1,
        },
    )
    run = SearchEngine(space, 0, tmp_path)
    run_generations(run, LandscapeEvaluator())
    proposed = [entry["evals"] + entry["cached"] for entry in run.logbook]
    assert proposed == [population] + [offspring or population] * 2
    assert len(run.scheme.population) == population
