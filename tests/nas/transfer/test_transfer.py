"""The transfer study: its tables on controlled results, its plan, its command on a real local Ray
(trains what is missing, resumes without training) and its one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from nas.arch import resolve_arch
from nas.search.result import CandidateResult, Evaluation
from nas.transfer.__main__ import main
from nas.transfer.study import (
    Architecture,
    TransferError,
    TransferPlan,
    best_of_database,
    candidates,
    psnr_table,
    rank_agreement,
)

from ..helpers import run_cli, tiny_space, write_space

DATABASE = "bench/data/evaldb_rcab_dense.csv.gz"


def _spec(name, space):
    if name == "db#1":
        return best_of_database(DATABASE, 1, None)[0].spec
    return resolve_arch(name, space.in_channels)[0]


def _plan(names=("mwresnet", "mwrcanet_paper", "db#1"), seeds=3, fidelities=("steps=4",)):
    space = tiny_space()
    archs = tuple(Architecture(n, _spec(n, space)) for n in names)
    return TransferPlan(space, archs, ("default", *fidelities), seeds)


def _told(plan, psnrs):
    """Evaluations of ``plan`` with ``psnrs[fidelity][arch name]`` = one PSNR per seed (None:
    a failed training)."""
    keys = {a.name: a.key for a in plan.architectures}
    out = []
    for fidelity, by_arch in psnrs.items():
        for name, values in by_arch.items():
            for index, psnr in enumerate(values):
                result = (
                    CandidateResult.failed("boom")
                    if psnr is None
                    else CandidateResult("ok", psnr, 0.9, 1, 1.0, train_seconds=2.0)
                )
                out.append(
                    Evaluation(
                        0,
                        f"{keys[name]}_s{index}",
                        (),
                        plan.architectures[0].spec,
                        index,
                        result,
                        {"arch": name, "seed_index": index},
                        fidelity,
                    )
                )
    return out


def test_the_table_gives_each_mean_a_t_interval_over_its_seeds_and_skips_failures():
    plan = _plan()
    told = _told(
        plan,
        {
            "default": {
                "mwresnet": [30, 31, 32],
                "mwrcanet_paper": [33, 33.5, None],
                "db#1": [29, 29, 29.3],
            },
            "steps=4": {
                "mwresnet": [35, 35, 35],
                "mwrcanet_paper": [36, 36.2, 36.4],
                "db#1": [34, 34.1, 34.2],
            },
        },
    )
    table = psnr_table(plan, told).set_index(["fidelity", "arch"])
    row = table.loc[("default", "mwresnet")]
    half = student_t.ppf(0.975, 2) * 1.0 / np.sqrt(3)  # sd of 30, 31, 32 is 1
    assert row["psnr_mean"] == pytest.approx(31)
    assert (row["ci95_low"], row["ci95_high"]) == pytest.approx((31 - half, 31 + half))
    failed = table.loc[("default", "mwrcanet_paper")]
    assert failed["seeds"] == 2 and failed["psnr_mean"] == pytest.approx(33.25)
    assert list(table.loc["steps=4"].sort_values("rank").index) == [
        "mwrcanet_paper",
        "mwresnet",
        "db#1",
    ]
    assert list(psnr_table(plan, told)["fidelity"].unique()) == ["default", "steps=4"]


def test_tau_against_the_proxy_with_an_interval_from_the_seeds():
    plan = _plan(fidelities=("steps=4", "steps=6"))
    proxy = {
        "mwresnet": [30, 30.1, 29.9],
        "mwrcanet_paper": [32, 32.1, 31.9],
        "db#1": [34, 34.1, 33.9],
    }
    same = {name: [v + 5 for v in values] for name, values in proxy.items()}
    reversed_ = {"mwresnet": [40, 40, 40], "mwrcanet_paper": [38, 38, 38], "db#1": [36, 36, 36]}
    told = _told(plan, {"default": proxy, "steps=4": same, "steps=6": reversed_})
    rows = rank_agreement(plan, told, resamples=400).set_index("fidelity")
    assert rows.loc["steps=4", "kendall_tau"] == pytest.approx(1.0)
    assert rows.loc["steps=4", "same_best"] and rows.loc["steps=4", "best_here"] == "db#1"
    assert rows.loc["steps=6", "kendall_tau"] == pytest.approx(-1.0)
    assert not rows.loc["steps=6", "same_best"]
    assert rows.loc["steps=6", "tau_ci95_high"] == pytest.approx(-1.0)  # the seeds never reorder
    noisy = {"mwresnet": [30, 33, 27], "mwrcanet_paper": [30.5, 27, 34], "db#1": [31, 28, 34]}
    wide = rank_agreement(plan, _told(plan, {"default": noisy, "steps=4": same}), resamples=400)
    assert wide.loc[0, "tau_ci95_low"] < wide.loc[0, "kendall_tau"] <= wide.loc[0, "tau_ci95_high"]
    assert wide.loc[0, "tau_ci95_low"] <= -1 / 3


def test_a_study_of_the_proxy_alone_gives_intervals_and_no_agreement():
    plan = _plan(fidelities=())
    told = _told(plan, {"default": {"mwresnet": [30, 31, 32], "db#1": [29, 29.5, 30]}})
    table = psnr_table(plan, told).set_index("arch")
    assert table.loc["mwresnet", "psnr_mean"] == pytest.approx(31)
    assert table.loc["mwresnet", "ci95_low"] < 31 < table.loc["mwresnet", "ci95_high"]
    agreement = rank_agreement(plan, told)
    assert agreement.empty and "kendall_tau" in agreement.columns


def test_every_fidelity_trains_the_same_seeds():
    plan = _plan(seeds=2)
    default, dearer = candidates(plan, "default"), candidates(plan, "steps=4")
    assert len(default) == 6 and len({c.key for c in default}) == 6
    assert [(c.key, c.seed) for c in default] == [(c.key, c.seed) for c in dearer]
    assert {c.budget.steps for c in dearer} == {4} and {c.budget.steps for c in default} == {2}


def test_the_plan_reads_back_and_bad_plans_are_named():
    plan = _plan()
    assert TransferPlan.from_json(plan.to_json()) == plan
    with pytest.raises(TransferError, match="at least 2"):
        _plan(seeds=1)
    with pytest.raises(TransferError, match="two architectures"):
        _plan(names=("mwresnet",))
    with pytest.raises(TransferError, match="'default' first"):
        _plan(fidelities=("default", "default"))
    with pytest.raises(TransferError, match="steps"):
        _plan(fidelities=("steps=-3",))
    with pytest.raises(TransferError, match="not a transfer study"):
        TransferPlan.from_json('{"space": {}}')


def test_the_database_gives_its_best_under_the_gflops_cap():
    table = pd.read_csv(DATABASE)
    ok = table[table["status"] == "ok"]
    best = best_of_database(DATABASE, 3, 200.0)
    expected = ok[ok["gflops"] <= 200].sort_values("psnr", ascending=False)["key"].head(3)
    assert [a.key for a in best] == list(expected) and [a.name for a in best] == [
        "db#1",
        "db#2",
        "db#3",
    ]
    with pytest.raises(TransferError, match="within the GFLOPs cap"):
        best_of_database(DATABASE, 2, 1e-3)


def test_the_database_adds_its_best_below_a_named_architectures_cost():
    from models.cost import composed_cost
    from nas.transfer.__main__ import build_parser, plan_from_args

    argv = ["--arch", "mwresnet", "--database", DATABASE, "--top", "2", "--fidelity", "steps=600"]
    plan = plan_from_args(build_parser().parse_args([*argv, "--max-gflops", "mwresnet"]))
    names = [a.name for a in plan.architectures]
    cap = composed_cost(plan.architectures[0].spec).gflops
    assert names == ["mwresnet", "db#1", "db#2"] and plan.seeds == 3
    assert all(composed_cost(a.spec).gflops <= cap for a in plan.architectures[1:])
    uncapped = plan_from_args(build_parser().parse_args(argv))
    assert [a.key for a in uncapped.architectures[1:]] == [
        a.key for a in best_of_database(DATABASE, 2, None)
    ]


def _small_arch_file(tmp_path, space):
    from nas.search.genome import GenomeCodec

    codec = GenomeCodec(space)
    spec = codec.decode([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0])
    path = tmp_path / "small.json"
    path.write_text(json.dumps({"spec": spec.to_dict()}))
    return path


def test_a_study_on_ray_trains_every_seed_and_resumes_what_is_missing(tmp_path, local_ray, capsys):
    space = tiny_space()
    space_file = write_space(tmp_path / "tiny.yaml", space)
    small = _small_arch_file(tmp_path, space)
    out = tmp_path / "study"
    args = [
        "--space",
        str(space_file),
        "--arch",
        "mwresnet",
        "--arch",
        str(small),
        "--fidelity",
        "steps=3",
        "--seeds",
        "2",
        "--out",
        str(out),
    ]
    main(args)
    printed = capsys.readouterr().out
    journal = (out / "evaluations.jsonl").read_text().splitlines()
    assert len(journal) == 8 and printed.count(" ok ") == 8, printed
    table = pd.read_csv(out / "transfer.csv")
    assert len(table) == 4 and (table["seeds"] == 2).all()
    assert set(table["arch"]) == {"mwresnet", str(small)}
    agreement = pd.read_csv(out / "agreement.csv")
    assert list(agreement["fidelity"]) == ["steps=3"] and agreement["kendall_tau"].notna().all()
    assert len(pd.read_csv(out / "evaluations.csv")) == 8
    (out / "evaluations.jsonl").write_text("\n".join(journal[:-1]) + "\n")  # one lost
    main(["--resume", str(out)])
    resumed = capsys.readouterr().out
    assert resumed.count(" ok ") == 1 and json.loads(journal[-1])["key"] in resumed, resumed
    assert len((out / "evaluations.jsonl").read_text().splitlines()) == 8


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--arch", "mwresnet", "--top", "2"], "--top and --database go together"),
        (["--arch", "mwresnet", "--arch", "mwrcanet_paper", "--max-gflops", "9"], "--max-gflops"),
        (
            ["--arch", "mwresnet", "--database", DATABASE, "--top", "1", "--max-gflops", "big"],
            "--max-gflops big",
        ),
        (["--arch", "mwresnet", "--arch", "mwrcanet_paper", "--seeds", "1"], "--seeds"),
        (["--arch", "mwresnet"], "two architectures"),
        (["--arch", "no_such_net", "--arch", "mwresnet"], "no_such_net"),
        (["--arch", "mwresnet", "--arch", "mwrcanet_paper", "--fidelity", "steps"], "FIELD=VALUE"),
    ],
)
def test_bad_plans_are_one_line_and_write_nothing(tmp_path, argv, message, capsys):
    code, lines = run_cli(main, [*argv, "--out", str(tmp_path / "s")], capsys)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "s" / "transfer.json").exists()


def test_resuming_refuses_a_new_plan_and_a_damaged_one_is_kept(tmp_path, capsys):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "transfer.json").write_bytes(b"{not json")
    code, lines = run_cli(main, ["--resume", str(folder)], capsys)
    assert code == 2 and len(lines) == 1 and "not a transfer study" in lines[0], lines
    assert (folder / "transfer.json").read_bytes() == b"{not json"
    code, lines = run_cli(main, ["--resume", str(folder), "--seeds", "4"], capsys)
    assert code == 2 and lines == [
        "error: --resume continues the study as planned; drop --seeds"
    ], lines
    code, lines = run_cli(main, ["--arch", "mwresnet", "--out", str(folder)], capsys)
    assert code == 2 and "already holds a study" in lines[0], lines


def test_the_command_itself_prints_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "nas.transfer", "--resume", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: cannot resume"), proc.stderr
    assert proc.stderr.count("\n") == 1
