"""The ask/tell engine on a cheap synthetic landscape (no training): what ask hands out, what tell
accepts, steady-state steps, checkpoints taken mid-step, and the generational client's output."""

import hashlib
import json

import pytest

from nas.search.engine import SearchEngine
from nas.search.generational import run_generations
from nas.search.report import write_reports
from nas.search.result import CandidateResult
from nas.search.schemes import Aging

from ..helpers import tiny_space
from .test_schemes import LandscapeEvaluator, landscape_psnr


def scored(candidate) -> CandidateResult:
    return CandidateResult("ok", landscape_psnr(candidate.spec), 0.9, 1, 1.0, steps=1)


def small_space(**evolution):
    settings = {"selection": "tournament", "population": 6, "generations": 4, "tournament_size": 3}
    settings.update(evolution)
    return tiny_space(blocks_per_group={"min": 0, "max": 3}, evolution=settings)


def test_ask_never_hands_out_a_key_that_is_pending_or_scored():
    engine = SearchEngine(small_space(), 5)  # a small space: later generations re-propose keys
    asked, proposed = [], 0
    while not engine.finished:
        batch = engine.ask(2)
        assert all(c.key not in engine.evaluations for c in batch)
        assert not {c.key for c in batch} & (set(asked) - set(engine.pending))
        asked += [c.key for c in batch]
        for candidate in batch[:1]:  # tell one, keep the other pending for a round
            engine.tell(candidate.key, scored(candidate))
        if not batch:
            for key, candidate in list(engine.pending.items()):
                engine.tell(key, scored(candidate))
        proposed = sum(e["evals"] + e["cached"] for e in engine.logbook)
    assert len(asked) == len(set(asked)) == len(engine.evaluations)
    assert proposed > len(asked), "some proposed keys were scored already (resolved, not asked)"


def test_journalled_keys_are_resolved_without_being_asked(tmp_path):
    first = SearchEngine(small_space(generations=0), 0, tmp_path / "a")
    for candidate in first.ask():
        first.tell(candidate.key, scored(candidate))
    again = SearchEngine(small_space(generations=0), 0, tmp_path / "b")
    again.restore(first.evaluations.values())
    assert again.ask() == [] and again.finished and len(again.logbook) == 1


def test_a_generation_waits_for_its_pending_results():
    engine = SearchEngine(small_space(), 0)
    first = engine.ask()
    assert first and engine.ask() == [] and len(engine.pending) == len(first)
    assert engine.toolbox.pending() == {c.key for c in first}  # what a scheme sees as taken
    for candidate in first[:-1]:
        engine.tell(candidate.key, scored(candidate))
    assert engine.ask() == [] and not engine.logbook  # still one result short
    engine.tell(first[-1].key, scored(first[-1]))
    assert len(engine.logbook) == 1 and engine.ask()  # folded in: generation 1 is proposed


@pytest.mark.parametrize("told", ["never asked", "twice"])
def test_tell_of_a_key_that_is_not_pending_is_refused(tmp_path, told):
    engine = SearchEngine(small_space(), 0, tmp_path)
    candidate = engine.ask(1)[0]
    if told == "twice":
        engine.tell(candidate.key, scored(candidate))
        key = candidate.key
    else:
        key = "r1-r1-r1-r1-r1_w16-16-16"
    before = (tmp_path / "evaluations.jsonl").read_text() if told == "twice" else ""
    with pytest.raises(KeyError, match="not a pending candidate"):
        engine.tell(key, scored(candidate))
    journal = tmp_path / "evaluations.jsonl"
    assert (journal.read_text() if journal.exists() else "") == before


class SteadyAging(Aging):
    """Regularized evolution with a child per step, proposed while others train."""

    steady_state = True


def test_a_steady_state_scheme_is_asked_while_others_train_and_folds_each_result():
    space = small_space(selection="aging", offspring=1, generations=50)
    settings = space.evolution
    engine = SearchEngine(space, 0, scheme=SteadyAging(settings))
    for candidate in engine.ask():
        engine.tell(candidate.key, scored(candidate))
    children = engine.ask(3)
    assert len(children) == 3 and len(engine.pending) == 3  # three steps in flight
    oldest = list(engine.scheme.population[0])
    engine.tell(children[1].key, scored(children[1]))  # out of order
    # the initial individuals folded one by one, then the child told out of order
    assert len(engine.logbook) == settings.population + 1
    assert list(engine.scheme.population[0]) != oldest
    assert list(engine.scheme.population[-1]) == list(engine.evaluations[children[1].key].genome)


def test_a_checkpoint_taken_mid_generation_asks_again_for_what_was_pending(tmp_path):
    engine = SearchEngine(small_space(), 3, tmp_path)
    batch = engine.ask()
    engine.tell(batch[0].key, scored(batch[0]))
    engine.save()
    resumed = SearchEngine.resume(tmp_path)
    again = resumed.ask()
    assert [c.key for c in again] == [c.key for c in batch[1:]]
    assert again == batch[1:]  # the same candidates: spec, budget and seed
    for candidate in again:
        resumed.tell(candidate.key, scored(candidate))
    for candidate in batch[1:]:
        engine.tell(candidate.key, scored(candidate))
    assert resumed.ask() == engine.ask()  # the same next generation


# Digests of the journal and best.json (without its "run") that the generational loop wrote
# before the engine became ask/tell, on this landscape with seed 5: the loop over ask/tell must
# write the same files.
BEFORE_ASK_TELL = {
    "tournament": (
        {"population": 6, "generations": 4, "tournament_size": 3},
        "679977f3ace4f91f",
        "8e549b39cb045ff2",
    ),
    "aging": (
        {"population": 6, "generations": 6, "offspring": 2, "tournament_size": 3},
        "defa89fe3b0a69cc",
        "ec25b5d5811ff213",
    ),
    "random": ({"population": 5, "generations": 2}, "9c0bdc59e3e1a001", "658e5f30987f40ba"),
    "nsga2": ({"population": 6, "generations": 3}, "7d4f9b7680c746dc", "9b65241ee14812e7"),
}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("selection", list(BEFORE_ASK_TELL))
def test_the_generational_client_writes_the_journal_and_best_json_of_before(tmp_path, selection):
    evolution, journal_digest, best_digest = BEFORE_ASK_TELL[selection]
    settings = {"selection": selection, **evolution}
    space = tiny_space(
        blocks_per_group={"min": 0, "max": 3},
        objectives=["psnr", "gflops"] if selection == "nsga2" else ["psnr"],
        evolution=settings,
    )
    engine = SearchEngine(space, 5, tmp_path)
    assert run_generations(engine, LandscapeEvaluator()) is True
    write_reports(engine)
    best = json.loads((tmp_path / "best.json").read_text())
    assert best.pop("run") == str(tmp_path)
    # fields added to the space since the digests were taken, at their defaults
    assert best["space"]["evolution"].pop("asynchronous") is False
    assert best["space"]["evolution"].pop("trainings") == engine.space.evolution.trainings
    assert best["space"]["resources"].pop("max_retries") == 2
    for added_since in ("guided_pool", "guided_model", "acquisition"):  # settings of a new scheme
        best["space"]["evolution"].pop(added_since)
    budget = best["space"]["budget"]
    assert (budget.pop("cuda_graphs"), budget.pop("device_batches")) == ("auto", "auto")
    assert budget.pop("sync_every") == 100
    assert _digest((tmp_path / "evaluations.jsonl").read_text()) == journal_digest
    assert _digest(json.dumps(best, sort_keys=True)) == best_digest
