"""Today's numbers of a short proxy training and a short full training, pinned.

The search's fitness and full training share one training loop; restructuring it must not move
either (the seed, the model's initial weights, the batch generator and the order of the batches
stay as they are). The values were recorded on the project's CPU machine with one thread. They
are compared to a relative millionth, not bit for bit: the math libraries choose their kernels by
the CPU and change between releases, and the same code moved in the eighth digit between two
machines of the project's type; a change of seed, initial weights or batch order moves them in
the first or second.
"""

import pytest
import torch

from models import ArchSpec, GroupSpec, ModelFile
from models.spec import GROUP_NAMES
from nas.data import training_sampler, validation_set
from nas.search.fitness import candidate_seed, evaluate_candidate
from nas.search.result import Candidate
from nas.search.space import Budget
from nas.train.trainer import TrainConfig, train_network

SPEC = ArchSpec(widths=(64, 64, 64), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))
BUDGET = dict(
    width_multiplier=0.125,
    patch_size=16,
    batch_size=2,
    steps=4,
    lr=0.002,
    val_blocks=2,
    val_block_size=16,
    data="synthetic",
    val_data=None,
    amp="off",
    scheduler="none",
)


def close(values):
    return pytest.approx(values, rel=1e-6, abs=0)


def proxy(**changes):
    budget = Budget(**{**BUDGET, **changes})
    return evaluate_candidate(Candidate("pin", SPEC, budget, candidate_seed(0, "pin")), threads=1)


def test_a_proxy_training_gives_todays_metrics():
    result = proxy(warmup_steps=0, channels_last=False, rungs=[0.5])
    assert result.ok and result.steps == 4
    assert (result.psnr, result.ssim, result.final_loss) == close(PROXY)
    assert [step for step, _ in result.curve] == [step for step, _ in PROXY_CURVE]
    assert [psnr for _, psnr in result.curve] == close([psnr for _, psnr in PROXY_CURVE])


def test_a_proxy_training_with_warm_up_and_channels_last_gives_todays_metrics():
    result = proxy(warmup_steps=2, channels_last=True, rungs=[])
    assert result.ok and (result.psnr, result.ssim, result.final_loss) == close(PROXY_WARM)


def test_a_full_training_gives_todays_best_psnr(tmp_path):
    torch.set_num_threads(1)
    spec = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))
    config = TrainConfig(steps=4, batch_size=2, patch_size=16, lr=1e-3, val_every=2, seed=3)
    train_network(
        spec,
        training_sampler("synthetic"),
        validation_set("synthetic", 2, 16),
        tmp_path,
        config,
        progress=False,
    )
    best = ModelFile.load(tmp_path / "best.pt")
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    curve = [row["val_psnr"] for row in last["history"]]
    assert curve == close(FULL_CURVE)
    assert best.metrics["val_psnr"] == max(curve) and last["best_psnr"] == max(curve)


PROXY = (27.244043245478725, 0.5974032886544989, 0.03846924751996994)
PROXY_CURVE = ((2, 25.468156708179336), (4, 27.244043245478725))
PROXY_WARM = (28.18551265154718, 0.6737534875477301, 0.03755025565624237)
FULL_CURVE = [22.951853593837598, 23.56878731613549]
