import json
from pathlib import Path

import pytest
import torch

from models import (
    ArchSpec,
    GroupSpec,
    SpecError,
    build_model,
    mwrcanet_paper_spec,
    mwresnet_spec,
    named_spec,
    spec_cost,
)
from models.spec import GROUP_NAMES

from .released_definition import ReleasedMWRCANet

# A copy of ../shared/reference/mwrcanet_official_state_dict.tsv, so that a plain clone tests it
# too.
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "mwrcanet_official_state_dict.tsv"


def tiny_spec(block="rcab", n=1, **kw):
    return ArchSpec(
        widths=(8, 12, 16), groups=tuple(GroupSpec(block, n) for _ in GROUP_NAMES), **kw
    )


def reference_rows():
    lines = REFERENCE.read_text().splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def test_paper_state_dict_equals_reference_keys_shapes_and_order():
    rows = reference_rows()
    model = build_model(mwrcanet_paper_spec(), device="meta")
    state = model.state_dict()
    assert list(state) == [key for key, _, _ in rows]
    assert {k: "x".join(map(str, v.shape)) for k, v in state.items()} == {k: s for k, s, _ in rows}
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {k for k, _, grad in rows if grad == "1"}
    assert sum(v.numel() for v in state.values()) == 27_216_061


def test_paper_cost_equals_reference():
    cost = spec_cost(mwrcanet_paper_spec())
    assert cost.state_values == 27_216_061
    assert cost.params == 27_215_965
    assert cost.gflops == pytest.approx(344.2, abs=0.05)


def test_cost_scales_with_area_and_counts_params():
    spec = tiny_spec()
    small, large = spec_cost(spec, 64, 64), spec_cost(spec, 128, 128)
    assert small.params == sum(p.numel() for p in build_model(spec).parameters())
    # Channel attention acts on pooled features, so cost is only nearly proportional to area.
    assert large.gflops == pytest.approx(4 * small.gflops, rel=1e-3)
    assert large.gflops != 4 * small.gflops


@pytest.mark.parametrize("sizes", [dict(c1=16, c2=32, c3=48, n=2), dict()])
def test_forward_identical_to_released_definition(sizes):
    released = ReleasedMWRCANet(**sizes)
    for p in released.parameters():  # perturb PReLU slopes and the like away from their inits
        p.data.add_(0.01 * torch.randn_like(p)) if p.requires_grad else None
    c = (sizes.get("c1", 96), sizes.get("c2", 128), sizes.get("c3", 128))
    spec = ArchSpec(
        widths=c, groups=tuple(GroupSpec("rcab", sizes.get("n", 20)) for _ in GROUP_NAMES)
    )
    ours = build_model(spec)
    ours.load_state_dict(released.state_dict(), strict=True)
    x = torch.rand(1, 1, 16, 24)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), released(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("block", ["residual", "dense", "rcab"])
def test_spec_builds_working_model(block):
    model = build_model(tiny_spec(block, n=2, in_channels=3, activation="relu"))
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    y = model(x)
    assert y.shape == x.shape
    y.mean().backward()
    assert torch.isfinite(x.grad).all()


def test_zero_block_group_is_skipped():
    groups = tuple(GroupSpec("rcab", 0 if name == "middle" else 1) for name in GROUP_NAMES)
    model = build_model(ArchSpec(widths=(8, 8, 8), groups=groups))
    assert isinstance(model.middle, torch.nn.Identity)
    assert model(torch.rand(1, 1, 8, 8)).shape == (1, 1, 8, 8)


def test_mwresnet_has_two_middle_groups_of_residual_blocks():
    model = build_model(mwresnet_spec(widths=(8, 8, 8)))
    assert len(model.middle) == 2 and len(model.middle[0].body) == 4
    assert type(model.down1[2].body[0]).__name__ == "ResidualBlock"
    assert isinstance(model.down1[1], torch.nn.ReLU)


def test_forward_rejects_sizes_not_multiple_of_8():
    with pytest.raises(ValueError, match="multiples of 8"):
        build_model(tiny_spec())(torch.rand(1, 1, 12, 16))


@pytest.mark.parametrize(
    "spec", [tiny_spec("dense", 3, in_channels=3), mwrcanet_paper_spec(), mwresnet_spec()]
)
def test_spec_json_round_trip(spec):
    text = spec.to_json()
    assert ArchSpec.from_json(text) == spec
    assert json.loads(text)["groups"][2]["name"] == "middle"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(widths=[8, 8]), "widths"),
        (lambda d: d.update(widths=[8, 0, 8]), "widths"),
        (lambda d: d["groups"][1].update(block="transformer"), "groups.enc2.block"),
        (lambda d: d["groups"][3].update(num_blocks=-1), "groups.dec2.num_blocks"),
        (lambda d: d["groups"][0].update(num_groups=0), "groups.enc1.num_groups"),
        (lambda d: d["groups"].pop(), "groups"),
        (lambda d: d.update(activation="swish"), "activation"),
        (lambda d: d.update(depth=3), "unknown field"),
        (lambda d: d["groups"][0].update(name="middle"), "out of order"),
        (lambda d: d.update(in_channels=True), "in_channels"),
        (lambda d: d["groups"][1].update(block=["rcab"]), "groups.enc2.block"),
        (lambda d: d.update(activation={"prelu": 1}), "activation"),
        (lambda d: d.update(name=["x"]), "name"),
    ],
)
def test_spec_validation_names_the_field(mutate, message):
    data = tiny_spec().to_dict()
    mutate(data)
    with pytest.raises(SpecError, match=message):
        ArchSpec.from_dict(data)


def test_invalid_json_is_a_spec_error():
    with pytest.raises(SpecError, match="invalid JSON"):
        ArchSpec.from_json("{widths: ")


def test_named_spec_lists_known_names():
    assert named_spec("mwresnet") == mwresnet_spec()
    with pytest.raises(KeyError, match="mwrcanet_paper"):
        named_spec("unet")


def test_composed_cost_equals_measured_cost():
    from models import composed_cost
    import random

    rng = random.Random(0)
    specs = [mwrcanet_paper_spec(), mwresnet_spec(widths=(16, 24, 32))]
    for _ in range(4):
        groups = tuple(
            GroupSpec(
                rng.choice(["residual", "dense", "rcab"]), rng.randint(0, 5), rng.randint(1, 2)
            )
            for _ in GROUP_NAMES
        )
        specs.append(ArchSpec(widths=(16, 32, 48), groups=groups, in_channels=rng.choice([1, 3])))
    for spec in specs:
        assert composed_cost(spec, 64, 64) == spec_cost(spec, 64, 64)
    assert composed_cost(mwrcanet_paper_spec()) == spec_cost(mwrcanet_paper_spec())


def test_named_architectures_are_builders_for_either_kind_of_data():
    from models import ARCHITECTURES

    assert set(ARCHITECTURES) == {"mwrcanet_paper", "mwresnet"}  # channels are not in names
    for name in ARCHITECTURES:
        raw, srgb = named_spec(name), named_spec(name, in_channels=3)
        assert (raw.in_channels, srgb.in_channels) == (1, 3)
        assert (raw.widths, raw.groups, raw.name) == (srgb.widths, srgb.groups, srgb.name)
