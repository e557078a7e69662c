"""The surrogate on a known landscape, and its evaluator driving the real engine."""

import random

import numpy as np

from nas.search.engine import SearchEngine
from nas.search.generational import run_generations
from nas.search.genome import GenomeCodec
from nas.search.result import Candidate
from nas.search.surrogate import Surrogate, SurrogateEvaluator

from ..helpers import tiny_space
from .test_schemes import landscape_psnr


def database(space, count, seed=0):
    codec, rng = GenomeCodec(space), random.Random(seed)
    specs = [codec.decode(codec.random_genome(rng)) for _ in range(count)]
    return specs, np.array([landscape_psnr(s) for s in specs])


def test_surrogate_ranks_held_out_architectures_and_states_its_error():
    space = tiny_space(blocks_per_group={"min": 0, "max": 20})
    specs, psnr = database(space, 150)
    surrogate = Surrogate(space.blocks)
    held_out = surrogate.cross_validate(specs, psnr)
    assert held_out.kendall_tau > 0.5  # chance is 0
    surrogate.fit(specs, psnr)
    evaluator = SurrogateEvaluator(surrogate)
    candidates = [Candidate(f"k{i}", s, space.budget, 0) for i, s in enumerate(specs)]
    results = evaluator.evaluate(candidates, 0)
    errors = np.abs([results[f"k{i}"].psnr - p for i, p in enumerate(psnr)])
    assert (
        errors.mean() <= held_out.mae_db
    )  # on its training points it is at least as good as stated


def test_surrogate_evaluator_runs_the_real_engine(tmp_path):
    space = tiny_space(
        blocks_per_group={"min": 0, "max": 20}, evolution={"population": 8, "generations": 5}
    )
    specs, psnr = database(space, 100)
    evaluator = SurrogateEvaluator(Surrogate(space.blocks).fit(specs, psnr))
    run = SearchEngine(space, 0, tmp_path)
    run_generations(run, evaluator)
    assert len(run.logbook) == 6 and evaluator.evaluations == len(run.evaluations)
    assert run.best().metrics.psnr == max(e.result.psnr for e in run.evaluations.values())
