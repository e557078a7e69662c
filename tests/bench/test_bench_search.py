"""bench/bench_search.py: a budget below its target, or a missing space or database, is refused
with one line, before any run."""

import sys
from pathlib import Path

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
