import numpy as np
import pytest
import torch

from nas.data.bayer import (
    PATTERNS,
    PatternError,
    parse_pattern,
    pattern_after,
    pattern_offset,
    restore,
    shifted_pattern,
    unify_crop,
    unify_pad,
)

from .mosaics import colour_mosaic, pattern_of


@pytest.mark.parametrize("source", PATTERNS)
@pytest.mark.parametrize("target", PATTERNS)
def test_offset_shifts_every_pattern_into_every_other(source, target):
    dy, dx = pattern_offset(source, target)
    assert shifted_pattern(source, dy, dx) == target
    assert pattern_of(colour_mosaic(source, 6, 8)[dy:, dx:]) == target


@pytest.mark.parametrize("source", PATTERNS)
@pytest.mark.parametrize("target", PATTERNS)
@pytest.mark.parametrize("shape", [(6, 10), (16, 24), (7, 9)])
@pytest.mark.parametrize("multiple", [2, 8])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_unify_pad_reaches_the_target_and_round_trips_exactly(
    source, target, shape, multiple, as_tensor
):
    mosaic = colour_mosaic(source, *shape)
    x = torch.from_numpy(mosaic)[None, None] if as_tensor else mosaic
    unified, window = unify_pad(x, source, target, multiple=multiple)
    assert all(side % multiple == 0 for side in unified.shape[-2:])
    assert pattern_of(unified) == target  # every padded pixel too sits on its colour
    back = restore(unified, window)
    np.testing.assert_array_equal(np.asarray(back).reshape(shape), mosaic)


@pytest.mark.parametrize("source", PATTERNS)
def test_unify_pad_is_liu_one_pixel_on_both_sides(source):
    unified, window = unify_pad(colour_mosaic(source, 8, 8), source, "RGGB")
    dy, dx = pattern_offset(source, "RGGB")
    assert unified.shape == (8 + 2 * dy, 8 + 2 * dx) and (window.top, window.left) == (dy, dx)


@pytest.mark.parametrize("source", PATTERNS)
def test_unify_crop_reaches_the_target_and_keeps_even_sides(source):
    cropped = unify_crop(colour_mosaic(source, 10, 12), source, "RGGB")
    dy, dx = pattern_offset(source, "RGGB")
    assert cropped.shape == (10 - 2 * dy, 12 - 2 * dx) and pattern_of(cropped) == "RGGB"


TRANSFORMS = {
    "flip_h": lambda t: t.flip(-1),
    "flip_v": lambda t: t.flip(-2),
    "transpose": lambda t: t.transpose(-1, -2),
    "rot90": lambda t: torch.rot90(t, 1, dims=(-2, -1)),
    "rot180": lambda t: torch.rot90(t, 2, dims=(-2, -1)),
    "rot270_flip": lambda t: torch.rot90(t, 3, dims=(-2, -1)).flip(-1),
}


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("name", TRANSFORMS)
@pytest.mark.parametrize("shape", [(8, 12), (7, 12), (8, 11)])
def test_pattern_after_matches_the_transformed_mosaic(pattern, name, shape):
    transformed = TRANSFORMS[name](torch.from_numpy(colour_mosaic(pattern, *shape)))
    assert pattern_after(pattern, TRANSFORMS[name], shape) == pattern_of(transformed)


def test_transpose_swaps_the_red_and_blue_sites_of_grbg_and_gbrg():
    # the bug this module fixes: a transposed GRBG mosaic is GBRG, not GRBG
    assert pattern_after("GRBG", TRANSFORMS["transpose"], (4, 4)) == "GBRG"
    assert pattern_after("RGGB", TRANSFORMS["transpose"], (4, 4)) == "RGGB"


@pytest.mark.parametrize("text", ["rggb", " BGGR "])
def test_pattern_names_are_case_insensitive(text):
    assert parse_pattern(text) in PATTERNS


@pytest.mark.parametrize("text", ["RGBG", "XTRANS", "", "RGGBX"])
def test_unknown_patterns_are_refused(text):
    with pytest.raises(PatternError, match="unknown CFA pattern"):
        parse_pattern(text)
