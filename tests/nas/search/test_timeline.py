"""Utilization and timeline.png from the placed results of a run."""

from dataclasses import replace

from nas.search.engine import SearchEngine
from nas.search.report import write_reports
from nas.search.result import CandidateResult, Evaluation
from nas.search.timeline import plot_timeline, utilization, utilization_line

from ..helpers import tiny_space


def placed(engine, candidate, slot, started, ended):
    result = CandidateResult("ok", 30.0, 0.9, 10, 1.0, started=started, ended=ended, slot=slot)
    engine.tell(candidate.key, result)


def test_utilization_and_timeline_of_a_small_schedule(tmp_path):
    engine = SearchEngine(tiny_space(evolution={"population": 4, "generations": 0}), 0, tmp_path)
    a, b, c, d = engine.ask()
    for candidate, slot, start, end in ((a, 0, 0, 3), (b, 1, 0, 1), (c, 1, 1, 3), (d, 0, 3, 7)):
        placed(engine, candidate, slot, start, end)
    evaluations = list(engine.evaluations.values())
    assert utilization(evaluations) == 10 / 14  # busy 3 + 1 + 2 + 4 of 2 slots x 7 s
    assert utilization(evaluations, slots=4) == 10 / 28
    assert "71.4%" in utilization_line(evaluations) and "on 2 slots" in utilization_line(
        evaluations
    )
    write_reports(engine)
    assert (tmp_path / "timeline.png").stat().st_size > 1000
    table = (tmp_path / "evaluations.csv").read_text().splitlines()
    assert {"started", "ended", "node", "gpu", "slot", "retries"} <= set(table[0].split(","))


def test_nothing_placed_draws_nothing(tmp_path):
    engine = SearchEngine(tiny_space(), 0)
    candidate = engine.ask(1)[0]
    engine.tell(candidate.key, CandidateResult("ok", 30.0, 0.9, 10, 1.0))
    assert utilization(engine.evaluations.values()) is None
    assert not plot_timeline(engine.evaluations.values(), tmp_path / "t.png")


def test_a_journal_line_without_placement_reads_as_before():
    engine = SearchEngine(tiny_space(), 0)
    candidate = engine.ask(1)[0]
    engine.tell(candidate.key, CandidateResult("ok", 30.0, 0.9, 10, 1.0))
    old = next(iter(engine.evaluations.values()))
    line = old.to_json()
    assert '"slot"' not in line and Evaluation.from_json(line) == old
    moved = replace(old, result=replace(old.result, slot=3, started=1.0, ended=2.0, node="n"))
    assert Evaluation.from_json(moved.to_json()).result.slot == 3
