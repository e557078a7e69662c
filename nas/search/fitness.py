"""Fitness of one candidate: train it from scratch on the proxy budget, score it on fixed blocks.

A :class:`ProxyTraining` advances rung by rung (the budget's ``rung_steps``): at each rung it
scores the fixed validation blocks, so a Ray Tune trial can report a learning curve and a
scheduler can stop it. :func:`evaluate_candidate` runs every rung in one call. Both take a typed
:class:`Candidate` and return a :class:`CandidateResult`; they never raise for a bad candidate.
The training is the one loop of full training (:class:`nas.train.trainer.Trainer`), at the
budget's training config, validated only at the rungs and without checkpoints.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback

import torch

from models import ArchSpec, composed_cost

from ..data import training_sampler, validation_set
from ..device import resolve_device
from ..train.hooks import TensorBoardLog
from ..train.trainer import Trainer
from .result import Candidate, CandidateResult
from .tensorboard import ScalarLog

__all__ = ["candidate_seed", "proxy_spec", "ProxyTraining", "evaluate_candidate"]

log = logging.getLogger(__name__)


# A training L1 above the signal's whole range ([0, 1]) is a blow-up, not a poor network: its
# finite loss passes the loop's NaN check, and its PSNR measures the blow-up.
DIVERGED_L1 = 1.0


def candidate_seed(run_seed: int, key: str) -> int:
    """A seed from the run seed and the genome key, stable across processes, resumes and caches."""
    digest = hashlib.sha256(f"{run_seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def proxy_spec(spec: ArchSpec, width_multiplier: float) -> ArchSpec:
    """The spec trained during search: ``spec.scaled(width_multiplier)``."""
    return spec.scaled(width_multiplier)


class ProxyTraining:
    """One candidate's proxy training (a :class:`~nas.train.trainer.Trainer` at the candidate's
    budget, without checkpoints), advanced to each rung in turn.

    Set-up errors, NaN losses and out-of-memory are results (``status='failed'``), not crashes; a
    failed training stays failed. ``close()`` releases the TensorBoard writer and the model.
    ``record_scalars``: keep the TensorBoard scalars in memory for :meth:`take_scalars` (a Ray
    trial sends them to the driver, which writes the log) instead of writing them here.
    """

    def __init__(
        self,
        candidate: Candidate,
        threads: int | None = None,
        tensorboard_dir: str | None = None,
        device: str | torch.device = "auto",
        record_scalars: bool = False,
    ) -> None:
        self.candidate, self.threads, self.tensorboard_dir, self.device = (
            candidate,
            threads,
            tensorboard_dir,
            device,
        )
        self.scalars = ScalarLog() if record_scalars else None
        self.params, self.gflops, self.seconds = 0, 0.0, 0.0
        self.trainer: Trainer | None = None
        self.failure: CandidateResult | None = None

    @property
    def rungs(self) -> list[int]:
        return self.candidate.budget.rung_steps()

    @property
    def model(self) -> torch.nn.Module | None:
        """The network in training (None before the first rung and after ``close``)."""
        return self.trainer.model if self.trainer is not None else None

    def _setup(self) -> Trainer:
        budget, channels = self.candidate.budget, self.candidate.spec.in_channels
        if self.threads:
            torch.set_num_threads(max(1, int(self.threads)))
        cost = composed_cost(self.candidate.spec)  # its pieces stay cached in a reused worker
        self.params, self.gflops = cost.params, cost.gflops
        sampler = training_sampler(budget.data, channels)
        blocks = validation_set(
            budget.val_data or budget.data, budget.val_blocks, budget.val_block_size, channels
        )
        device = resolve_device(self.device)
        config = budget.train_config(self.candidate.seed, str(device))
        spec = proxy_spec(self.candidate.spec, budget.width_multiplier)
        trainer = Trainer(spec, sampler, blocks, config, device=device)
        if self.tensorboard_dir:  # last: nothing after it can fail and leave the writer open
            trainer.hooks.append(TensorBoardLog(self.tensorboard_dir))
        if self.scalars is not None:
            trainer.hooks.append(self.scalars)
        return trainer

    def take_scalars(self) -> list[list]:
        """The TensorBoard scalars ([tag, step, value]) since the last call (``record_scalars``)."""
        return self.scalars.take() if self.scalars is not None else []

    def advance(self, to_step: int) -> CandidateResult:
        """Train up to ``to_step`` steps in all, then score; the result so far."""
        if self.failure is not None:
            return self.failure
        started = time.perf_counter()
        try:
            if self.trainer is None:
                self.trainer = self._setup()
            trained = self.trainer.advance(to_step)
            if not all(map(_finite, (trained.psnr, trained.ssim))):
                raise FloatingPointError(f"validation PSNR is {trained.psnr}")
            if trained.final_loss is not None and trained.final_loss > DIVERGED_L1:
                raise FloatingPointError(
                    f"diverged: the training L1 loss is {trained.final_loss:.3g} at step "
                    f"{trained.step}"
                )
            self.seconds += time.perf_counter() - started
            return CandidateResult(
                status="ok" if trained.step >= self.candidate.budget.steps else "stopped",
                psnr=trained.psnr,
                ssim=trained.ssim,
                params=self.params,
                gflops=self.gflops,
                steps=trained.step,
                final_loss=trained.final_loss,
                train_seconds=self.seconds,
                curve=trained.curve,
            )
        except Exception as err:  # noqa: BLE001 - any failure of a candidate is a result, not a crash
            self.seconds += time.perf_counter() - started
            steps = self.trainer.step if self.trainer is not None else 0
            log.debug("candidate %s failed:\n%s", self.candidate.key, traceback.format_exc())
            self.failure = CandidateResult.failed(
                f"{type(err).__name__}: {err}", self.params, self.gflops, self.seconds, steps
            )
            self.close()
            return self.failure

    def close(self) -> None:
        """Close the TensorBoard writer; drop the model, optimizer and (on a GPU) cached memory."""
        if self.trainer is not None:
            self.trainer.close()
            self.trainer = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def evaluate_candidate(
    candidate: Candidate,
    threads: int | None = None,
    tensorboard_dir: str | None = None,
    device: str | torch.device = "auto",
) -> CandidateResult:
    """Train and score one candidate through all its rungs on ``device``. Never raises for a bad
    candidate."""
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
