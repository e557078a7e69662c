"""The guided GP's kernels: a kernel on some columns, and the additive model it builds."""

import math
import statistics

import numpy as np
from scipy.stats import kendalltau
from sklearn.gaussian_process.kernels import Matern

import nas.search.schemes  # noqa: F401  (registers the schemes before guided is imported alone)
from nas.search.engine import SearchEngine
from nas.search.guided import _Model, genome_feature_parts, genome_features
from nas.search.kernels import OnColumns, gp_kernel
from nas.search.result import CandidateResult

from ..helpers import tiny_space

TARGET_BLOCKS, TARGET_WIDTHS = (2, 1, 0, 1, 2), (1, 2, 0)


def test_a_kernel_on_columns_is_that_kernel_on_those_columns_with_its_gradient():
    x = np.random.default_rng(0).normal(size=(7, 5))
    inner = Matern([1.5, 3.0], nu=2.5)
    wrapped = OnColumns(inner, (1, 3))
    value, gradient = wrapped(x, eval_gradient=True)
    expected, expected_gradient = inner(x[:, [1, 3]], eval_gradient=True)
    np.testing.assert_allclose(value, expected)
    np.testing.assert_allclose(gradient, expected_gradient)
    np.testing.assert_allclose(wrapped(x, x[:3]), inner(x[:, [1, 3]], x[:3, [1, 3]]))
    np.testing.assert_allclose(wrapped.diag(x), np.ones(7))
    moved = wrapped.clone_with_theta(np.log([4.0, 0.5]))
    assert moved.columns == (1, 3)
    np.testing.assert_allclose(moved.kernel.length_scale, [4.0, 0.5])
    np.testing.assert_allclose(wrapped.kernel.length_scale, [1.5, 3.0])  # a clone, not a change


def test_the_gp_kernel_has_one_term_per_part_and_none_without_parts():
    parts = genome_feature_parts(3)
    assert parts[0] == (0, 1, 2, 3) and parts[-1] == (21, 22, 23)
    assert repr(gp_kernel(parts, 24)).count("on columns") == len(parts)
    assert "on columns" not in repr(gp_kernel(None, 24))


def _random_genomes(rng, count):
    genomes = []
    for _ in range(count):
        genome = []
        for _ in TARGET_BLOCKS:
            genome += [int(rng.integers(3)), int(rng.integers(21))]
        genomes.append(genome + [int(rng.integers(4)) for _ in TARGET_WIDTHS])
    return genomes


def _additive_psnr(genome) -> float:
    """Each group and each width adds its own term: the optimum is 12 blocks of the target type
    in every group and the target widths."""
    score = 40.0
    for i, target in enumerate(TARGET_BLOCKS):
        block, count = genome[2 * i], genome[2 * i + 1]
        score -= abs(count - 12) / 4 + (count == 0 or block != target)
    return score - sum(w != t for w, t in zip(genome[2 * len(TARGET_BLOCKS) :], TARGET_WIDTHS))


def test_the_additive_model_ranks_unseen_genomes_better_on_an_additive_landscape():
    gains = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        told, unseen = _random_genomes(rng, 30), _random_genomes(rng, 300)
        x = np.array([genome_features(g) for g in told])
        y = np.array([_additive_psnr(g) for g in told])
        x_unseen = np.array([genome_features(g) for g in unseen])
        y_unseen = [_additive_psnr(g) for g in unseen]
        tau = {}
        for kind in ("gp", "gp_additive"):
            model = _Model(kind, 0, genome_feature_parts(len(TARGET_WIDTHS)))
            model.fit(x, y)
            tau[kind] = kendalltau(model.predict(x_unseen)[0], y_unseen)[0]
        gains.append(tau["gp_additive"] - tau["gp"])
    assert sum(g > 0 for g in gains) >= 4 and statistics.median(gains) > 0.1


def test_a_guided_search_runs_on_the_additive_model():
    space = tiny_space(
        blocks_per_group={"min": 0, "max": 20},
        evolution={"selection": "guided", "guided_model": "gp_additive", "guided_pool": 64},
    )
    engine = SearchEngine(space, 0, max_generations=math.inf)
    while len(engine.evaluations) < 12:
        candidates = engine.ask()
        assert candidates, "the engine proposed nothing"
        for candidate in candidates:
            psnr = 30.0 + sum(g.num_blocks for g in candidate.spec.groups) / 10
            engine.tell(candidate.key, _result(psnr))
    assert len(set(engine.evaluations)) == len(engine.evaluations) >= 12


def _result(psnr):
    return CandidateResult("ok", psnr, 0.9, 1, 1.0, steps=1)


def test_the_additive_models_hyperparameters_are_searched_on_the_subset_too():
    from nas.search.guided import _HYPER_SUBSET

    rng = np.random.default_rng(0)
    count = 2 * _HYPER_SUBSET
    x = rng.integers(0, 4, size=(count, 24)).astype(float)
    y = 0.1 * x[:, 0] + rng.normal(0.0, 0.3, count)
    subset = np.linspace(0, count - 1, _HYPER_SUBSET).round().astype(int)
    rest = np.setdiff1d(np.arange(count), subset)
    # the rest repeat the subset, so both fits standardize the features alike
    x[rest], y[rest] = x[subset], y[subset]
    found = {}
    for name, rows in (("all", slice(None)), ("subset", subset)):
        model = _Model("gp_additive", 0, genome_feature_parts(3))
        model.fit(x[rows], y[rows])
        found[name] = model.regressor.kernel_.theta
    np.testing.assert_allclose(found["all"], found["subset"])
