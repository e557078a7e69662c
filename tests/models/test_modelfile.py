"""The model file record: round trip, the older layout, atomic writes, safe loading."""

import pytest
import torch

from models import (
    ArchSpec,
    GroupSpec,
    ModelFile,
    Provenance,
    WeightsError,
    build_model,
    is_model_file,
)
from models.spec import GROUP_NAMES

SPEC = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))
SRGB_SPEC = ArchSpec(
    widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES), in_channels=3
)


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


def test_round_trip_keeps_every_field(tmp_path):
    state = build_model(SPEC).state_dict()
    record = ModelFile(
        SPEC, state, cfa="BGGR", provenance=Provenance("train", 120), metrics={"val_psnr": 41.5}
    )
    record.save(tmp_path / "m.pt")
    loaded = ModelFile.load(tmp_path / "m.pt")
    assert (loaded.spec, loaded.cfa, loaded.provenance) == (SPEC, "BGGR", Provenance("train", 120))
    assert loaded.metrics == {"val_psnr": 41.5} and loaded.key == SPEC.key()
    _assert_same_weights(loaded.state_dict, state)


def test_files_written_the_older_way_load(tmp_path):
    state = build_model(SPEC).state_dict()
    older = {
        "spec": SPEC.to_dict(),
        "state_dict": state,
        "cfa": "GRBG",
        "step": 40,
        "val_psnr": 38.25,
        "key": SPEC.key(),
    }
    torch.save(older, tmp_path / "older.pt")
    loaded = ModelFile.load(tmp_path / "older.pt")
    assert loaded.cfa == "GRBG" and loaded.provenance == Provenance("", 40)
    assert loaded.metrics == {"val_psnr": 38.25}
    _assert_same_weights(loaded.state_dict, state)
    torch.save({"spec": SPEC.to_dict(), "state_dict": state}, tmp_path / "oldest.pt")
    oldest = ModelFile.load(tmp_path / "oldest.pt")
    assert oldest.cfa is None and oldest.provenance == Provenance() and oldest.metrics == {}


def test_a_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    ModelFile(SPEC, build_model(SPEC).state_dict(), cfa="RGGB").save(path)
    before = path.read_bytes()

    def torn_save(obj, target):
        with open(target, "wb") as handle:
            handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        ModelFile(SPEC, build_model(SPEC).state_dict(), cfa="RGGB").save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_loading_refuses_python_objects_and_non_model_files(tmp_path):
    torch.save({"spec": SPEC.to_dict(), "state_dict": {}, "extra": Provenance()}, tmp_path / "o.pt")
    with pytest.raises(WeightsError, match="refused"):
        ModelFile.load(tmp_path / "o.pt")
    torch.save(build_model(SPEC).state_dict(), tmp_path / "bare.pt")
    assert not is_model_file(torch.load(tmp_path / "bare.pt", weights_only=True))
    with pytest.raises(WeightsError, match="not a model file of this toolkit"):
        ModelFile.load(tmp_path / "bare.pt")


def test_an_srgb_network_has_no_cfa_pattern(tmp_path):
    state = build_model(SRGB_SPEC).state_dict()
    with pytest.raises(WeightsError, match="sRGB network has no CFA pattern"):
        ModelFile(SRGB_SPEC, state, cfa="RGGB")
    ModelFile(SRGB_SPEC, state).save(tmp_path / "s.pt")
    assert torch.load(tmp_path / "s.pt", weights_only=True)["cfa"] is None


def test_metrics_must_be_finite_numbers():
    state = build_model(SPEC).state_dict()
    for bad in ({"val_psnr": float("nan")}, {"val_psnr": "high"}, {"val_psnr": True}):
        with pytest.raises(WeightsError, match="metrics"):
            ModelFile(SPEC, state, metrics=bad)
