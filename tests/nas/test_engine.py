"""The evolution loop on real (tiny) trainings in-process: caching, failures, NSGA-II."""
import random

import pytest
from deap import tools

from nas.engine import Evolution
from nas.fitness import FAILED_PSNR, evaluate_candidate
from nas.ray_runner import InProcessEvaluator

from .helpers import tiny_space


class CountingEvaluator(InProcessEvaluator):
    """The real in-process evaluator, recording which keys it was asked to train."""

    def __init__(self):
        super().__init__(threads=1)
        self.requested = []

    def evaluate(self, requests, generation):
        self.requested += [r["key"] for r in requests]
        return super().evaluate(requests, generation)


def run_search(tmp_path, space, seed=0):
    evaluator = CountingEvaluator()
    run = Evolution(space, tmp_path, evaluator, seed)
    run.run()
    return run, evaluator


def test_cache_prevents_a_second_training(tmp_path):
    space = tiny_space(evolution={"population": 6, "generations": 3})
    run, evaluator = run_search(tmp_path, space)
    assert len(evaluator.requested) == len(set(evaluator.requested)) == len(run.cache)
    assert sum(entry["cached"] for entry in run.logbook) > 0    # later generations reuse results
    resumed = Evolution.resume(tmp_path, CountingEvaluator())
    resumed.evaluator = evaluator
    before = len(evaluator.requested)
    resumed.run()                                             # nothing left: no training at all
    assert len(evaluator.requested) == before


def test_failing_candidates_are_recorded_and_never_best(tmp_path):
    record = evaluate_candidate({"widths": [8, 8, 8], "groups": []}, tiny_space().budget.model_dump(), 0)
    assert record["status"] == "failed" and record["psnr"] == FAILED_PSNR and "groups" in record["error"]
    space = tiny_space(budget={"lr": 1e30, "steps": 3})        # diverges: NaN/inf losses
    run, _ = run_search(tmp_path, space)
    statuses = {r["status"] for r in run.cache.values()}
    assert "failed" in statuses
    assert sum(entry["failed"] for entry in run.logbook) >= 1
    assert all(r["error"] for r in run.cache.values() if r["status"] == "failed")
    ok = [r for r in run.cache.values() if r["status"] == "ok"]
    if ok:
        assert run.best()["metrics"]["status"] == "ok"


def dominates(a, b):
    return all(x >= y for x, y in zip(a, b)) and a != b


def test_nsga2_keeps_the_non_dominated_set(tmp_path):
    space = tiny_space(objectives=["psnr", "gflops"], evolution={"selection": "nsga2", "population": 8})
    run = Evolution(space, tmp_path, None, 0)
    rng = random.Random(0)
    individuals = []
    for _ in range(16):
        ind = run.Individual(run.codec.random_genome(rng))
        ind.fitness.values = (rng.uniform(30, 40), rng.uniform(1, 100))
        individuals.append(ind)
    run.population, offspring = individuals[:8], individuals[8:]
    survivors = run._replace(offspring)
    weighted = [ind.fitness.wvalues for ind in individuals]
    front = [ind for ind, w in zip(individuals, weighted) if not any(dominates(o, w) for o in weighted)]
    assert len(survivors) == 8
    if len(front) <= 8:
        assert all(any(s is f for s in survivors) for f in front)
    pareto = tools.ParetoFront()
    pareto.update(individuals)
    assert sorted(map(tuple, pareto)) == sorted(map(tuple, front))


@pytest.mark.parametrize("selection", ["tournament", "aging"])
def test_selection_schemes_run(tmp_path, selection):
    space = tiny_space(evolution={"selection": selection, "population": 4, "generations": 1})
    run, _ = run_search(tmp_path, space)
    assert len(run.population) == 4 and len(run.logbook) == 2
    assert (tmp_path / "checkpoint.json").is_file()


def test_pareto_run_writes_front_and_plots(tmp_path):
    from nas.report import write_reports
    import json
    space = tiny_space(objectives=["psnr", "gflops"],
                       evolution={"selection": "nsga2", "population": 4, "generations": 1})
    run, _ = run_search(tmp_path, space)
    best = write_reports(run, space.to_dict())
    assert best["pareto"], "a multi-objective run reports its Pareto set"
    points = [(m["metrics"]["psnr"], -m["metrics"]["gflops"]) for m in best["pareto"]]
    everything = [(r["psnr"], -r["gflops"]) for r in run.cache.values() if r["status"] == "ok"]
    for p in points:   # nothing evaluated dominates a member of the front
        assert not any(dominates(q, p) for q in everything)
    for name in ("best.json", "evaluations.csv", "logbook.csv", "fitness.png", "pareto.png"):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "best.json").read_text())["pareto"] == best["pareto"]
