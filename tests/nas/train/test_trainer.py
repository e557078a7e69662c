"""The one training loop: typed results, validation cadence, hooks, and the config's options."""

import argparse

import pytest
import torch
from pydantic import ValidationError

from models import ArchSpec, GroupSpec, ModelFile, read_state_dict
from models.spec import GROUP_NAMES
from nas.data import training_sampler, validation_set
from nas.train import __main__ as train
from nas.train.config import TrainConfig, TrainError
from nas.train.hooks import Hook
from nas.train.options import add_training_arguments, config_from
from nas.train.trainer import TrainResult, Trainer, TrainSummary, train_network

from .test_train import COMMON, tiny_spec_file

SPEC = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))


def trainer(hooks=(), **config):
    config = TrainConfig(**{"steps": 6, "batch_size": 2, "patch_size": 16, **config})
    torch.set_num_threads(1)
    return Trainer(
        SPEC, training_sampler("synthetic"), validation_set("synthetic", 2, 16), config, hooks=hooks
    )


class Recorder(Hook):
    def __init__(self):
        self.steps, self.validations, self.closed = [], [], False

    def on_step(self, trainer):
        self.steps.append(trainer.step)

    def on_validation(self, trainer, record, improved):
        self.validations.append((record.step, improved))

    def close(self):
        self.closed = True


def test_advance_trains_to_the_step_validates_and_returns_a_typed_result():
    recorder = Recorder()
    training = trainer([recorder], val_every=2)
    first = training.advance(3)
    assert isinstance(first, TrainResult) and first.step == 3
    assert [step for step, _ in first.curve] == [2, 3] and first.psnr == first.curve[-1][1]
    assert 0 < first.ssim < 1 and first.final_loss > 0 and first.seconds > 0
    last = training.advance(100)  # never beyond config.steps
    assert last.step == 6 and [step for step, _ in last.curve] == [2, 3, 4, 6]
    assert last.best_psnr == max(psnr for _, psnr in last.curve)
    again = training.advance(6)  # nothing left to train: the same result
    assert (again.step, again.curve, again.final_loss) == (last.step, last.curve, last.final_loss)
    assert recorder.steps == [1, 2, 3, 4, 5, 6] and recorder.validations[0] == (2, True)
    training.close()
    assert recorder.closed


def test_advancing_in_pieces_trains_the_same_network():
    whole, pieces = trainer(), trainer()
    whole.advance(6)
    for rung in (1, 4, 6):
        pieces.advance(rung)
    for key, value in whole.model.state_dict().items():
        assert torch.equal(pieces.model.state_dict()[key], value)


def test_warm_up_and_channels_last_reach_the_training():
    plain, warmed = trainer().advance(6), trainer(warmup_steps=3).advance(6)
    assert warmed.psnr != plain.psnr
    layout = trainer(channels_last=True)
    assert layout.advance(6).psnr == pytest.approx(plain.psnr, abs=1e-3)
    conv = next(m for m in layout.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"steps": 0}, "steps"),
        ({"patch_size": 12}, "patch_size"),
        ({"lr": float("inf")}, "lr"),
        ({"lr": 0}, "lr"),
        ({"val_every": 0}, "val_every"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"amp": "fp8"}, "amp"),
        ({"steps": 4, "warmup_steps": 4}, None),
        ({"sheduler": "cosine"}, "sheduler"),
    ],
)
def test_the_config_refuses_bad_values(fields, field):
    with pytest.raises(ValidationError) as err:
        TrainConfig(**{"steps": 10, **fields})
    assert (err.value.errors()[0]["loc"] or (None,))[0] == field
    with pytest.raises(TrainError):
        TrainConfig(steps=10).replace(**fields)


def test_the_command_line_defaults_are_the_configs():
    parser = argparse.ArgumentParser()
    add_training_arguments(parser)
    args = parser.parse_args(["--steps", "7"])
    assert config_from(args).model_dump(exclude={"device"}) == TrainConfig(steps=7).model_dump(
        exclude={"device"}
    )
    args = parser.parse_args(["--steps", "7", "--warmup-steps", "2", "--channels-last"])
    assert config_from(args).warmup_steps == 2 and config_from(args).channels_last


def test_full_training_warms_up_from_the_command_line(tmp_path, capsys):
    arch = str(tiny_spec_file(tmp_path / "spec.json"))
    runs = {}
    for name, extra in (("plain", []), ("warm", ["--warmup-steps", "2"])):
        argv = ["--arch", arch, "--steps", "4", "--val-every", "2", *COMMON, *extra]
        train.main([*argv, "--out", str(tmp_path / name)])
        runs[name] = read_state_dict(tmp_path / name / "final.pt")
    assert any(not torch.equal(runs["plain"][k], runs["warm"][k]) for k in runs["plain"])
    saved = torch.load(tmp_path / "warm" / "last.pt", weights_only=True)
    assert saved["config"]["warmup_steps"] == 2
    argv = ["--arch", arch, "--steps", "4", "--val-every", "2", *COMMON, "--resume"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:  # resumed without its warm-up
        train.main([*argv, "--out", str(tmp_path / "warm")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "warmup_steps=2" in err[0]


def test_train_network_returns_a_typed_summary(tmp_path):
    summary = train_network(
        SPEC,
        training_sampler("synthetic"),
        validation_set("synthetic", 2, 16),
        tmp_path,
        TrainConfig(steps=2, batch_size=2, patch_size=16, val_every=1),
        progress=False,
    )
    assert isinstance(summary, TrainSummary) and summary.steps == 2
    assert summary.final.is_file() and summary.best.is_file() and summary.metrics.is_file()
    assert ModelFile.load(summary.best).metrics["val_psnr"] == summary.best_psnr
