"""bench/compare_seeds.py: seeds paired across two runs; a shift shows, noise does not; a bad
table is a one-line error."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import compare_seeds  # noqa: E402

FIGURE = "regret@24"


def _table(path, regrets, seeds=None, scheme="guided", evals=None):
    seeds = list(range(len(regrets))) if seeds is None else seeds
    frame = pd.DataFrame({"scheme": scheme, "seed": seeds, FIGURE: regrets})
    if evals is not None:
        frame["evals to random's best of 64"] = evals
    frame.to_csv(path, index=False)
    return str(path)


def _summary(path):
    """A summary table (``--csv``), which has no seed column."""
    pd.DataFrame({"scheme": ["guided"], f"{FIGURE} median": [0.1]}).to_csv(path, index=False)
    return str(path)


def _row(before, after):
    table = compare_seeds.compare(
        compare_seeds.load(before, "guided"), compare_seeds.load(after, "guided")
    )
    return table.set_index("figure")


def test_a_shift_on_every_seed_is_found_and_its_interval_excludes_zero(tmp_path):
    base = np.random.default_rng(0).uniform(0.1, 0.5, 30)
    before = _table(tmp_path / "a.csv", base)
    after = _table(tmp_path / "b.csv", base - 0.05 + np.linspace(-0.01, 0.01, 30))
    row = _row(before, after).loc[FIGURE]
    assert row["median difference"] == pytest.approx(-0.05, abs=0.011)
    low, high = (float(v) for v in row["95% CI"].split(".."))
    assert high < 0 and row["Wilcoxon p"] < 1e-4
    assert (row["after lower"], row["after higher"]) == (30, 0)


def test_seeds_pair_by_number_not_by_row(tmp_path):
    before = _table(tmp_path / "a.csv", [0.1, 0.2, 0.3, 0.4], seeds=[0, 1, 2, 3])
    after = _table(tmp_path / "b.csv", [0.4, 0.3, 0.2, 0.1, 9.0], seeds=[3, 2, 1, 0, 7])
    row = _row(before, after).loc[FIGURE]
    assert row["seeds"] == 4 and row["median difference"] == 0 and row["Wilcoxon p"] == 1.0


def test_seeds_that_never_reached_the_target_are_left_out_and_counted(tmp_path):
    before = _table(tmp_path / "a.csv", [0.1] * 4, evals=[10, np.nan, 12, 13])
    after = _table(tmp_path / "b.csv", [0.1] * 4, evals=[9, 11, np.nan, 12])
    row = _row(before, after).loc["evals to random's best of 64"]
    assert row["seeds"] == 2 and row["left out"] == 2 and row["median difference"] == -1


def test_several_tables_on_one_side_are_one_run(tmp_path):
    halves = [
        _table(tmp_path / "a0.csv", [0.2, 0.2], seeds=[0, 1]),
        _table(tmp_path / "a1.csv", [0.2, 0.2], seeds=[2, 3]),
    ]
    after = _table(tmp_path / "b.csv", [0.1, 0.1, 0.1, 0.1])
    before = compare_seeds.load_all(halves, "guided")
    row = compare_seeds.compare(before, compare_seeds.load(after, "guided")).iloc[0]
    assert row["seeds"] == 4 and row["after lower"] == 4


@pytest.mark.parametrize("case", ["missing", "summary", "scheme", "one seed", "repeated"])
def test_a_bad_table_is_a_one_line_error(tmp_path, capsys, case):
    good = _table(tmp_path / "good.csv", [0.1, 0.2, 0.3])
    other = {
        "missing": str(tmp_path / "none.csv"),
        "summary": _summary(tmp_path / "summary.csv"),
        "scheme": _table(tmp_path / "other.csv", [0.1, 0.2], scheme="random"),
        "one seed": _table(tmp_path / "one.csv", [0.1], seeds=[2]),
        "repeated": [good, _table(tmp_path / "again.csv", [0.1], seeds=[1])],
    }[case]
    others = other if isinstance(other, list) else [other]
    with pytest.raises(SystemExit) as exited:
        compare_seeds.main(["--before", good, "--after", *others])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
