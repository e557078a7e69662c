"""bench/bench_search.py: a budget below its target, or a missing space or database, is refused
with one line, before any run."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_search  # noqa: E402


@pytest.mark.parametrize(
    "flags",
    [
        ["--max-evals", "30"],
        ["--seeds", "0"],
        ["--first-seed", "-1"],
        ["--db", "no.csv.gz"],
        ["--space", "no.yaml"],
    ],
)
def test_impossible_settings_are_a_one_line_error(monkeypatch, capsys, flags):
    argv = ["bench_search.py", "--schemes", "random", "--png", ""]
    monkeypatch.setattr(sys, "argv", argv + flags)
    with pytest.raises(SystemExit) as exited:
        bench_search.main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


class _Flat:
    """A landscape with a known optimum and no database (all ``report`` reads of one)."""

    optimum, table = 10.0, None


def _run(psnrs):
    return [(p, 1.0, 1.0) for p in psnrs]


def _guided_run(index):
    """Reaches 9.0 at evaluation 10 + index, 9.0 + 0.1 * index at 20, then 9.5 from 31."""
    psnrs = [5.0] * 9 + [9.0] * 55
    psnrs[9 : 9 + index] = [5.0] * index
    psnrs[19] = 9.0 + 0.1 * index
    psnrs[30:] = [9.5] * 34
    return _run(psnrs)


def test_per_seed_values_are_what_the_summary_takes_the_median_of(capsys):
    random_runs = [_run([5.0] * 40 + [9.0] * 24) for _ in range(6)]  # the target: 9.0
    guided_runs = [_guided_run(i) for i in range(5)] + [_run([8.0] * 64)]  # the last never
    table, seeds = bench_search.report(
        {"random": random_runs, "guided": guided_runs}, _Flat(), (24, 64), first_seed=50
    )
    guided = seeds[seeds["scheme"] == "guided"].set_index("seed")
    assert list(guided.index) == [50, 51, 52, 53, 54, 55]
    assert guided["regret@24"].round(3).tolist() == [1.0, 0.9, 0.8, 0.7, 0.6, 2.0]
    assert guided["regret@64"].round(3).tolist() == [0.5] * 5 + [2.0]
    evals = guided[bench_search.EVALS]
    assert evals.iloc[:5].tolist() == [10, 11, 12, 13, 14] and np.isnan(evals.iloc[5])
    row = table.set_index("scheme").loc["guided"]
    assert row["regret@24 median"] == pytest.approx(0.85)
    low, high = (float(v) for v in row["regret@24 median 95% CI"].split("-"))
    assert 0.6 <= low < 0.85 < high <= 2.0
    assert row[f"{bench_search.EVALS} (median)"] == 12 and row["never"] == 1


def test_a_median_interval_needs_two_values_and_leaves_nan_out():
    assert bench_search.median_interval([1.0, np.nan]) == "-"
    assert bench_search.median_interval([0.5, 0.5, np.nan, 0.5]) == "0.500-0.500"
    low, high = (float(v) for v in bench_search.median_interval(np.arange(50.0)).split("-"))
    assert 15 < low < 24.5 < high < 34
