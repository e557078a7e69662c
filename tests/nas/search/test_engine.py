"""The evolution loop on real (tiny) trainings in-process: caching, failures, resume, Pareto
sets."""

import json
from dataclasses import replace

import pytest

from nas.search.checkpoint import CHECKPOINT, JOURNAL
from nas.search.engine import SearchEngine
from nas.search.generational import run_generations
from nas.search.evaluators import InProcessEvaluator
from nas.search.report import write_reports
from nas.search.result import FAILED_PSNR

from ..helpers import tiny_space


class CountingEvaluator(InProcessEvaluator):
    """The real in-process evaluator, recording which keys it trained. With ``die_after`` it
    stops (like a killed process) once it has trained that many; with ``diverge`` it trains
    those keys at a learning rate that makes the loss blow up (a real failed training)."""

    def __init__(self, die_after=None, diverge=()):
        super().__init__(threads=1)
        self.trained, self.die_after, self.diverge = [], die_after, set(diverge)

    def evaluate(self, candidates, generation, on_result=None):
        results = {}
        for candidate in candidates:
            if self.die_after is not None and len(self.trained) >= self.die_after:
                raise KeyboardInterrupt("killed")
            if candidate.key in self.diverge:
                candidate = replace(
                    candidate, budget=candidate.budget.model_copy(update={"lr": 1e30})
                )
            self.trained.append(candidate.key)
            results.update(super().evaluate([candidate], generation, on_result))
        return results


def run_search(folder, space, seed=0, evaluator=None):
    evaluator = evaluator or CountingEvaluator()
    engine = SearchEngine(space, seed, folder)
    run_generations(engine, evaluator)
    return engine, evaluator


def resume_search(folder):
    evaluator = CountingEvaluator()
    engine = SearchEngine.resume(folder)
    run_generations(engine, evaluator)
    return engine, evaluator


def test_no_architecture_is_trained_twice(tmp_path):
    space = tiny_space(
        evolution={
            "selection": "tournament",
            "population": 6,
            "generations": 3,
            "tournament_size": 3,
        }
    )  # a seed with repeats (guided never proposes a scored genome)
    run, evaluator = run_search(tmp_path, space)
    assert len(evaluator.trained) == len(set(evaluator.trained)) == len(run.evaluations)
    proposed = sum(entry["evals"] + entry["cached"] for entry in run.logbook)
    assert proposed > len(evaluator.trained), (
        "later generations re-proposed some architectures (cache hits)"
    )


def test_failed_candidates_get_the_worst_fitness_and_never_win(tmp_path):
    space = tiny_space(evolution={"population": 4, "generations": 0})
    probe, _ = run_search(tmp_path / "probe", space)
    keys = sorted(probe.evaluations)
    run, _ = run_search(tmp_path / "run", space, evaluator=CountingEvaluator(diverge=keys[:2]))
    failed = [e for e in run.evaluations.values() if e.key in keys[:2]]
    assert all(
        e.result.status == "failed" and e.result.psnr == FAILED_PSNR and e.result.error
        for e in failed
    )
    assert all(e.result.final_loss is None for e in failed)  # no NaN in the records
    assert run.logbook[0]["failed"] == 2
    best = run.best()
    assert best.metrics.status == "ok" and best.key in keys[2:]
    assert best.metrics.psnr == max(e.result.psnr for e in run.evaluations.values())
    text = (tmp_path / "run" / CHECKPOINT).read_text()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"checkpoint holds {name}"))


@pytest.mark.parametrize(
    "die_after", [2, 7]
)  # during generation 0, and midway through generation 1
def test_resume_after_a_kill_trains_only_what_was_unfinished(tmp_path, die_after):
    space = tiny_space(evolution={"population": 4, "generations": 2})
    whole, counted = run_search(tmp_path / "whole", space, seed=3)
    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        run_search(killed, space, seed=3, evaluator=CountingEvaluator(die_after=die_after))
    finished = len((killed / JOURNAL).read_text().splitlines())
    assert finished == die_after
    resumed, again = resume_search(killed)
    assert len(again.trained) == len(counted.trained) - finished
    assert write_reports(resumed).key == write_reports(whole).key
    assert resumed.best() == whole.best()
    assert [dict(e, elapsed=0) for e in resumed.logbook] == [
        dict(e, elapsed=0) for e in whole.logbook
    ]


def test_resume_of_two_objective_run_keeps_the_same_pareto_set(tmp_path):
    space = tiny_space(
        objectives=["psnr", "gflops"],
        evolution={"selection": "nsga2", "population": 4, "generations": 1},
    )
    whole, counted = run_search(tmp_path / "whole", space, seed=1)
    with pytest.raises(KeyboardInterrupt):
        run_search(tmp_path / "killed", space, seed=1, evaluator=CountingEvaluator(die_after=5))
    resumed, again = resume_search(tmp_path / "killed")
    assert resumed.best().pareto == whole.best().pareto
    assert len(again.trained) == len(counted.trained) - 5


def dominates(a, b):
    return all(x >= y for x, y in zip(a, b)) and a != b


def test_pareto_run_writes_front_and_plots(tmp_path):
    space = tiny_space(
        objectives=["psnr", "gflops"],
        evolution={"selection": "nsga2", "population": 4, "generations": 1},
    )
    run, _ = run_search(tmp_path, space)
    best = write_reports(run)
    keys = [m.key for m in best.pareto]
    assert keys and len(keys) == len(set(keys)), "one entry per architecture"
    everything = {
        e.key: (e.result.psnr, -e.result.gflops) for e in run.evaluations.values() if e.result.ok
    }
    front = {
        k for k, p in everything.items() if not any(dominates(q, p) for q in everything.values())
    }
    assert set(keys) == front
    for name in (
        "best.json",
        "evaluations.csv",
        "logbook.csv",
        "fitness.png",
        "pareto.png",
        JOURNAL,
        CHECKPOINT,
    ):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "best.json").read_text())["pareto"] == [
        m.to_dict() for m in best.pareto
    ]


class StoppingEvaluator(CountingEvaluator):
    """Real trainings; the best candidate is then reported as stopped early (as ASHA would stop
    it)."""

    def evaluate(self, candidates, generation, on_result=None):
        results = super().evaluate(candidates, generation)
        top = max(results, key=lambda k: results[k].psnr)
        results[top] = replace(results[top], status="stopped", steps=1)
        for key, result in results.items():
            on_result(key, result)
        return results


def test_a_stopped_candidate_is_never_ranked_as_fully_trained(tmp_path):
    space = tiny_space(evolution={"population": 4, "generations": 0})
    run, _ = run_search(tmp_path, space, evaluator=StoppingEvaluator())
    stopped = [e for e in run.evaluations.values() if e.result.status == "stopped"]
    assert len(stopped) == 1 and stopped[0].result.psnr == max(
        e.result.psnr for e in run.evaluations.values()
    )
    best = run.best()
    assert best.key != stopped[0].key and best.metrics.status == "ok"
    assert run.logbook[0]["stopped"] == 1 and run.logbook[0]["best"] == best.metrics.psnr
    assert run.individual(stopped[0].genome).fitness.values == (FAILED_PSNR,)


def test_a_spent_time_budget_ends_the_run_after_its_generation_and_resume_goes_on(tmp_path):
    space = tiny_space(evolution={"population": 4, "generations": 2})
    run = SearchEngine(space, 0, tmp_path)
    assert run_generations(run, CountingEvaluator(), time_budget_s=0) is False  # generation 0 only
    assert run.generation == 1 and len(run.logbook) == 1
    resumed = SearchEngine.resume(tmp_path)
    assert run_generations(resumed, CountingEvaluator()) is True and resumed.generation == 3
    uninterrupted, _ = run_search(tmp_path / "whole", space)
    assert write_reports(resumed).key == write_reports(uninterrupted).key


def test_a_guided_run_stored_before_the_count_of_trainings_keeps_steps_of_its_population(
    tmp_path,
):
    """Guided's offspring null meant the population before guided's own default step."""
    space = tiny_space(evolution={"selection": "guided", "population": 4, "generations": 2})
    engine = SearchEngine(space, 0, tmp_path)
    engine.save()
    state = json.loads((tmp_path / CHECKPOINT).read_text())
    del state["space"]["evolution"]["trainings"]
    (tmp_path / CHECKPOINT).write_text(json.dumps(state))
    resumed = SearchEngine.resume(tmp_path).space.evolution
    assert (resumed.children(), resumed.trainings) == (4, 12)
    assert engine.space.evolution.children() == 2
