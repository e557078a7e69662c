import numpy as np
import pytest
import torch

from nas.data import DataError, training_sampler, unlabeled_blocks, validation_set
from nas.data.synthetic import TRAIN_PHOTOS, UNSEEN_PHOTOS, VAL_PHOTOS, photo


def test_unseen_photos_are_neither_trained_nor_validated_on():
    assert UNSEEN_PHOTOS
    assert not set(UNSEEN_PHOTOS) & (set(TRAIN_PHOTOS) | set(VAL_PHOTOS))


def test_every_unseen_photo_loads_as_rgb_and_grey_ones_are_replicated():
    for name in UNSEEN_PHOTOS:
        image = photo(name)
        assert image.shape[0] == 3 and image.dim() == 3, name
        assert 0 <= float(image.min()) and float(image.max()) <= 1, name
    grey = photo("brick.png")
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    assert grey.shape[-2:] == (512, 512)


def test_unseen_blocks_are_seeded_raw_mosaics_of_the_requested_size():
    blocks = unlabeled_blocks("synthetic-unseen", num_blocks=9, block_size=32, seed=3)
    assert blocks.channels == 1
    assert blocks.noisy.shape == (9, 32, 32) and blocks.noisy.dtype == np.float32
    assert np.isfinite(blocks.noisy).all()
    # noisy raw values (not clipped), around the [0, 1] signal
    assert -0.5 < blocks.noisy.min() and blocks.noisy.max() < 1.5
    assert 0 < blocks.noisy.mean() < 1
    again = unlabeled_blocks("synthetic-unseen", 9, 32, seed=3).noisy
    np.testing.assert_array_equal(blocks.noisy, again)
    other = unlabeled_blocks("synthetic-unseen", 9, 32, seed=4).noisy
    assert not np.array_equal(blocks.noisy, other)


def test_unseen_blocks_are_not_the_validation_blocks():
    unseen = unlabeled_blocks("synthetic-unseen", 4, 32, seed=0).noisy
    val = np.stack(list(validation_set("synthetic", 4, 32).noisy))
    assert not any(np.allclose(u, v, atol=0.05) for u in unseen for v in val)


def test_unseen_source_is_for_pseudo_labelling_only():
    with pytest.raises(DataError, match="noisy photos only"):
        training_sampler("synthetic-unseen")
    with pytest.raises(DataError, match="pseudo-labelling only"):
        validation_set("synthetic-unseen")
    with pytest.raises(DataError, match="larger than a photo"):
        unlabeled_blocks("synthetic-unseen", 2, 1024)
