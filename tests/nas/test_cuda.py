"""Real GPU runs: skipped on machines without CUDA (CI has none)."""

import json
import subprocess
import sys

import pytest
import torch

from models import ArchSpec, GroupSpec
from models.spec import GROUP_NAMES
from nas.data import training_sampler, validation_set
from nas.search.fitness import ProxyTraining, candidate_seed, evaluate_candidate
from nas.search.result import Candidate
from nas.data.synthetic import DeviceSyntheticSampler
from nas.train.hooks import Hook
from nas.train.loop import CudaGraphStep, StepFunction
from nas.train.trainer import TrainConfig, Trainer, train_network

from .helpers import tiny_space, write_space

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
SPEC = ArchSpec(widths=(32, 32, 32), groups=tuple(GroupSpec("rcab", 2) for _ in GROUP_NAMES))


def test_train_and_validate_on_cuda(tmp_path):
    config = TrainConfig(
        steps=4, batch_size=2, patch_size=32, val_every=2, device="cuda", amp="auto"
    )
    torch.cuda.reset_peak_memory_stats()
    summary = train_network(
        SPEC,
        training_sampler("synthetic"),
        validation_set("synthetic", 2, 32),
        tmp_path,
        config,
        progress=False,
    )
    assert summary.steps == 4 and summary.best_psnr > 0
    assert torch.cuda.max_memory_allocated() > 1024**2  # the model and its batches lived on the GPU


def test_out_of_memory_fails_the_candidate_and_frees_its_memory():
    before = torch.cuda.memory_allocated()
    # Cap this process at 512 MiB more than it holds, so the OOM is certain on any GPU (a batch
    # size alone is not: 1024 x 256^2 at width 32 trained on an 80 GB H100). This batch needs GiBs.
    total = torch.cuda.get_device_properties(0).total_memory
    huge = Candidate(
        "huge",
        SPEC,
        tiny_space(budget={"batch_size": 64, "patch_size": 256, "width_multiplier": 1.0}).budget,
        0,
    )
    torch.cuda.set_per_process_memory_fraction(min(1.0, (before + 512 * 2**20) / total))
    try:
        result = evaluate_candidate(huge, device="cuda")
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    assert result.status == "failed" and "CUDA out of memory" in result.error
    assert torch.cuda.memory_allocated() <= before + 1024**2
    ok = evaluate_candidate(
        Candidate("ok", SPEC, tiny_space().budget, candidate_seed(0, "ok")), device="cuda"
    )
    assert ok.ok


def test_fitness_uses_the_gpu():
    training = ProxyTraining(Candidate("k", SPEC, tiny_space().budget, 0), device="cuda")
    assert training.advance(1).steps == 1 and next(training.model.parameters()).is_cuda
    training.close()


def test_one_generation_with_half_a_gpu_per_trial(tmp_path):
    space = write_space(
        tmp_path / "tiny.yaml",
        tiny_space(evolution={"population": 2, "generations": 0}, resources={"gpus": 0.5}),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "nas.search", "--space", str(space), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = [
        json.loads(line)
        for line in (tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()
    ]
    assert len(rows) == 2 and all(r["result"]["status"] == "ok" for r in rows)


def cuda_trainer(**config):
    config = TrainConfig(
        **{"steps": 12, "batch_size": 4, "patch_size": 32, "val_every": 100, "seed": 1, **config}
    )
    return Trainer(
        SPEC,
        training_sampler("synthetic"),
        validation_set("synthetic", 2, 32),
        config,
        device=torch.device("cuda"),
    )


class Losses(Hook):
    def __init__(self):
        self.values = []

    def on_losses(self, trainer, first_step, losses):
        self.values.extend(losses)


def test_a_cuda_graph_replays_the_eager_step():
    losses = {}
    for graphs in ("off", "on"):
        training = cuda_trainer(cuda_graphs=graphs, device_batches="off", amp="off")
        hook = Losses()
        training.hooks.append(hook)
        training.advance(12)
        losses[graphs] = hook.values
        if graphs == "on":
            assert isinstance(training.step_function, CudaGraphStep)
            assert training.step_function.graph is not None  # captured, then replayed
        else:
            assert isinstance(training.step_function, StepFunction)
    assert len(losses["on"]) == 12
    # same batches, same initial weights: the same losses up to cuDNN's and Adam's rounding
    assert losses["on"] == pytest.approx(losses["off"], rel=1e-3)


def test_cuda_graphs_auto_fall_back_for_fp16s_gradient_scaler(caplog):
    with caplog.at_level("INFO", logger="nas.train.trainer"):
        training = cuda_trainer(cuda_graphs="auto", amp="fp16")
    assert isinstance(training.step_function, StepFunction) and "gradient scaler" in caplog.text


def test_steps_between_reads_never_wait_for_the_gpu():
    for graphs in ("off", "on"):
        training = cuda_trainer(cuda_graphs=graphs, device_batches="on")
        assert isinstance(training.batches, DeviceSyntheticSampler)
        training.advance(4)  # set-up, warm-up, capture, a validation
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(4):
                training._train_one()  # any host-device synchronisation raises here
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert training.advance(12).final_loss > 0


def test_device_batches_on_cuda_have_the_cpu_batches_statistics():
    from .data.test_device_batches import statistics

    cpu = training_sampler("synthetic")
    on_gpu = [float(v) for v in statistics(cpu.on_device(torch.device("cuda")))]
    on_cpu = [float(v) for v in statistics(cpu)]
    assert on_gpu[0] == pytest.approx(on_cpu[0], rel=0.1)
    assert on_gpu[2] == pytest.approx(on_cpu[2], abs=0.3)
    assert on_gpu[3] == pytest.approx(on_cpu[3], rel=0.15)
