"""bench/cluster_runs.py: the resumable CSV of finished runs (a row cut short by a kill is dropped,
a foreign CSV is refused untouched), the best-so-far curve and the utilization until the last
launch on a hand-computed schedule."""

import math
import sys
from pathlib import Path

import pytest

from nas.search.timeline import Interval

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import cluster_runs as runs  # noqa: E402


def record(seed=0, curve=((10.0, 40.0), (25.5, 41.25))):
    return runs.RunRecord("aging", "asynchronous", 8, seed, 256, 250, 100.0, 90.0, 0.9, 1.0, curve)


def test_rows_come_back_as_written(tmp_path):
    store = runs.RunStore(tmp_path / "runs.csv")
    written = [record(0), record(1, ((3.0, 39.123456789012345),))]
    for r in written:
        store.append(r)
    assert store.load() == written


def test_a_row_cut_short_is_dropped_and_the_next_append_is_clean(tmp_path):
    path = tmp_path / "runs.csv"
    store = runs.RunStore(path)
    store.append(record(0))
    with path.open("a") as handle:
        handle.write("aging,asynchronous,8,1,256,250,100.0")  # killed mid-row
    assert store.load() == [record(0)]
    store.append(record(2))
    assert [r.seed for r in store.load()] == [0, 2]


def test_a_header_cut_short_reads_as_empty(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("scheme,mode,sl")
    assert runs.RunStore(path).load() == []
    assert path.read_text() == ""


def test_a_foreign_csv_is_refused_and_left_as_it_was(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("scheme,mode,slots\ntournament,generational,8")
    with pytest.raises(runs.StoreError, match="not a run CSV"):
        runs.RunStore(path).load()
    assert path.read_text() == "scheme,mode,slots\ntournament,generational,8"


def test_the_curve_keeps_improvements_and_answers_time_to_target():
    curve = runs.improvements([(30.0, 41.0), (10.0, 40.0), (20.0, 39.0), (40.0, 41.0)])
    assert curve == ((10.0, 40.0), (30.0, 41.0))
    r = record(curve=curve)
    assert r.time_to(40.5) == 30.0
    assert r.time_to(41.5) == math.inf
    assert r.best_by(29.0) == 40.0
    assert r.best_by(5.0) == -math.inf


def test_utilization_until_the_last_launch_on_a_hand_computed_schedule():
    # two slots: slot 0 busy 0-10 and 10-30, slot 1 busy 0-4 then idle, launched again at 20
    placed = [
        Interval("a", 0, 0.0, 10.0, "ok", 0),
        Interval("b", 0, 10.0, 30.0, "ok", 0),
        Interval("c", 1, 0.0, 4.0, "ok", 0),
        Interval("d", 1, 20.0, 50.0, "ok", 0),
    ]
    # until 20 (the last launch): slot 0 busy 20, slot 1 busy 4, of 2 x 20
    assert runs.busy_share(placed, 2, 20.0) == pytest.approx(24 / 40)
