import pytest
import torch

from models import WeightsError, load_released, mwrcanet_paper_spec, build_model


@pytest.fixture(scope="module")
def release_state():
    torch.manual_seed(1)
    return build_model(mwrcanet_paper_spec()).state_dict()


def save_release_format(state, path):
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 17}, path)


def test_loads_release_format(tmp_path, release_state):
    path = tmp_path / "dn_mwrcanet_raw_c1.pth"
    save_release_format(release_state, path)
    model = load_released(path)
    assert not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, release_state[key]), key


def test_loads_bare_state_dict(tmp_path, release_state):
    path = tmp_path / "bare.pth"
    torch.save(release_state, path)
    assert torch.equal(load_released(path).up3[1].weight, release_state["up3.1.weight"])


def test_truncated_checkpoint_lists_missing_keys(tmp_path, release_state):
    state = dict(release_state)
    del state["middle.tail.weight"], state["up3.1.bias"]
    path = tmp_path / "truncated.pth"
    save_release_format(state, path)
    with pytest.raises(WeightsError, match=r"missing 2: middle.tail.weight, up3.1.bias"):
        load_released(path)


def test_foreign_checkpoint_lists_unexpected_and_misshaped(tmp_path, release_state):
    state = dict(release_state)
    state["fc.weight"] = torch.zeros(3)
    state["down1.0.weight"] = torch.zeros(64, 4, 3, 3)
    path = tmp_path / "foreign.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(WeightsError) as err:
        load_released(path)
    assert "unexpected 1: fc.weight" in str(err.value)
    assert "wrong shape 1: down1.0.weight" in str(err.value)


def test_corrupt_or_missing_file(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read weights"):
        load_released(bad)
    with pytest.raises(WeightsError, match="not found"):
        load_released(tmp_path / "absent.pth")


class _Payload:
    """Unpickling this runs code: it creates ``path`` (what a malicious checkpoint could do)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_rejects_pickled_objects_without_running_them(tmp_path):
    path, ran = tmp_path / "pickle.pth", tmp_path / "payload_ran"
    torch.save({"state_dict": {"a": torch.zeros(1)}, "extra": _Payload(ran)}, path)
    with pytest.raises(WeightsError, match="holds Python objects beyond tensors"):
        load_released(path)
    assert not ran.exists()


def test_a_dict_of_tensors_with_non_string_keys_is_not_a_state_dict(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({1: torch.zeros(2), 2: torch.ones(2)}, path)
    with pytest.raises(WeightsError, match="holds no state dict"):
        load_released(path)
