import numpy as np
import pytest

from models import ArchSpec
from nas.data import training_sampler, validation_set
from nas.inference import DEFAULT_ENSEMBLE_PROTOCOL
from nas.distill.ablation import ablation_table, format_table
from nas.distill.pipeline import run_distillation
from nas.distill.stages import (
    DIFFERENCES,
    STAGES,
    DistillPlan,
    Stage,
    Targets,
    chain,
    control_for,
    entry,
    rows,
    trained,
)
from nas.train.trainer import TrainConfig

from ..train.test_train import tiny_spec_file


def test_every_reference_names_an_earlier_entry():
    seen = set()
    for step in STAGES:
        if isinstance(step, Stage):
            refs = [step.parent, step.targets]
        else:
            refs = list(step.teachers)
        assert {r for r in refs if r is not None} <= seen, step.name
        assert step.name not in seen
        seen.add(step.name)
    for difference in DIFFERENCES:
        assert entry(difference.minuend) in rows() and entry(difference.subtrahend) in rows()


def test_target_sets_are_taught_by_one_stage_per_network():
    for targets in (s for s in STAGES if isinstance(s, Targets)):
        networks = [entry(name).network for name in targets.teachers]
        assert len(set(networks)) == len(networks), targets.name


def test_a_control_repeats_the_training_of_its_stage_on_the_labelled_pairs_only():
    controls = [s for s in trained() if s.control_of]
    assert {c.control_of for c in controls} == {"step3_original", "step3_siamese", "step4_siamese"}
    for control in controls:
        distilled = entry(control.control_of)
        assert control_for(distilled.name) == control
        assert [s.schedule for s in chain(control)] == [s.schedule for s in chain(distilled)]
        assert {s.network for s in chain(control)} == {distilled.network}
        assert {s.targets for s in chain(control)} == {None}
        assert distilled.targets is not None


def test_a_stage_config_comes_from_its_schedule(tmp_path):
    spec = ArchSpec.from_json(tiny_spec_file(tmp_path / "spec.json").read_text())
    plan = DistillPlan(spec, spec, TrainConfig(steps=2, seed=7), TrainConfig(steps=3, seed=7))
    assert plan.config(entry("step1_siamese")) == plan.train
    assert plan.config(entry("control4_siamese")) == plan.config(entry("step4_siamese"))
    assert plan.config(entry("step4_siamese")) == plan.finetune.replace(seed=7 + 4)
    assert plan.config(entry("step3_original")).seed == 7 + 3


# A graph of our own, with names that say nothing of their network: the pipeline, the ablation
# table and its gains must all follow the table.
OWN_GRAPH = (
    Stage("a", "siamese", parent=None, targets=None, schedule=1, step="first", label="A"),
    Targets("labels", teachers=("a",), average=True, added_to_labelled=False, step="t", label="T"),
    Stage("b", "original", parent=None, targets="labels", schedule=3, step="second", label="B"),
    Stage(
        "c",
        "original",
        parent=None,
        targets=None,
        schedule=3,
        step="third",
        label="C",
        control_of="b",
    ),
)


def test_the_pipeline_runs_the_graph_it_is_given(tmp_path):
    original = ArchSpec.from_json(tiny_spec_file(tmp_path / "o.json", "residual").read_text())
    siamese = ArchSpec.from_json(tiny_spec_file(tmp_path / "s.json", "rcab").read_text())
    common = dict(batch_size=2, patch_size=16, val_every=2, device="cpu")
    plan = DistillPlan(
        original, siamese, TrainConfig(steps=2, **common), TrainConfig(steps=3, **common)
    )
    sampler = training_sampler("synthetic")
    unlabeled = np.random.default_rng(0).random((2, 32, 32), dtype=np.float32)
    out = tmp_path / "out"
    table = run_distillation(
        plan, sampler, unlabeled, validation_set("synthetic", 2, 16), out, stages=OWN_GRAPH
    )
    assert sorted(p.name for p in out.iterdir()) == ["a", "ablation.csv", "b", "c", "labels.npz"]
    with np.load(out / "labels.npz", allow_pickle=False) as labels:
        assert set(labels) == {"fingerprint", "noisy", "average", "siamese"}
        np.testing.assert_array_equal(labels["average"], labels["siamese"])
    assert list(table["stage"]) == ["a", "", "b", "c"]
    assert list(table["step"]) == ["first", "t", "second", "third"]
    assert list(table["network"]) == ["A", "T", "B", "C"]
    assert list(table["optimizer_steps"].astype("float").fillna(-1)) == [2, -1, 3, 3]
    by_stage = table.set_index("stage")
    assert by_stage.loc["b", "gain_over_control"] == pytest.approx(
        by_stage.loc["b", "psnr"] - by_stage.loc["c", "psnr"]
    )
    assert table["gain_over_control"].notna().sum() == 1
    # A target set of one teacher: its row is that network, the same as the stage's row.
    assert by_stage.loc["", "psnr"] == pytest.approx(by_stage.loc["a", "psnr"])
    # The x8 column says which ensemble protocol made it; another protocol gives other figures.
    assert (table["x8_protocol"] == DEFAULT_ENSEMBLE_PROTOCOL).all()
    val = validation_set("synthetic", 2, 16)
    other = "paper" if DEFAULT_ENSEMBLE_PROTOCOL == "phase" else "phase"
    rescored = ablation_table(plan, out, val, stages=OWN_GRAPH, ensemble_protocol=other)
    assert (rescored["x8_protocol"] == other).all()
    np.testing.assert_allclose(rescored["psnr"], table["psnr"], rtol=0, atol=1e-9)
    assert (abs(rescored["psnr_x8"] - table["psnr_x8"]) > 1e-4).all()
    assert f"psnr_x8 ({other})" in format_table(rescored)
