"""One candidate's proxy training: rungs, failures as results, resources released."""

import os

import torch

from models import ArchSpec, GroupSpec
from models.spec import GROUP_NAMES
from nas.search.fitness import ProxyTraining, candidate_seed, evaluate_candidate
from nas.search.result import FAILED_PSNR, Candidate

from ..helpers import tiny_space


def candidate(**budget):
    space = tiny_space(budget=budget)
    spec = ArchSpec(widths=(64, 64, 64), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))
    return Candidate("c1", spec, space.budget, candidate_seed(0, "c1"))


def open_files():
    return len(os.listdir("/proc/self/fd"))


def test_rungs_record_a_learning_curve_and_end_at_the_full_budget():
    result = evaluate_candidate(candidate(steps=8, rungs=[0.25, 0.5]), threads=1)
    assert result.ok and result.steps == 8
    assert [step for step, _ in result.curve] == [2, 4, 8]
    assert result.curve[-1][1] == result.psnr


def test_rungs_do_not_change_the_final_score():
    plain = evaluate_candidate(candidate(steps=6), threads=1)
    with_curve = evaluate_candidate(candidate(steps=6, rungs=[0.5]), threads=1)
    assert with_curve.psnr == plain.psnr and with_curve.final_loss == plain.final_loss


def test_a_partial_training_is_stopped_not_ok():
    training = ProxyTraining(candidate(steps=8, rungs=[0.5]), threads=1)
    partial = training.advance(4)
    training.close()
    assert partial.status == "stopped" and partial.steps == 4 and not partial.ok


def test_failed_candidates_release_their_tensorboard_writers(tmp_path):
    diverging = candidate(steps=3, lr=1e30)
    evaluate_candidate(
        diverging, threads=1, tensorboard_dir=str(tmp_path / "warmup")
    )  # imports, caches
    before = open_files()
    for i in range(3):
        result = evaluate_candidate(diverging, threads=1, tensorboard_dir=str(tmp_path / f"tb{i}"))
        assert (
            result.status == "failed" and result.psnr == FAILED_PSNR and "loss is" in result.error
        )
    assert open_files() <= before


def test_the_budget_warm_up_reaches_the_training():
    plain = evaluate_candidate(candidate(steps=6), threads=1)
    warmed = evaluate_candidate(candidate(steps=6, warmup_steps=3), threads=1)
    again = evaluate_candidate(candidate(steps=6, warmup_steps=3), threads=1)
    assert warmed.ok and warmed.psnr != plain.psnr and warmed.psnr == again.psnr


def test_a_set_up_error_is_a_failed_result(tmp_path):
    bad = candidate()
    bad = Candidate(bad.key, bad.spec, bad.budget.replace(data=f"pairs:{tmp_path / 'none'}"), 0)
    result = evaluate_candidate(bad, threads=1)
    assert result.status == "failed" and result.psnr == FAILED_PSNR and result.steps == 0
    assert result.error.startswith("DataError") and result.params > 0


def test_the_proxy_trains_at_proxy_widths_and_drops_the_model_on_close():
    training = ProxyTraining(candidate(steps=4), threads=1)
    assert training.model is None
    assert training.advance(2).status == "stopped"
    first = next(m for m in training.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.out_channels == 4  # 64 at width_multiplier 0.05, rounded up to 4
    training.close()
    assert training.model is None


def test_a_training_whose_loss_blows_up_but_stays_finite_fails_as_diverged():
    # lr 1 throws the weights far out without a NaN: the loss ends near 1e17, the PSNR near 3 dB
    result = evaluate_candidate(candidate(steps=12, lr=1.0, warmup_steps=0), threads=1)
    assert result.status == "failed" and result.psnr == FAILED_PSNR
    assert result.error.startswith("FloatingPointError: diverged: the training L1 loss is")
    sane = evaluate_candidate(candidate(steps=12, lr=0.05, warmup_steps=0), threads=1)
    assert sane.ok


def test_a_loss_gone_nan_between_two_reads_fails_the_candidate_with_its_step():
    # lr 1e10 throws the weights out at the first step: the loss of step 2 is NaN. It is read at
    # the first rung (4), so the candidate fails there, naming step 2, and never ranks.
    training = ProxyTraining(candidate(steps=8, rungs=[0.5], lr=1e10, warmup_steps=0), threads=1)
    first = training.advance(4)
    assert first.status == "failed" and not first.ok and first.psnr == FAILED_PSNR
    assert first.error == "NonFiniteLoss: loss is nan at step 2" and first.steps == 4
    assert training.advance(8) is first  # a failed training stays failed: no later rung
