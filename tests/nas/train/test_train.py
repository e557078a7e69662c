import math
import re

import pandas as pd
import pytest
import torch

from models import ArchSpec, GroupSpec, read_state_dict
from models.spec import GROUP_NAMES
from nas.train import __main__ as train
from nas.data import training_sampler, validation_set
from nas.train.trainer import TrainConfig, train_network


def tiny_spec_file(path, block="rcab"):
    spec = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec(block, 1) for _ in GROUP_NAMES))
    path.write_text(spec.to_json())
    return path


COMMON = [
    "--data",
    "synthetic",
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
]


class Interrupted(Exception):
    pass


class DiesAfter:
    """A real sampler that raises once it has served ``batches`` batches (a killed run)."""

    def __init__(self, batches):
        self.sampler, self.left = training_sampler("synthetic"), batches

    def sample(self, *args):
        if self.left == 0:
            raise Interrupted()
        self.left -= 1
        return self.sampler.sample(*args)


def test_train_resume_continues_where_it_stopped(tmp_path):
    arch = tiny_spec_file(tmp_path / "spec.json")
    whole, partial = tmp_path / "whole", tmp_path / "partial"
    train.main(
        ["--arch", str(arch), "--steps", "6", "--val-every", "3", "--out", str(whole), *COMMON]
    )
    config = TrainConfig(steps=6, batch_size=2, patch_size=16, val_every=3)
    with pytest.raises(Interrupted):  # dies in step 5, after the step-3 checkpoint
        train_network(
            ArchSpec.from_json(arch.read_text()),
            DiesAfter(4),
            validation_set("synthetic", 2, 16),
            partial,
            config,
            progress=False,
        )
    assert torch.load(partial / "last.pt", weights_only=True)["step"] == 3
    train.main(
        [
            "--arch",
            str(arch),
            "--steps",
            "6",
            "--val-every",
            "3",
            "--out",
            str(partial),
            "--resume",
            *COMMON,
        ]
    )
    final_whole, final_resumed = (
        read_state_dict(whole / "final.pt"),
        read_state_dict(partial / "final.pt"),
    )
    for key in final_whole:
        torch.testing.assert_close(final_resumed[key], final_whole[key], rtol=0, atol=1e-6)
    assert list(pd.read_csv(partial / "metrics.csv")["step"]) == [3, 6]


def test_train_refuses_to_overwrite_without_resume(tmp_path, capsys):
    arch = tiny_spec_file(tmp_path / "spec.json")
    args = [
        "--arch",
        str(arch),
        "--steps",
        "2",
        "--val-every",
        "2",
        "--out",
        str(tmp_path / "run"),
        *COMMON,
    ]
    train.main(args)
    before = (tmp_path / "run" / "final.pt").read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        train.main(args)
    assert exit_info.value.code == 2 and "--resume" in capsys.readouterr().err
    assert (tmp_path / "run" / "final.pt").read_bytes() == before


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--lr", "inf", "finite number"),
        ("--val-blocks", "0", "at least 1"),
        ("--val-block-size", "12", "multiple of 8"),
        ("--seed", str(2**70), "2\\*\\*32"),
        ("--threads", "-1", "at least 1"),
        ("--threads", "100000", "this process may use"),
        ("--patch-size", "100000", "larger than a training photo"),
    ],
)
def test_bad_values_are_one_line_before_training(tmp_path, capsys, option, value, message):
    arch = tiny_spec_file(tmp_path / "spec.json")
    argv = [
        "--arch",
        str(arch),
        "--steps",
        "2",
        "--out",
        str(tmp_path / "run"),
        *COMMON,
        option,
        value,
    ]
    with pytest.raises(SystemExit) as exit_info:
        train.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and err[0].startswith("error:")
    assert re.search(message, err[0]) and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "write_junk",
    [
        lambda path: path.write_bytes(b"not a checkpoint"),
        lambda path: torch.save([1, 2, 3], path),
        lambda path: torch.save(torch.zeros(3), path),
        lambda path: torch.save(
            {"config": {"steps": 2, "seed": 0}, "state_dict": [], "step": 1}, path
        ),
    ],
)
def test_resume_from_a_junk_checkpoint_is_one_line_and_keeps_it(tmp_path, capsys, write_junk):
    arch = tiny_spec_file(tmp_path / "spec.json")
    (tmp_path / "run").mkdir()
    write_junk(tmp_path / "run" / "last.pt")
    before = (tmp_path / "run" / "last.pt").read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        train.main(
            [
                "--arch",
                str(arch),
                "--steps",
                "2",
                "--out",
                str(tmp_path / "run"),
                "--resume",
                *COMMON,
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "cannot resume" in err[0]
    assert (tmp_path / "run" / "last.pt").read_bytes() == before


def test_resume_with_another_architecture_names_it(tmp_path, capsys):
    run = tmp_path / "run"
    with pytest.raises(Interrupted):  # killed after the step-2 checkpoint
        train_network(
            ArchSpec.from_json(tiny_spec_file(tmp_path / "a.json").read_text()),
            DiesAfter(3),
            validation_set("synthetic", 2, 16),
            run,
            TrainConfig(steps=4, batch_size=2, patch_size=16, val_every=2),
            progress=False,
        )
    other = tiny_spec_file(tmp_path / "b.json", "residual")
    with pytest.raises(SystemExit) as exit_info:
        train.main(
            [
                "--arch",
                str(other),
                "--steps",
                "4",
                "--val-every",
                "2",
                "--out",
                str(run),
                "--resume",
                *COMMON,
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "trains another architecture" in err[0]


def test_the_seed_sets_the_initial_weights(tmp_path):
    spec = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))
    val = validation_set("synthetic", 2, 16)

    def first_step(seed, name):  # lr ~ 0: the weights after one step are the initial weights
        config = TrainConfig(steps=1, batch_size=2, patch_size=16, val_every=1, lr=1e-30, seed=seed)
        train_network(
            spec, training_sampler("synthetic"), val, tmp_path / name, config, progress=False
        )
        return read_state_dict(tmp_path / name / "final.pt")

    a, b, c = first_step(0, "a"), first_step(0, "b"), first_step(1, "c")
    assert all(torch.equal(a[k], b[k]) for k in a), (
        "the same seed gives the same network in one process"
    )
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].numel() > 1), (
        "another seed, other weights"
    )


def test_two_targets_of_3_channels_average_their_l1():
    from nas.train.loop import make_optimizer, train_step

    torch.manual_seed(0)
    spec = ArchSpec(
        widths=(8, 8, 8), groups=tuple(GroupSpec("residual", 0) for _ in GROUP_NAMES), in_channels=3
    )
    from models import build_model

    model = build_model(spec)
    noisy, first, second = (
        torch.rand(2, 3, 16, 16),
        torch.rand(2, 3, 16, 16),
        torch.rand(2, 3, 16, 16),
    )
    with torch.no_grad():
        prediction = model(noisy)
    expected = ((prediction - first).abs().mean() + (prediction - second).abs().mean()) / 2
    optimizer, schedule = make_optimizer(model, 1e-3, 1)
    loss = train_step(model, optimizer, schedule, noisy, torch.cat([first, second], 1))
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def _lrs(warmup_steps, steps=10, lr=1e-2):
    from nas.train.loop import make_optimizer

    optimizer, schedule = make_optimizer(torch.nn.Linear(2, 2), lr, steps, warmup_steps)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates


def test_warmup_rises_linearly_then_follows_the_cosine():
    rates = _lrs(warmup_steps=4)
    assert rates[:4] == pytest.approx([2.5e-3, 5e-3, 7.5e-3, 1e-2])
    assert rates[4:] == pytest.approx(
        [1e-4 + (1e-2 - 1e-4) * (1 + math.cos(math.pi * t / 6)) / 2 for t in range(6)]
    )


def test_no_warmup_is_the_plain_cosine():
    rates = _lrs(warmup_steps=0)
    assert rates[0] == 1e-2 and rates == pytest.approx(
        [1e-4 + (1e-2 - 1e-4) * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(10)]
    )
