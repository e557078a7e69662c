import json

import pandas as pd
import pytest

from nas.analyze import __main__ as analyze
from nas.search.engine import SearchEngine
from nas.search.generational import run_generations
from nas.search.evaluators import InProcessEvaluator

from ..helpers import tiny_space, write_space


def test_analysis_of_a_small_database_with_a_scored_reference(tmp_path, capsys):
    space = tiny_space(evolution={"selection": "random", "population": 12, "generations": 0})
    space_file = write_space(tmp_path / "tiny.yaml", space)
    run_generations(SearchEngine(space, 0, tmp_path / "run"), InProcessEvaluator(threads=1))
    genome = tmp_path / "reference.json"
    genome.write_text(json.dumps({"genome": [2, 2] * 5 + [0, 0, 0], "space": str(space_file)}))
    analyze.main(
        [
            str(tmp_path / "run"),
            "--space",
            str(space_file),
            "--score-genome",
            str(genome),
            "--out",
            str(tmp_path / "out"),
            "--export",
            str(tmp_path / "db.csv.gz"),
        ]
    )
    effects = pd.read_csv(tmp_path / "out" / "gene_effects.csv")
    assert len(effects) == 5 * 4 and effects.groupby("group")["n"].sum().eq(12).all()
    assert set(pd.read_csv(tmp_path / "out" / "gene_importance.csv")["gene"]) >= {
        "enc1 count",
        "dec1 block type",
    }
    assert (tmp_path / "out" / "analysis.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "percentile" in printed and "c2-c2-c2-c2-c2" in printed
    assert len(pd.read_csv(tmp_path / "db.csv.gz")) == 12


def test_a_genome_is_scored_at_the_budget_the_database_was_made_with(tmp_path, capsys):
    space = tiny_space(
        evolution={"selection": "random", "population": 10, "generations": 0}, budget={"steps": 3}
    )
    space_file = write_space(tmp_path / "tiny.yaml", space)
    run_generations(SearchEngine(space, 0, tmp_path / "run"), InProcessEvaluator(threads=1))
    genome = tmp_path / "reference.json"
    genome.write_text(json.dumps({"genome": [2, 2] * 5 + [0, 0, 0], "space": str(space_file)}))
    analyze.main(
        [
            str(tmp_path / "run"),
            "--export",
            str(tmp_path / "db.csv.gz"),
            "--out",
            str(tmp_path / "a"),
        ]
    )
    for database in (tmp_path / "run", tmp_path / "db.csv.gz"):  # no --space: the recorded one
        analyze.main([str(database), "--score-genome", str(genome), "--out", str(tmp_path / "b")])
        assert pd.read_csv(tmp_path / "b" / "reference.csv")["steps"].item() == 3


def test_too_small_or_missing_database_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        analyze.main([str(tmp_path / "nothing")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "not found" in err[0]
    space = tiny_space(evolution={"selection": "random", "population": 3, "generations": 0})
    run_generations(SearchEngine(space, 0, tmp_path / "small"), InProcessEvaluator(threads=1))
    with pytest.raises(SystemExit) as exit_info:
        analyze.main([str(tmp_path / "small")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "3 fully trained architectures" in err[0]
    assert "needs 10 or more" in err[0]


def test_a_diverged_training_is_left_out_and_named(tmp_path, capsys):
    space = tiny_space(
        evolution={"selection": "random", "population": 12, "generations": 0},
        budget={"rungs": [0.5], "steps": 4},
    )
    space_file = write_space(tmp_path / "tiny.yaml", space)
    run_generations(SearchEngine(space, 0, tmp_path / "run"), InProcessEvaluator(threads=1))
    analyze.main(
        [
            str(tmp_path / "run"),
            "--export",
            str(tmp_path / "db.csv.gz"),
            "--out",
            str(tmp_path / "a"),
        ]
    )
    table = pd.read_csv(tmp_path / "db.csv.gz")
    blown = table.loc[0, "key"]
    table.loc[0, "psnr"] = (
        json.loads(table.loc[0, "curve"])[0][1] - 30
    )  # ends 30 dB below its own curve
    table.to_csv(tmp_path / "blown.csv.gz", index=False)
    capsys.readouterr()
    analyze.main(
        [str(tmp_path / "blown.csv.gz"), "--space", str(space_file), "--out", str(tmp_path / "b")]
    )
    printed = capsys.readouterr().out
    assert "left out 1 diverged training(s)" in printed and blown in printed
    effects = pd.read_csv(tmp_path / "b" / "gene_effects.csv")
    assert effects.groupby("group")["n"].sum().eq(11).all()
