"""The simulated cluster reproduces hand-computed schedules, driving the real engine."""

import pytest

from nas.search.asynchronous import run_asynchronous
from nas.search.engine import SearchEngine
from nas.search.generational import run_generations
from nas.search.result import CandidateResult
from nas.search.simulated import DurationModel, SimulatedCluster
from nas.search.space import load_space


def score(candidates):
    return {c.key: CandidateResult("ok", 30.0 + len(c.key) % 7, 0.0, 1, 1.0) for c in candidates}


class InOrder:
    """Durations by the order candidates are handed out: the schedule is computable by hand."""

    def __init__(self, seconds):
        self.seconds, self.order = list(seconds), []

    def __call__(self, candidate):
        self.order.append(candidate.key)
        return self.seconds[len(self.order) - 1]


def space(**evolution):
    return load_space("rcab_dense.yaml").with_overrides(evolution=evolution)


def test_asynchronous_schedule_on_two_slots_is_the_hand_computed_one():
    # population 3 and one child on 2 slots, durations 3, 1, 2, 4 in the order handed out:
    # slot 0 runs the first [0, 3]; slot 1 the second [0, 1], then the third [1, 3]; at 3 both end
    # (slot 0 told first) and the child takes slot 0 [3, 7].
    engine = SearchEngine(
        space(population=3, generations=1, offspring=1, selection="aging", asynchronous=True), 4
    )
    durations = InOrder([3, 1, 2, 4])
    cluster = SimulatedCluster(2, durations, score)
    assert run_asynchronous(engine, cluster) is True
    placed = [engine.evaluations[k].result for k in durations.order]
    assert [(r.slot, r.started, r.ended) for r in placed] == [
        (0, 0, 3),
        (1, 0, 1),
        (1, 1, 3),
        (0, 3, 7),
    ]
    assert cluster.now == 7 and [e.key for e in engine.evaluations.values()] == [
        durations.order[i] for i in (1, 0, 2, 3)
    ], "the journal's order is the order results were told"


def test_generational_schedule_waits_for_the_slowest_training_of_a_generation():
    engine = SearchEngine(space(population=3, generations=1, selection="tournament"), 2)
    cluster = SimulatedCluster(2, InOrder([5, 1, 1, 1, 1, 1]), score)
    assert run_generations(engine, cluster) is True
    by_generation = {}
    for e in engine.evaluations.values():
        by_generation.setdefault(e.generation, []).append(e.result)
    first_end = max(r.ended for r in by_generation[0])
    assert first_end == 5  # the first handed out (5 s) ran alone on its slot, the rest beside it
    assert min(r.started for r in by_generation[1]) == first_end  # the barrier


def test_duration_model_prefers_the_measured_time():
    model = DurationModel({"a": 12.0}, lambda c: 99.0)
    engine = SearchEngine(space(), 0)
    candidate = engine.ask(1)[0]
    assert model(candidate) == 99.0 and model.measured[candidate.key] == 99.0
    with pytest.raises(ValueError, match="slots"):
        SimulatedCluster(0, model, score)
