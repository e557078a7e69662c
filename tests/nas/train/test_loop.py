"""The training step without host reads: losses read in batches, NaN found at the next read and
named by its step, hooks fed at the reads, and the CUDA-graph path's step being the eager one."""

import logging
import re

import pytest
import torch

from models import ArchSpec, GroupSpec, build_model
from models.spec import GROUP_NAMES
from nas.data import training_sampler, validation_set
from nas.device import DeviceError
from nas.train import __main__ as train
from nas.train.config import TrainConfig
from nas.train.hooks import Hook
from nas.train.loop import (
    CudaGraphStep,
    LossLog,
    NonFiniteLoss,
    StepFunction,
    make_optimizer,
    train_step,
)
from nas.train.trainer import Trainer

from .test_train import COMMON, tiny_spec_file

SPEC = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))


class NaNAt:
    """The real synthetic sampler, whose batch number ``step`` (from 1) holds a NaN pixel."""

    def __init__(self, step):
        self.sampler, self.calls, self.step = training_sampler("synthetic"), 0, step

    def sample(self, *args):
        noisy, clean = self.sampler.sample(*args)
        self.calls += 1
        if self.calls == self.step:
            noisy[0, 0, 0, 0] = float("nan")
        return noisy, clean


class Losses(Hook):
    def __init__(self):
        self.steps, self.reads = [], []

    def on_step(self, trainer):
        self.steps.append(trainer.step)

    def on_losses(self, trainer, first_step, losses):
        self.reads.append((trainer.step, first_step, list(losses)))


def trainer(sampler=None, hooks=(), **config):
    config = TrainConfig(**{"steps": 6, "batch_size": 2, "patch_size": 16, **config})
    torch.set_num_threads(1)
    return Trainer(
        SPEC,
        sampler or training_sampler("synthetic"),
        validation_set("synthetic", 2, 16),
        config,
        hooks=hooks,
    )


def test_losses_reach_the_hooks_at_the_reads_with_their_steps():
    hook = Losses()
    training = trainer(hooks=[hook], sync_every=2, val_every=5)
    result = training.advance(6)
    # read at steps 2 and 4, at the step-5 validation, and at the end
    assert [(at, first, len(values)) for at, first, values in hook.reads] == [
        (2, 1, 2),
        (4, 3, 2),
        (5, 5, 1),
        (6, 6, 1),
    ]
    values = [v for _, _, chunk in hook.reads for v in chunk]
    assert result.final_loss == values[-1] and all(v > 0 for v in values)
    assert training.history[0].train_l1 == sum(values[:5]) / 5
    assert hook.steps == [1, 2, 3, 4, 5, 6]


def test_a_nan_between_two_reads_fails_at_the_next_read_naming_its_step():
    hook = Losses()
    training = trainer(NaNAt(3), hooks=[hook], sync_every=5, val_every=100)
    with pytest.raises(NonFiniteLoss, match=r"^loss is nan at step 3$") as caught:
        training.advance(6)
    assert caught.value.step == 3
    assert hook.steps == [1, 2, 3, 4, 5]  # the steps ran on: nothing waited for the device
    assert [(first, len(values)) for _, first, values in hook.reads] == [(1, 2)]  # before it
    assert training.history == []  # no validation (nor checkpoint) of the NaN weights


def test_a_step_returns_its_loss_unread_on_the_batch_device():
    torch.manual_seed(0)
    model = build_model(SPEC)
    optimizer, schedule = make_optimizer(model, 1e-3, 2)
    noisy, clean = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    loss = train_step(model, optimizer, schedule, noisy, clean)
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0 and not loss.requires_grad
    log = LossLog()
    log.add(1, loss)
    log.add(2, torch.tensor(float("inf")))
    assert log.read() == (1, [float(loss), float("inf")]) and log.read() == (1, [])


def _twin_models():
    models = []
    for _ in range(2):
        torch.manual_seed(1)
        models.append(build_model(SPEC))
    return models


def test_the_graph_path_runs_the_eager_step_on_its_static_buffers():
    """On the CPU the graph path runs its step eagerly on the static buffers it would capture:
    the same losses and weights as eager training, batch for batch."""
    torch.set_num_threads(1)
    sampler, losses = training_sampler("synthetic"), {}
    for name, model in zip(("eager", "graph"), _twin_models()):
        optimizer, schedule = make_optimizer(model, 2e-3, 6, 1)
        step = StepFunction(model, optimizer)
        graph = CudaGraphStep(step, warmup=2, capture=False) if name == "graph" else step
        g, losses[name] = torch.Generator().manual_seed(4), []
        for _ in range(6):
            loss = graph(*sampler.sample(2, 16, g))
            schedule.step()
            losses[name].append(float(loss))
        losses[name].append(model.state_dict())
    assert graph.static is not None and graph.calls == 6  # four steps ran from the buffers
    assert losses["graph"][:6] == losses["eager"][:6]
    state = losses["graph"][6]
    assert all(torch.equal(state[k], losses["eager"][6][k]) for k in state)


def test_the_graph_path_refuses_a_batch_of_another_shape():
    model = _twin_models()[0]
    step = CudaGraphStep(StepFunction(model, make_optimizer(model, 1e-3, 4)[0]), 0, False)
    step(torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16))
    with pytest.raises(ValueError, match="fixed shapes"):
        step(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16))


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU's fallback")
def test_auto_cuda_graphs_fall_back_to_eager_on_the_cpu_and_say_why(caplog):
    with caplog.at_level(logging.INFO, logger="nas.train.trainer"):
        trainer(cuda_graphs="auto")
    assert "CUDA graphs" not in caplog.text  # no news on a CPU: every training would repeat it
    with caplog.at_level(logging.DEBUG, logger="nas.train.trainer"):
        training = trainer(cuda_graphs="auto")
    assert isinstance(training.step_function, StepFunction)
    assert re.search(r"CUDA graphs: eager .* runs on cpu", caplog.text)
    eager = trainer(cuda_graphs="off").advance(3)
    assert training.advance(3).final_loss == eager.final_loss


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA")
def test_cuda_graphs_on_without_cuda_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(DeviceError, match="cuda_graphs on"):
        trainer(cuda_graphs="on")
    argv = ["--arch", str(tiny_spec_file(tmp_path / "spec.json")), "--steps", "2"]
    with pytest.raises(SystemExit) as exit_info:
        train.main([*argv, "--out", str(tmp_path / "run"), *COMMON, "--cuda-graphs", "on"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert err[0].startswith("error: cuda_graphs on:") and not (tmp_path / "run").exists()
