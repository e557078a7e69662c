import numpy as np
import pytest

from nas.data import DataError, training_sampler, validation_set
from nas.distill.stages import DISJOINT, TRAINING_CROPS, TRANSDUCTIVE
from nas.distill.unlabeled import unlabeled_inputs


def inputs(choice, val_size=32, sampler=None, val_source="synthetic"):
    sampler = sampler or training_sampler("synthetic")
    val = validation_set(val_source, 3, val_size)
    return unlabeled_inputs(
        choice, sampler, "synthetic", val, val_source, num_blocks=4, block_size=32, patch=16
    )


def test_default_is_training_crops_drawn_per_seed():
    unlabeled = inputs(None)
    assert unlabeled.setting.kind == TRAINING_CROPS and not unlabeled.setting.transductive
    assert unlabeled.blocks_for(0).shape == (4, 32, 32)
    assert not np.array_equal(unlabeled.blocks_for(0), unlabeled.blocks_for(1))


@pytest.mark.parametrize("choice", ["validation", "synthetic"])
def test_transductive_inputs_are_exactly_the_validation_blocks(choice):
    unlabeled = inputs(choice, val_size=24)
    assert unlabeled.setting.kind == TRANSDUCTIVE and unlabeled.setting.transductive
    assert unlabeled.setting.source == "synthetic"
    expected = np.stack(list(validation_set("synthetic", 3, 24).noisy))
    for seed in (0, 5):
        np.testing.assert_array_equal(unlabeled.blocks_for(seed), expected)


def test_validation_blocks_too_small_for_the_patches_are_refused():
    with pytest.raises(DataError, match="need 18"):
        inputs("validation", val_size=16)


def test_unseen_photos_are_the_disjoint_setting_drawn_per_seed():
    unlabeled = inputs("synthetic-unseen")
    assert unlabeled.setting.kind == DISJOINT and unlabeled.setting.source == "synthetic-unseen"
    first, second = unlabeled.blocks_for(0), unlabeled.blocks_for(1)
    assert first.shape == second.shape == (4, 32, 32)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, unlabeled.blocks_for(0))


def test_raw_unseen_photos_for_an_srgb_network_are_refused():
    with pytest.raises(DataError, match="sRGB"):
        inputs(
            "synthetic-unseen",
            sampler=training_sampler("synthetic-srgb"),
            val_source="synthetic-srgb",
        )
