import pytest
import torch

from models.blocks import ACTIVATIONS, BLOCKS, ResidualGroup


@pytest.mark.parametrize("block", sorted(BLOCKS))
@pytest.mark.parametrize("width", [8, 32])
def test_block_keeps_shape_and_passes_gradients(block, width):
    module = BLOCKS[block](width, ACTIVATIONS["prelu"])
    x = torch.randn(2, width, 12, 10, requires_grad=True)
    y = module(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, p in module.named_parameters():
        assert p.grad is not None, f"{block}: no gradient for {name}"


def test_rcab_matches_paper_structure():
    rcab = BLOCKS["rcab"](96, ACTIVATIONS["prelu"])
    shapes = {k: tuple(v.shape) for k, v in rcab.state_dict().items()}
    assert shapes["cuca.conv_du.0.weight"] == (6, 96, 1, 1)  # reduction 16
    assert shapes["cuca.conv_du.2.weight"] == (96, 6, 1, 1)
    assert shapes["act.weight"] == (1,)  # one shared PReLU slope


def test_residual_group_is_blocks_conv_and_skip():
    group = ResidualGroup("residual", 3, 8, ACTIVATIONS["relu"])
    assert len(group.body) == 3
    torch.nn.init.zeros_(group.tail.weight)
    torch.nn.init.zeros_(group.tail.bias)
    x = torch.randn(1, 8, 6, 6)
    torch.testing.assert_close(group(x), x)  # zero tail conv: the group is its skip


def test_dense_block_concatenates_growth():
    dense = BLOCKS["dense"](16, ACTIVATIONS["relu"])
    in_channels = [layer[0].in_channels for layer in dense.layers]
    assert in_channels == [16, 20, 24, 28]
    assert dense.fuse.in_channels == 32 and dense.fuse.out_channels == 16
