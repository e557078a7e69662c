import numpy as np
import pandas as pd
import pytest
import torch

from models import ArchSpec
from nas.data import training_sampler, validation_set
from nas.distill.pipeline import network_outputs
from nas.distill import __main__ as distill
from nas.distill.stages import chain, entry, trained
from nas.train.trainer import TrainConfig, train_network

from ..data.test_camera_raw import write_camera_dng
from ..train.test_train import COMMON, tiny_spec_file

TRAINED = [stage.name for stage in trained()]


def tiny_argv(tmp_path, out, *extra):
    """A tiny distillation: 2 training steps, fine-tuning stages of 3 steps."""
    original = tiny_spec_file(tmp_path / "original.json", "residual")
    siamese = tiny_spec_file(tmp_path / "siamese.json", "rcab")
    return [
        "--original",
        str(original),
        "--siamese",
        str(siamese),
        "--steps",
        "2",
        "--finetune-steps",
        "3",
        "--val-every",
        "2",
        "--unlabeled-blocks",
        "4",
        "--unlabeled-size",
        "32",
        "--out",
        str(out),
        *COMMON,
        *extra,
    ]


def test_tiny_distillation_runs_all_four_stages_and_the_controls(tmp_path, capsys):
    out = tmp_path / "distill"
    argv = tiny_argv(tmp_path, out)
    distill.main(argv)
    for stage in TRAINED:
        assert (out / stage / "final.pt").is_file(), stage
    table = pd.read_csv(out / "ablation.csv")
    assert list(table["step"]) == [
        "step 1",
        "step 1",
        "step 2",
        "step 3",
        "step 3",
        "step 4",
        "control 3",
        "control 3",
        "control 4",
    ]
    assert table["psnr"].notna().all() and table["psnr_x8"].notna().all()
    assert not table["validation_pseudo_labelled"].any()
    assert set(table["unlabeled"]) == {"training crops"}
    gains = table.set_index("stage")
    for distilled, control in (
        ("step3_original", "control3_original"),
        ("step3_siamese", "control3_siamese"),
        ("step4_siamese", "control4_siamese"),
    ):
        assert np.isclose(
            gains.loc[distilled, "gain_over_control"],
            gains.loc[distilled, "psnr"] - gains.loc[control, "psnr"],
        )
    assert gains["gain_over_control"].notna().sum() == 3
    printed = capsys.readouterr().out
    assert "step 4" in printed and "control 4" in printed and "ablation.csv" in printed
    assert "unlabeled inputs: training crops (synthetic)" in printed
    # Every stage is done: a resumed run retrains nothing and gives the same table.
    stamp = (out / "step4_siamese" / "final.pt").stat().st_mtime_ns
    distill.main([*argv, "--resume"])
    assert (out / "step4_siamese" / "final.pt").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(pd.read_csv(out / "ablation.csv"), table)


def adam_steps(stage_folder) -> int:
    """The optimizer steps a stage really took: Adam's own step count in its last checkpoint."""
    saved = torch.load(stage_folder / "last.pt", map_location="cpu", weights_only=True)
    counts = {int(state["step"]) for state in saved["optimizer"]["state"].values()}
    assert len(counts) == 1
    return counts.pop()


def test_controls_take_as_many_optimizer_steps_as_the_distilled_networks(tmp_path):
    out = tmp_path / "distill"
    distill.main(tiny_argv(tmp_path, out))
    steps = {stage: adam_steps(out / stage) for stage in TRAINED}
    for control in trained():
        if control.control_of:
            distilled = entry(control.control_of)
            assert sum(steps[s.name] for s in chain(control)) == sum(
                steps[s.name] for s in chain(distilled)
            ), control.name
    distilled = steps["step1_siamese"] + steps["step3_siamese"] + steps["step4_siamese"]
    control = steps["step1_siamese"] + steps["control3_siamese"] + steps["control4_siamese"]
    assert distilled == control == 2 + 3 + 3
    original = steps["step1_original"] + steps["step3_original"]
    assert original == steps["step1_original"] + steps["control3_original"] == 2 + 3
    # ... with the same fine-tuning schedule (steps, learning rate, seed) as the stage they match
    config = {
        stage: torch.load(out / stage / "last.pt", weights_only=True)["config"] for stage in TRAINED
    }
    assert config["control3_siamese"] == config["step3_siamese"] == config["control3_original"]
    assert config["control4_siamese"] == config["step4_siamese"] != config["step3_siamese"]
    assert config["control3_siamese"]["lr"] < config["step1_siamese"]["lr"]
    # ... and the table reports those counts.
    table = pd.read_csv(out / "ablation.csv").set_index("stage")
    assert (
        table.loc["step4_siamese", "optimizer_steps"]
        == table.loc["control4_siamese", "optimizer_steps"]
        == 8
    )
    assert (
        table.loc["step3_original", "optimizer_steps"]
        == table.loc["control3_original", "optimizer_steps"]
        == 5
    )


def test_pseudo_labels_follow_their_inputs(tmp_path):
    original = tiny_spec_file(tmp_path / "original.json", "residual")
    siamese = tiny_spec_file(tmp_path / "siamese.json", "rcab")
    out = tmp_path / "distill"
    argv = [
        "--original",
        str(original),
        "--siamese",
        str(siamese),
        "--steps",
        "2",
        "--finetune-steps",
        "2",
        "--val-every",
        "2",
        "--unlabeled-size",
        "32",
        "--out",
        str(out),
        *COMMON,
    ]
    distill.main([*argv, "--unlabeled-blocks", "4"])
    distill.main([*argv, "--unlabeled-blocks", "2", "--resume"])  # other inputs: labels made anew
    for name in ("step2_pseudo_labels.npz", "step4_targets.npz"):
        with np.load(out / name, allow_pickle=False) as labels:
            assert len(labels["noisy"]) == 2, name


def test_a_damaged_pseudo_label_cache_is_recomputed_on_resume(tmp_path):
    out = tmp_path / "distill"
    argv = tiny_argv(tmp_path, out)
    distill.main(argv)
    with np.load(out / "step2_pseudo_labels.npz", allow_pickle=False) as labels:
        expected = dict(labels)
    (out / "step2_pseudo_labels.npz").write_bytes(b"junk, not a zip")
    distill.main([*argv, "--resume"])
    with np.load(out / "step2_pseudo_labels.npz", allow_pickle=False) as labels:
        assert set(labels) == set(expected)
        np.testing.assert_array_equal(labels["noisy"], expected["noisy"])


def test_distillation_pseudo_labels_a_folder_of_camera_raws(tmp_path):
    raws = tmp_path / "raws"
    raws.mkdir()
    for i, pattern in enumerate(("BGGR", "GRBG")):
        write_camera_dng(raws / f"IMG_{i}.dng", pattern, height=64, width=80, seed=i)
    original = tiny_spec_file(tmp_path / "original.json", "residual")
    siamese = tiny_spec_file(tmp_path / "siamese.json", "rcab")
    out = tmp_path / "distill"
    distill.main(
        [
            "--original",
            str(original),
            "--siamese",
            str(siamese),
            "--steps",
            "2",
            "--finetune-steps",
            "2",
            "--val-every",
            "2",
            "--unlabeled",
            f"raws:{raws}",
            "--unlabeled-blocks",
            "3",
            "--unlabeled-size",
            "32",
            "--out",
            str(out),
            *COMMON,
        ]
    )
    with np.load(out / "step2_pseudo_labels.npz", allow_pickle=False) as labels:
        assert labels["noisy"].shape == (3, 32, 32) and labels["average"].shape == (3, 32, 32)


@pytest.mark.parametrize(
    "choice, setting",
    [
        ("validation", "validation inputs (transductive)"),
        ("synthetic-unseen", "disjoint"),
    ],
)
def test_each_unlabeled_setting_is_pseudo_labelled_and_recorded(tmp_path, capsys, choice, setting):
    out = tmp_path / "distill"
    argv = tiny_argv(tmp_path, out, "--unlabeled", choice, "--val-block-size", "32")
    distill.main(argv)
    table = pd.read_csv(out / "ablation.csv")
    assert set(table["unlabeled"]) == {setting}
    transductive = choice == "validation"
    assert set(table["unlabeled_source"]) == {"synthetic" if transductive else choice}
    assert set(table["validation_pseudo_labelled"]) == {transductive}
    val = np.stack(list(validation_set("synthetic", 2, 32).noisy))
    for name in ("step2_pseudo_labels.npz", "step4_targets.npz"):
        with np.load(out / name, allow_pickle=False) as labels:
            noisy = labels["noisy"]
        if transductive:
            np.testing.assert_array_equal(noisy, val)
        else:
            assert noisy.shape == (4, 32, 32)
            assert not any(np.allclose(n, v, atol=0.05) for n in noisy for v in val)
    printed = capsys.readouterr().out
    assert f"unlabeled inputs: {setting}" in printed


def test_the_ablations_x8_column_takes_the_protocol_asked_for(tmp_path, capsys):
    out = tmp_path / "distill"
    distill.main(tiny_argv(tmp_path, out, "--ensemble-protocol", "paper"))
    table = pd.read_csv(out / "ablation.csv")
    assert set(table["x8_protocol"]) == {"paper"}
    assert "psnr_x8 (paper)" in capsys.readouterr().out


def test_pseudo_labels_are_computed_on_the_networks_device(tmp_path):
    spec = ArchSpec.from_json(tiny_spec_file(tmp_path / "spec.json").read_text())
    config = TrainConfig(steps=1, batch_size=2, patch_size=16, val_every=1, device="cpu")
    train_network(
        spec,
        training_sampler("synthetic"),
        validation_set("synthetic", 2, 16),
        tmp_path / "run",
        config,
        progress=False,
    )
    noisy = np.random.default_rng(0).random((2, 16, 16), dtype=np.float32)
    assert network_outputs(
        tmp_path / "run" / "final.pt", spec, noisy, torch.device("cpu")
    ).shape == (2, 16, 16)
    with pytest.raises(
        NotImplementedError, match="Cannot copy out of meta tensor"
    ):  # it got to the read-back
        network_outputs(tmp_path / "run" / "final.pt", spec, noisy, torch.device("meta"))


def srgb_spec_file(path, block):
    spec = ArchSpec.from_dict(
        {**ArchSpec.from_json(tiny_spec_file(path, block).read_text()).to_dict(), "in_channels": 3}
    )
    path.write_text(spec.to_json())
    return path


def test_tiny_srgb_distillation_runs_every_stage_on_3_channels(tmp_path, capsys):
    out = tmp_path / "distill"
    siamese = srgb_spec_file(tmp_path / "siamese.json", "rcab")
    argv = [
        "--siamese",
        str(siamese),
        "--steps",
        "2",
        "--finetune-steps",
        "3",
        "--val-every",
        "2",
        "--unlabeled-blocks",
        "4",
        "--unlabeled-size",
        "32",
        "--out",
        str(out),
        "--batch-size",
        "2",
        "--patch-size",
        "16",
        "--val-blocks",
        "2",
        "--val-block-size",
        "16",
        "--threads",
        "1",
        "--width-multiplier",
        "0.125",
    ]
    distill.main(argv)  # the original defaults to mwresnet for sRGB, the data to synthetic-srgb
    for stage in TRAINED:
        assert (out / stage / "final.pt").is_file(), stage
    with np.load(out / "step4_targets.npz", allow_pickle=False) as targets:
        assert targets["noisy"].shape == (4, 3, 32, 32) and targets["siamese"].shape == (
            4,
            3,
            32,
            32,
        )
    table = pd.read_csv(out / "ablation.csv")
    assert table["psnr"].notna().all() and table["psnr_x8"].notna().all()


def test_raw_original_with_srgb_siamese_is_one_line(tmp_path, capsys):
    siamese = srgb_spec_file(tmp_path / "siamese.json", "rcab")
    original = tiny_spec_file(tmp_path / "original.json", "residual")  # a raw network's spec
    with pytest.raises(SystemExit) as info:
        distill.main(["--original", str(original), "--siamese", str(siamese), "--steps", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        info.value.code == 2 and len(err) == 1 and "both networks must take the same data" in err[0]
    )


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--finetune-steps", "0", "at least 1"),
        ("--unlabeled-blocks", "0", "at least 1"),
        ("--unlabeled-size", "7", "multiple of 8"),
        ("--unlabeled-size", "100000", "larger than a training photo"),
        ("--unlabeled-size", "16", "must be at least 18"),
        ("--unlabeled", "validation", "patches that need 18"),  # validation blocks of 16
        ("--unlabeled", "synthetic-nowhere", "unknown data source"),
    ],
)
def test_bad_sizes_are_one_line_before_any_training(tmp_path, capsys, option, value, message):
    out = tmp_path / "distill"
    with pytest.raises(SystemExit) as exit_info:
        distill.main(tiny_argv(tmp_path, out, option, value))
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()
