"""Synthetic raw batches made on the training's device: same statistics as the CPU's, fixed by
the CPU generator's state, and the crops cut where the photos live (here: the CPU)."""

import math

import pytest
import torch

from models import ArchSpec, GroupSpec
from models.spec import GROUP_NAMES
from nas.data import training_sampler, validation_set
from nas.data.synthetic import DeviceSyntheticSampler, photo, random_crops, TRAIN_PHOTOS
from nas.train.config import TrainConfig, TrainError
from nas.train.trainer import Trainer

CPU = torch.device("cpu")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def statistics(sampler, batches=16, batch=64, patch=16):
    """Mean and std of the clean mosaics, and the mean and spread over patches of the log of the
    noise's variance (the noise parameters are drawn per patch)."""
    g, clean, log_var = gen(3), [], []
    for _ in range(batches):
        noisy, target = sampler.sample(batch, patch, g)
        clean.append(target)
        log_var.append(((noisy - target) ** 2).mean((1, 2, 3)).log())
    clean, log_var = torch.cat(clean), torch.cat(log_var)
    return clean.mean(), clean.std(), log_var.mean(), log_var.std()


def test_device_batches_have_the_cpu_batches_statistics():
    cpu = training_sampler("synthetic")
    device = cpu.on_device(CPU)
    assert isinstance(device, DeviceSyntheticSampler)
    (c_mean, c_std, c_log, c_spread), (d_mean, d_std, d_log, d_spread) = (
        statistics(cpu),
        statistics(device),
    )
    assert d_mean == pytest.approx(float(c_mean), rel=0.1)
    assert d_std == pytest.approx(float(c_std), rel=0.1)
    # log-uniform shot noise over two decades: the log variance's mean and spread
    assert d_log == pytest.approx(float(c_log), abs=0.3)  # a doubled variance: 0.69
    assert d_spread == pytest.approx(float(c_spread), rel=0.15)
    assert math.isfinite(d_log) and d_spread > 0.5


def test_device_batches_are_fixed_by_the_cpu_generator_and_lie_on_the_device():
    sampler = training_sampler("synthetic").on_device(CPU)
    a, b = (sampler.sample(4, 16, gen(5)) for _ in range(2))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    g = gen(5)
    first = sampler.sample(4, 16, g)
    state = g.get_state()  # a checkpoint's generator: the next batch follows from it alone
    second = sampler.sample(4, 16, g)
    again = training_sampler("synthetic").on_device(CPU).sample(4, 16, gen().set_state(state))
    assert torch.equal(second[0], again[0]) and not torch.equal(first[0], second[0])
    assert a[0].device == CPU and a[0].shape == (4, 1, 16, 16)


def test_crops_of_photos_moved_to_a_device_are_the_cpu_crops():
    photos = [photo(name) for name in TRAIN_PHOTOS]
    moved = [image.to(CPU, copy=True) for image in photos]
    assert torch.equal(random_crops(photos, 8, 32, gen(2)), random_crops(moved, 8, 32, gen(2)))


def test_srgb_and_file_sources_keep_their_batches_on_the_cpu():
    assert training_sampler("synthetic-srgb", 3).on_device(CPU) is None


def test_a_noise_profile_follows_the_sampler_to_the_device():
    profile = (1e-3, 1e-5)
    sampler = DeviceSyntheticSampler(TRAIN_PHOTOS, profile, CPU)
    noisy, clean = sampler.sample(32, 16, gen())
    variance = ((noisy - clean) ** 2).mean()
    assert variance == pytest.approx(float(1e-3 * clean.mean() + 1e-5), rel=0.1)


SPEC = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))


def trainer(data="synthetic", channels=1, **config):
    torch.set_num_threads(1)
    spec = ArchSpec.from_dict({**SPEC.to_dict(), "in_channels": channels})
    config = TrainConfig(steps=2, batch_size=2, patch_size=16, **config)
    return Trainer(spec, training_sampler(data, channels), validation_set(data, 2, 16), config)


def test_a_training_with_device_batches_on_trains_from_the_device_sampler():
    training = trainer(device_batches="on")
    assert isinstance(training.batches, DeviceSyntheticSampler)
    assert training.advance(2).final_loss > 0
    assert not isinstance(trainer().batches, DeviceSyntheticSampler)  # auto on the CPU: off


def test_device_batches_on_for_a_source_that_cannot_is_one_line():
    with pytest.raises(TrainError, match=r"^device_batches on: .* makes its batches on the CPU$"):
        trainer("synthetic-srgb", 3, device_batches="on")
