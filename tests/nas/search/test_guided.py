"""Model-guided evolution on a cheap synthetic landscape (no training), through the real engine."""

import math
import statistics

from scipy.stats import mannwhitneyu

from nas.search.engine import SearchEngine
from nas.search.guided import Guided
from nas.search.result import CandidateResult
from nas.search.schemes import make_scheme

from ..helpers import tiny_space
from .test_schemes import landscape_psnr

EVOLUTION = {"population": 6, "tournament_size": 3, "guided_pool": 96}


def _space(selection="guided", **evolution):
    return tiny_space(
        blocks_per_group={"min": 0, "max": 20},
        evolution={"selection": selection, **EVOLUTION, **evolution},
    )


def _result(spec, failed=False):
    if failed:
        return CandidateResult.failed("diverged")
    return CandidateResult("ok", landscape_psnr(spec), 0.9, 1, 1.0, steps=1)


def _fails(spec) -> bool:
    """A region that fails to train: a big first group."""
    return spec.groups[0].num_blocks > 14


class Recording(Guided):
    """The guided scheme, keeping every key it proposes (in order)."""

    def __init__(self, settings):
        super().__init__(settings)
        self.keys, self.failed_again = [], []

    def propose(self, toolbox):
        failed = {k for k, (_, result) in self.told.items() if result.status == "failed"}
        offspring = super().propose(toolbox)
        self.keys += [toolbox.key(ind) for ind in offspring]
        self.failed_again += [toolbox.key(ind) for ind in offspring if toolbox.key(ind) in failed]
        return offspring


def _drive(engine, evaluations, fails=lambda spec: False):
    while len(engine.evaluations) < evaluations:
        candidates = engine.ask()
        assert candidates, "the engine proposed nothing"
        for c in candidates:
            engine.tell(c.key, _result(c.spec, fails(c.spec)))
    return engine


def _best(selection, seed, evaluations=36):
    engine = _drive(SearchEngine(_space(selection), seed, max_generations=math.inf), evaluations)
    return max(e.result.psnr for e in list(engine.evaluations.values())[:evaluations])


def test_guided_is_chosen_by_name_and_works_with_several_objectives():
    assert make_scheme(_space().evolution).name == "guided"
    space = tiny_space(
        blocks_per_group={"min": 0, "max": 20},
        objectives=["psnr", "gflops"],
        evolution={"selection": "guided", **EVOLUTION},
    )
    engine = _drive(SearchEngine(space, 0, max_generations=math.inf), 18)
    assert len(engine.evaluations) >= 18 and len(engine.best().pareto) >= 1


def test_guided_beats_random_sampling_and_tournament_at_equal_evaluations():
    seeds = range(16)
    guided = [_best("guided", s) for s in seeds]
    for baseline in ("random", "tournament"):
        other = [_best(baseline, s) for s in seeds]
        assert statistics.median(guided) > statistics.median(other)
        assert mannwhitneyu(guided, other, alternative="greater").pvalue < 0.01


def test_a_pending_candidate_is_never_proposed_twice():
    scheme = Recording(_space().evolution)
    scheme.steady_state = True  # propose while earlier steps train
    engine = SearchEngine(_space(), 3, scheme=scheme, max_generations=math.inf)
    first = engine.ask()  # the initial population, left pending
    for c in first[:3]:
        engine.tell(c.key, _result(c.spec))
    later = engine.ask(12)  # two more steps while three of the first are still pending
    assert len(later) == 12 and len(scheme.keys) == 12
    handed = [c.key for c in first + later]
    assert len(set(handed)) == len(handed)
    assert len(set(scheme.keys)) == len(scheme.keys)
    assert not set(scheme.keys) & {c.key for c in first}


def test_a_candidate_that_failed_is_not_proposed_again():
    scheme = Recording(_space().evolution)
    engine = SearchEngine(_space(), 5, scheme=scheme, max_generations=math.inf)
    _drive(engine, 42, fails=_fails)
    failed = [e for e in engine.evaluations.values() if e.result.status == "failed"]
    assert any(e.generation < engine.generation - 2 for e in failed), "too few failures to test"
    assert scheme.failed_again == []
    assert len(scheme.keys) == len(set(scheme.keys))


def test_a_resumed_run_proposes_what_an_uninterrupted_one_does(tmp_path):
    def told_order(engine):
        return [(e.key, e.generation) for e in engine.evaluations.values()]

    whole = _drive(SearchEngine(_space(), 7, tmp_path / "whole", max_generations=math.inf), 36)

    part = SearchEngine(_space(), 7, tmp_path / "part", max_generations=math.inf)
    _drive(part, 18)
    half = part.ask()  # a step half told when the run stops
    for c in half[:3]:
        part.tell(c.key, _result(c.spec))
    part.save()
    resumed = SearchEngine.resume(tmp_path / "part")
    resumed.max_generations = math.inf  # a client that stops on its own count, as the others
    _drive(resumed, 36)
    assert told_order(resumed)[:36] == told_order(whole)[:36]


def test_every_told_result_enters_the_model_past_its_hyperparameter_subset():
    import numpy as np

    from nas.search.guided import _HYPER_SUBSET, _Model

    rng = np.random.default_rng(0)
    count = 2 * _HYPER_SUBSET
    x = rng.integers(0, 8, size=(count, 6)).astype(float)
    y = 0.1 * x[:, 0] + rng.normal(0.0, 0.3, count)  # a trend, and noise only a fit can learn
    model = _Model("gp", 0)
    model.fit(x, y)
    subset = np.linspace(0, count - 1, _HYPER_SUBSET).round().astype(int)
    rest = np.setdiff1d(np.arange(count), subset)
    alone = _Model("gp", 0)
    alone.fit(x[subset], y[subset])
    residual = np.abs(model.predict(x[rest])[0] - y[rest]).mean()
    residual_alone = np.abs(alone.predict(x[rest])[0] - y[rest]).mean()
    assert residual < 0.9 * residual_alone


def test_the_model_carries_a_trend_beyond_the_results_it_was_told():
    import numpy as np

    from nas.search.guided import _Model

    rng = np.random.default_rng(1)
    told = rng.integers(0, 5, size=(10, 6)).astype(float)  # small genomes only
    bigger = rng.integers(8, 13, size=(10, 6)).astype(float)

    def psnr(x):  # rises with every count, as a denoiser does with its blocks and widths
        return 30.0 + 0.1 * x.sum(axis=1)

    model = _Model("gp", 0)
    model.fit(told, psnr(told))
    predicted = model.predict(bigger)[0]
    assert predicted.min() > psnr(told).max()


def test_a_model_with_fixed_hyperparameters_keeps_them_and_learns_from_its_data():
    import numpy as np

    from nas.search.guided import _Model

    rng = np.random.default_rng(2)
    x = rng.integers(0, 8, size=(40, 6)).astype(float)
    template = _Model("gp", 0)
    template.fit(x, 30.0 + 0.2 * x[:, 0])
    few = x[:5]
    fixed = _Model("gp", 0, fixed=template)
    fixed.fit(few, 40.0 - 0.2 * few[:, 1])  # other data: the prediction follows them
    assert str(fixed.regressor.kernel_) == str(template.regressor.kernel_)
    assert np.allclose(fixed.predict(few)[0], 40.0 - 0.2 * few[:, 1], atol=0.05)
    assert template.predict(few)[0].mean() < 33.0  # the template itself is left as it was
