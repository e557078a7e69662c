import pytest
import torch
import torch.nn.functional as F

from models import DWT, IWT, haar_filters


@pytest.mark.parametrize("shape", [(1, 1, 8, 8), (3, 5, 6, 10), (2, 96, 16, 4)])
def test_iwt_inverts_dwt(shape):
    x = torch.randn(shape)
    y = DWT()(x)
    assert y.shape == (shape[0], 4 * shape[1], shape[2] // 2, shape[3] // 2)
    torch.testing.assert_close(IWT()(y), x, rtol=0, atol=1e-6)


def test_dwt_equals_released_grouped_conv_and_band_order():
    x = torch.randn(2, 3, 8, 6)
    w = haar_filters()
    expected = F.conv2d(x, w.repeat(3, 1, 1, 1), stride=2, groups=3)
    torch.testing.assert_close(DWT()(x), expected, rtol=0, atol=0)
    # Channel-major: channel c's four bands are LL, LH, HL, HH at 4c .. 4c+3.
    cell = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    ll, lh, hl, hh = DWT()(cell).flatten().tolist()
    assert ll == pytest.approx(5.0)  # 0.5 * (1 + 2 + 3 + 4)
    assert lh == pytest.approx(-2.0)  # bottom row minus top row
    assert hl == pytest.approx(-1.0)  # right column minus left column
    assert hh == pytest.approx(0.0)


def test_iwt_equals_released_transposed_conv():
    y = torch.randn(2, 8, 5, 7)
    expected = F.conv_transpose2d(y, haar_filters().repeat(2, 1, 1, 1), stride=2, groups=2)
    torch.testing.assert_close(IWT()(y), expected, rtol=0, atol=1e-6)


def test_filters_are_fixed_buffers():
    dwt = DWT()
    assert list(dwt.parameters()) == []
    assert list(dwt.state_dict()) == ["weight"]


@pytest.mark.parametrize("size", [(7, 8), (8, 5)])
def test_odd_sizes_raise(size):
    with pytest.raises(ValueError, match="even"):
        DWT()(torch.randn(1, 1, *size))


def test_iwt_rejects_channels_not_divisible_by_4():
    with pytest.raises(ValueError, match="divisible by 4"):
        IWT()(torch.randn(1, 6, 4, 4))
