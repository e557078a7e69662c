"""The records at the worker boundary: strict JSON, one schema."""

import json
import math

import pytest

from models import mwrcanet_paper_spec
from nas.search.checkpoint import (
    JOURNAL,
    CheckpointError,
    append_evaluation,
    read_journal,
    write_checkpoint,
)
from nas.search.result import FAILED_PSNR, CandidateResult, Evaluation, RecordError


def result(**changes):
    fields = dict(
        status="ok",
        psnr=40.5,
        ssim=0.9,
        params=10,
        gflops=1.5,
        steps=300,
        final_loss=0.01,
        train_seconds=2.0,
        curve=((150, 39.0), (300, 40.5)),
    )
    return CandidateResult(**{**fields, **changes})


def test_result_and_evaluation_round_trip_through_strict_json():
    r = result()
    assert CandidateResult.from_json(r.to_json()) == r
    e = Evaluation(2, "k", (2, 20) * 5 + (1, 2, 1), mwrcanet_paper_spec(), 7, r)
    assert Evaluation.from_json(e.to_json()) == e


def test_failed_result_has_worst_fitness_and_no_nan():
    r = CandidateResult.failed("RuntimeError: boom\nsecond line")
    assert r.psnr == FAILED_PSNR and r.error == "RuntimeError: boom"
    assert r.fitness(["psnr", "gflops"]) == (FAILED_PSNR, 1e12)
    nan_loss = result(final_loss=float("nan"))
    assert nan_loss.final_loss is None and "NaN" not in nan_loss.to_json()


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"status": "ok"}', "missing fields"),
        (json.dumps({**result().to_dict(), "colour": 1}), "unknown fields"),
        (json.dumps(result().to_dict()).replace("40.5", "NaN", 1), "not strict JSON: NaN"),
        ("[1, 2", "invalid JSON"),
        (json.dumps({**result().to_dict(), "psnr": "high"}), "psnr: expected a number"),
        (json.dumps({**result().to_dict(), "params": 1.5}), "params: expected a number"),
        (json.dumps({**result().to_dict(), "status": "weird"}), "status: expected one of"),
        (json.dumps({**result().to_dict(), "error": ["x"]}), "error: expected a string"),
    ],
)
def test_bad_records_are_refused(text, message):
    with pytest.raises(RecordError, match=message):
        CandidateResult.from_json(text)


def test_checkpoint_refuses_nan(tmp_path):
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_checkpoint(tmp_path, {"elapsed_seconds": math.nan})
    assert not (tmp_path / "checkpoint.json").exists()


def test_torn_journal_line_is_dropped_and_appends_continue_on_a_new_line(tmp_path):
    e = Evaluation(0, "k", (0,) * 13, mwrcanet_paper_spec(), 1, result())
    append_evaluation(tmp_path, e)
    with open(tmp_path / JOURNAL, "a") as handle:
        handle.write('{"generation": 0, "key": "torn')  # killed mid-write
    assert read_journal(tmp_path, repair=True) == [e]
    append_evaluation(tmp_path, e)
    assert read_journal(tmp_path) == [e, e]


def test_reading_a_live_journal_never_rewrites_the_line_being_written(tmp_path):
    e = Evaluation(0, "k", (0,) * 13, mwrcanet_paper_spec(), 1, result())
    append_evaluation(tmp_path, e)
    line = e.to_json()
    with open(tmp_path / JOURNAL, "a") as writer:  # a run appending its next result
        writer.write(line[:40])
        writer.flush()
        assert read_journal(tmp_path) == [e]  # e.g. nas.analyze on the running search
        writer.write(line[40:] + "\n")
    assert read_journal(tmp_path) == [e, e]


def test_damaged_journal_line_is_a_checkpoint_error(tmp_path):
    (tmp_path / JOURNAL).write_text('{"generation": 0}\n')
    with pytest.raises(CheckpointError, match="line 1 is damaged"):
        read_journal(tmp_path)


def test_damaged_random_state_is_a_checkpoint_error(tmp_path):
    from nas.search.engine import SearchEngine
    from ..helpers import tiny_space

    SearchEngine(tiny_space(), 0, tmp_path).save()
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    state["random_state"][1] = [1, 2, 3]
    (tmp_path / "checkpoint.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="checkpoint is damaged"):
        SearchEngine.resume(tmp_path)


def _saved_run(tmp_path):
    from nas.search.engine import SearchEngine
    from ..helpers import tiny_space

    run = SearchEngine(tiny_space(), 0, tmp_path)
    run.save()
    return run


@pytest.mark.parametrize(
    "damage",
    [
        lambda state: state.update(scheme=["tournament"]),
        lambda state: state.update(logbook=[{"nevals": 3}]),
    ],
)
def test_damaged_scheme_or_logbook_is_a_checkpoint_error(tmp_path, damage):
    from nas.search.engine import SearchEngine

    _saved_run(tmp_path)
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    damage(state)
    (tmp_path / "checkpoint.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="checkpoint is damaged"):
        SearchEngine.resume(tmp_path)


@pytest.mark.parametrize("genome, generation", [([9] * 13, 0), ([0] * 13, -3)])
def test_a_journal_entry_outside_the_space_is_a_checkpoint_error(tmp_path, genome, generation):
    from nas.search.engine import SearchEngine

    run = _saved_run(tmp_path)
    key = run.codec.key([0] * 13)
    append_evaluation(
        tmp_path, Evaluation(generation, key, tuple(genome), mwrcanet_paper_spec(), 1, result())
    )
    with pytest.raises(
        CheckpointError, match="evaluations.jsonl entry .* does not fit the run's space"
    ):
        SearchEngine.resume(tmp_path)


def best_json_as_written_before(space, genome, pareto=True):
    """A best.json in the layout the search has always written (the key order included)."""
    from nas.search.genome import GenomeCodec

    codec = GenomeCodec(space)
    metrics = {"psnr": 40.5, "ssim": 0.9, "params": 10, "gflops": 1.5, "status": "ok", "steps": 3}
    data = {
        "key": codec.key(genome),
        "genome": genome,
        "spec": codec.decode(genome).to_dict(),
        "metrics": metrics,
    }
    if pareto:
        data["pareto"] = [{"key": data["key"], "genome": genome, "metrics": metrics}]
    return {**data, "space": space.to_dict(), "seed": 3, "run": "runs/x"}


@pytest.mark.parametrize("pareto", [True, False])
def test_best_json_of_before_loads_and_is_written_back_the_same(tmp_path, pareto):
    from nas.search.best import BestRecord, read_result

    from ..helpers import tiny_space

    data = best_json_as_written_before(
        tiny_space(), [2, 1, 0, 1, 1, 1, 0, 0, 2, 2, 0, 0, 0], pareto
    )
    best = BestRecord.from_json(json.dumps(data))
    assert best.metrics.psnr == 40.5 and (best.pareto is not None) == pareto
    assert json.loads(best.to_json()) == data and list(json.loads(best.to_json())) == list(data)
    (tmp_path / "best.json").write_text(json.dumps(data))
    assert read_result(tmp_path / "best.json")["key"] == best.key


def test_best_json_without_steps_loads_and_damaged_metrics_are_refused(tmp_path):
    from nas.search.best import BestRecord, ResultError, read_result

    from ..helpers import tiny_space

    data = best_json_as_written_before(tiny_space(), [2, 1, 0, 1, 1, 1, 0, 0, 2, 2, 0, 0, 0])
    del data["metrics"]["steps"]  # files written before steps were recorded
    assert BestRecord.from_dict(data).metrics.steps == 0
    data["metrics"]["psnr"] = "high"
    (tmp_path / "best.json").write_text(json.dumps(data))
    with pytest.raises(ResultError, match="psnr: expected a number"):
        read_result(tmp_path / "best.json")
