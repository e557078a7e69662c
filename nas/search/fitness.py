"""Fitness of one candidate: train it from scratch on the proxy budget, score it on fixed blocks.

A :class:`ProxyTraining` advances rung by rung (the budget's ``rung_steps``): at each rung it
scores the fixed validation blocks, so a Ray Tune trial can report a learning curve and a
scheduler can stop it. :func:`evaluate_candidate` runs every rung in one call. Both take a typed
:class:`Candidate` and return a :class:`CandidateResult`; they never raise for a bad candidate.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback

import torch

from models import ArchSpec, build_model, composed_cost

from ..data import training_sampler, validation_set
from ..device import Precision, resolve_device, to_device
from ..scoring import evaluate_blocks, summarize
from ..train.loop import make_optimizer, train_step
from .result import Candidate, CandidateResult

__all__ = ["candidate_seed", "proxy_spec", "ProxyTraining", "evaluate_candidate"]

log = logging.getLogger(__name__)


def candidate_seed(run_seed: int, key: str) -> int:
    """A seed from the run seed and the genome key, stable across processes, resumes and caches."""
    digest = hashlib.sha256(f"{run_seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def proxy_spec(spec: ArchSpec, width_multiplier: float) -> ArchSpec:
    """The spec trained during search: ``spec.scaled(width_multiplier)``."""
    return spec.scaled(width_multiplier)


class ProxyTraining:
    """One candidate's proxy training, advanced to each rung in turn.

    Set-up errors, NaN losses and out-of-memory are results (``status='failed'``), not crashes; a
    failed training stays failed. ``close()`` releases the TensorBoard writer and the model.
    """

    def __init__(
        self,
        candidate: Candidate,
        threads: int | None = None,
        tensorboard_dir: str | None = None,
        device: str | torch.device = "auto",
    ) -> None:
        self.candidate, self.threads, self.tensorboard_dir, self.device = (
            candidate,
            threads,
            tensorboard_dir,
            device,
        )
        self.step, self.curve, self.final_loss = 0, [], None
        self.params, self.gflops, self.seconds = 0, 0.0, 0.0
        self.model = self.writer = None
        self.failure: CandidateResult | None = None

    @property
    def rungs(self) -> list[int]:
        return self.candidate.budget.rung_steps()

    def _setup(self) -> None:
        budget, seed = self.candidate.budget, self.candidate.seed
        if self.threads:
            torch.set_num_threads(max(1, int(self.threads)))
        cost = composed_cost(
            self.candidate.spec
        )  # equals spec_cost; its pieces stay cached in a reused worker
        self.params, self.gflops = cost.params, cost.gflops
        self.device = resolve_device(self.device)
        self.precision = Precision.for_device(self.device, budget.amp)
        self.memory_format = (
            torch.channels_last if budget.channels_last else torch.contiguous_format
        )
        torch.manual_seed(seed)
        model = build_model(proxy_spec(self.candidate.spec, budget.width_multiplier))
        self.model = model.to(self.device, memory_format=self.memory_format)
        self.optimizer, self.schedule = make_optimizer(
            self.model, budget.lr, budget.steps, budget.warmup_steps
        )
        self.generator = torch.Generator().manual_seed(seed)
        channels = self.candidate.spec.in_channels
        self.sampler = training_sampler(budget.data, channels)
        self.blocks = validation_set(
            budget.val_data or budget.data, budget.val_blocks, budget.val_block_size, channels
        )
        if self.tensorboard_dir:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(self.tensorboard_dir)

    def advance(self, to_step: int) -> CandidateResult:
        """Train up to ``to_step`` steps in all, then score; the result so far."""
        if self.failure is not None:
            return self.failure
        started = time.perf_counter()
        try:
            if self.model is None:
                self._setup()
            budget = self.candidate.budget
            self.model.train()
            while self.step < min(to_step, budget.steps):
                noisy, clean = self.sampler.sample(
                    budget.batch_size, budget.patch_size, self.generator
                )
                noisy = to_device(noisy, self.device).contiguous(memory_format=self.memory_format)
                self.final_loss = train_step(
                    self.model,
                    self.optimizer,
                    self.schedule,
                    noisy,
                    to_device(clean, self.device),
                    self.precision,
                )
                self.step += 1
                if self.writer:
                    self.writer.add_scalar("train/l1", self.final_loss, self.step)
            summary = summarize(evaluate_blocks(self.model, self.blocks))
            if not all(map(_finite, (summary["psnr"], summary["ssim"]))):
                raise FloatingPointError(f"validation PSNR is {summary['psnr']}")
            self.curve.append((self.step, summary["psnr"]))
            if self.writer:
                self.writer.add_scalar("val/psnr", summary["psnr"], self.step)
            self.seconds += time.perf_counter() - started
            return CandidateResult(
                status="ok" if self.step >= budget.steps else "stopped",
                psnr=summary["psnr"],
                ssim=summary["ssim"],
                params=self.params,
                gflops=self.gflops,
                steps=self.step,
                final_loss=self.final_loss,
                train_seconds=self.seconds,
                curve=tuple(self.curve),
            )
        except Exception as err:  # noqa: BLE001 - any failure of a candidate is a result, not a crash
            self.seconds += time.perf_counter() - started
            log.debug("candidate %s failed:\n%s", self.candidate.key, traceback.format_exc())
            self.failure = CandidateResult.failed(
                f"{type(err).__name__}: {err}", self.params, self.gflops, self.seconds, self.step
            )
            self.close()
            return self.failure

    def close(self) -> None:
        """Close the TensorBoard writer and drop the model, optimizer and (on a GPU) cached memory."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.model = self.optimizer = self.schedule = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def evaluate_candidate(
    candidate: Candidate,
    threads: int | None = None,
    tensorboard_dir: str | None = None,
    device: str | torch.device = "auto",
) -> CandidateResult:
    """Train and score one candidate through all its rungs on ``device``. Never raises for a bad candidate."""
    training = ProxyTraining(candidate, threads, tensorboard_dir, device)
    try:
        result = None
        for rung in training.rungs:
            result = training.advance(rung)
            if not result.ok and result.status != "stopped":
                break
        return result
    finally:
        training.close()


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
