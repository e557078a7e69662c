import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nas.fidelity.__main__ import _train_all, _wide, main
from nas.fidelity.study import (
    FidelityError,
    Study,
    agreement,
    cheapest_reliable,
    fidelity_summary,
    parse_fidelity,
    spread_sample,
)
from nas.search.result import CandidateResult, Evaluation

from ..helpers import run_cli, tiny_space, write_space


def test_agreement_of_identical_and_reversed_rankings():
    scores = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) * 2, "c": -np.arange(10.0)})
    pairs = agreement(scores, ["a", "b", "c"], resamples=200).set_index(["a", "b"])
    assert pairs.loc[("a", "b"), "kendall_tau"] == pytest.approx(1.0)
    assert pairs.loc[("a", "b"), "top5_overlap"] == 1.0
    assert (
        pairs.loc[("a", "c"), "spearman_rho"] == pytest.approx(-1.0)
        and pairs.loc[("a", "c"), "top5_overlap"] == 0
    )


def test_cheapest_reliable_fidelity():
    pairs = pd.DataFrame(
        [
            {"a": "cheap", "b": "dear", "kendall_tau": 0.8},
            {"a": "mid", "b": "dear", "kendall_tau": 0.9},
        ]
    )
    assert cheapest_reliable(pairs, {"cheap": 1.0, "mid": 5.0}, "dear") == ("cheap", True)
    pairs.loc[0, "kendall_tau"] = 0.5
    assert cheapest_reliable(pairs, {"cheap": 1.0, "mid": 5.0}, "dear") == ("mid", True)
    pairs.loc[1, "kendall_tau"] = 0.6
    assert cheapest_reliable(pairs, {"cheap": 1.0, "mid": 5.0}, "dear") == ("mid", False)


def test_a_cost_cap_leaves_out_dearer_fidelities():
    pairs = pd.DataFrame(
        [
            {"a": "cheap", "b": "dear", "kendall_tau": 0.5},
            {"a": "mid", "b": "dear", "kendall_tau": 0.9},
        ]
    )
    assert cheapest_reliable(pairs, {"cheap": 1.0, "mid": 5.0}, "dear", max_seconds=6) == (
        "mid",
        True,
    )
    assert cheapest_reliable(pairs, {"cheap": 1.0, "mid": 5.0}, "dear", max_seconds=4) == (
        "cheap",
        False,
    )
    assert cheapest_reliable(pairs, {"cheap": 1.0, "mid": 5.0}, "dear", max_seconds=0.5) == (
        None,
        False,
    )


def test_summary_puts_each_fidelity_against_the_reference_with_its_relative_cost():
    scores = pd.DataFrame(
        {
            "default": [1.0, 2, 3, 4, 5, 6],
            "wide": [1.0, 3, 2, 4, 5, 6],
            "dear": [1.0, 2, 3, 4, 6, 5],
        }
    )
    pairs = agreement(scores, list(scores), resamples=50)
    summary = fidelity_summary(
        pairs, {"default": 2.0, "wide": 3.0, "dear": 10.0}, "dear", "default"
    ).set_index("fidelity")
    assert list(summary.index) == ["default", "wide", "dear"]  # cheapest first
    assert summary.loc["wide", "cost_vs_default"] == pytest.approx(1.5)
    assert summary.loc["default", "tau_vs_reference"] == pytest.approx(pairs.iloc[1]["kendall_tau"])
    assert summary.loc["dear", "tau_vs_reference"] == 1.0


@pytest.mark.parametrize(
    "text, message",
    [
        ("steps", "FIELD=VALUE"),
        ("steps=-3", "steps"),
        ("colour=red", "colour: unknown key"),
        ("steps=[", "not a value"),
        ("steps=!!python/name:os.system", "not a value"),
        (
            "steps=20,warmup_steps=30",
            r"^--fidelity 'steps=20,warmup_steps=30': warmup_steps: must be below steps \(20\)$",
        ),
    ],
)
def test_bad_fidelities_are_named(text, message):
    with pytest.raises(FidelityError, match=message):
        parse_fidelity(text, tiny_space())


def test_fidelity_data_of_the_other_kind_is_refused():
    srgb = tiny_space(in_channels=3, budget={"data": "synthetic-srgb"})
    with pytest.raises(
        FidelityError, match=r"data=synthetic.*holds raw mosaics \(1 channel\) but in_channels is 3"
    ):
        parse_fidelity("data=synthetic", srgb)
    assert parse_fidelity("steps=4", srgb).budget.data == "synthetic-srgb"


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan"])
def test_a_bad_cost_cap_is_one_line(tmp_path, value, capsys):
    code, lines = run_cli(main, ["--max-cost", value, "--out", str(tmp_path / "s")], capsys)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: --max-cost"), lines
    assert not (tmp_path / "s").exists()


def test_the_command_itself_prints_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "nas.fidelity", "--max-cost", "0", "--out", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: --max-cost"), proc.stderr
    assert proc.stderr.count("\n") == 1 and not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff binary",
        b"{not json",
        b"[1, 2]",
        b'{"space": {}, "count": 3}',
        b'{"space": {}, "count": 3, "seed": 0, "fidelities": "default"}',
    ],
)
def test_resuming_a_damaged_study_is_one_line_and_keeps_it(tmp_path, content, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "study.json").write_bytes(content)
    code, lines = run_cli(main, ["--resume", str(tmp_path / "s")], capsys)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: cannot resume"), lines
    assert (tmp_path / "s" / "study.json").read_bytes() == content


@pytest.mark.parametrize(
    "option, value",
    [("--cpus-per-trial", "-1"), ("--gpus-per-trial", "-1"), ("--max-concurrent", "0")],
)
def test_impossible_trial_resources_are_one_line(tmp_path, option, value, capsys):
    code, lines = run_cli(main, [option, value, "--out", str(tmp_path / "s")], capsys)
    assert code == 2 and len(lines) == 1 and option in lines[0], lines
    assert not (tmp_path / "s").exists()


def test_sample_spreads_over_cost():
    import random
    from nas.search.genome import GenomeCodec

    space = tiny_space()
    codec = GenomeCodec(space)
    genomes = spread_sample(space, 6, seed=0)
    assert len({tuple(g) for g in genomes}) == 6
    picked = [codec.cost(g).gflops for g in genomes]
    rng = random.Random(1)
    drawn = [codec.cost(codec.random_genome(rng)).gflops for _ in range(500)]
    assert picked == sorted(picked)  # cheapest to dearest
    assert picked[0] <= np.percentile(drawn, 2) and picked[-1] >= np.percentile(
        drawn, 98
    )  # the whole range
    assert np.all(np.diff(picked) > 0)  # spread, not bunched at one cost


def test_study_on_ray_writes_tables_and_resumes_without_training(tmp_path, local_ray, capsys):
    space = write_space(tmp_path / "tiny.yaml", tiny_space())
    out = tmp_path / "study"
    main(["--space", str(space), "--count", "4", "--fidelity", "steps=4", "--out", str(out)])
    capsys.readouterr()
    table = pd.read_csv(out / "fidelity.csv")
    assert len(table) == 4 and {
        "psnr default",
        "psnr steps=4",
        "synflow",
        "grad_norm",
        "jacob_cov",
    } <= set(table)
    pairs = pd.read_csv(out / "agreement.csv")
    assert len(pairs) == 10 and {"kendall_tau", "tau_ci95", "spearman_rho", "top5_overlap"} <= set(
        pairs
    )
    assert (out / "scatter_matrix.png").stat().st_size > 10_000
    journal = (out / "evaluations.jsonl").read_text().splitlines()
    assert len(journal) == 8 and {json.loads(line)["fidelity"] for line in journal} == {
        "default",
        "steps=4",
    }
    main(["--resume", str(out)])
    resumed = capsys.readouterr().out
    assert "training" not in resumed, resumed
    assert len((out / "evaluations.jsonl").read_text().splitlines()) == 8
    # A fidelity added on resume trains only its own architectures and joins the tables.
    main(
        [
            "--resume",
            str(out),
            "--fidelity",
            "steps=4",
            "--fidelity",
            "steps=6",
            "--no-zero-cost",
            "--max-cost",
            "0.01",
        ]
    )
    added = capsys.readouterr().out
    assert (
        "fidelity steps=6: training 4 architectures" in added and "steps=4: training" not in added
    )
    assert len((out / "evaluations.jsonl").read_text().splitlines()) == 12
    assert json.loads((out / "study.json").read_text())["fidelities"] == [
        "default",
        "steps=4",
        "steps=6",
    ]
    assert "psnr steps=6" in pd.read_csv(out / "fidelity.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert (
        set(summary["fidelity"]) == {"default", "steps=4", "steps=6"}
        and summary["cost_vs_default"].notna().all()
    )
    assert "no fidelity costs at most 0.01x the default's seconds" in added, added.stdout


DATA = Path(__file__).parents[2].parent / "bench" / "data"


def test_the_committed_study_and_journal_still_load():
    study = Study.from_json((DATA / "fidelity_rcab_dense.study.json").read_text())
    assert (study.count, study.seed, study.fidelities[0]) == (24, 0, "default")
    assert Study.from_json(study.to_json()) == study
    lines = gzip.decompress((DATA / "fidelity_rcab_dense.jsonl.gz").read_bytes()).decode()
    evaluations = [Evaluation.from_json(line) for line in lines.splitlines()]
    assert {e.fidelity for e in evaluations} == set(study.fidelities)  # from the older "extra"
    assert all("fidelity" not in e.extra for e in evaluations)
    table = _wide(evaluations)
    assert len(table) == 24 and table[[f"psnr {f}" for f in study.fidelities]].notna().all().all()


class LandscapeTrainer:
    """Scores candidates on a synthetic landscape that depends on the budget (no training)."""

    def __init__(self):
        self.trained = []

    def evaluate(self, candidates, generation, on_result=None):
        results = {}
        for c in candidates:
            self.trained.append((c.budget.steps, c.key))
            psnr = 30.0 + sum(g.num_blocks for g in c.spec.groups) / c.budget.steps
            results[c.key] = CandidateResult("ok", psnr, 0.9, 1, 1.0, steps=c.budget.steps)
            on_result(c.key, results[c.key])
        return results


def test_each_fidelity_is_its_own_field_not_a_generation(tmp_path):
    space = tiny_space()
    study = Study(space, 4, 0, ("default",)).with_fidelities(["steps=4", "steps=6"])
    fidelities = [parse_fidelity(text, space) for text in study.fidelities]
    genomes = spread_sample(space, study.count, study.seed)
    trainer = LandscapeTrainer()
    evaluations = _train_all(tmp_path, study, genomes, fidelities, trainer)
    assert len(trainer.trained) == len(set(trainer.trained)) == 12
    lines = [json.loads(line) for line in (tmp_path / "evaluations.jsonl").read_text().splitlines()]
    assert [line["fidelity"] for line in lines] == [f for f in study.fidelities for _ in range(4)]
    assert {line["generation"] for line in lines} == {0}
    assert not any(line["extra"] for line in lines)
    assert {(e.fidelity, e.result.steps) for e in evaluations} == {
        ("default", space.budget.steps),
        ("steps=4", 4),
        ("steps=6", 6),
    }
    again = LandscapeTrainer()
    assert len(_train_all(tmp_path, study, genomes, fidelities, again)) == 12 and not again.trained
