"""The CFA pattern a network was trained on: recorded in model.pt and model.json, read back."""

import json

import pytest
import torch

from models import ArchSpec, GroupSpec, build_model
from models.spec import GROUP_NAMES
from nas.arch import ArchError, load_denoiser, save_model_file
from nas.export.exporter import export_model
from nas.search.best import read_result

from .export.test_export import tiny_genome, write_best
from .helpers import tiny_space

SPEC = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))


def test_model_file_records_rggb_by_default_and_any_pattern_given(tmp_path):
    state = build_model(SPEC).state_dict()
    save_model_file(tmp_path / "a.pt", SPEC, state)
    save_model_file(tmp_path / "b.pt", SPEC, state, cfa="bggr")
    assert torch.load(tmp_path / "a.pt", weights_only=True)["cfa"] == "RGGB"
    assert load_denoiser(str(tmp_path / "b.pt"))[1] == "BGGR"
    # --weights' own record wins over --arch's
    assert load_denoiser(str(tmp_path / "a.pt"), str(tmp_path / "b.pt"))[1] == "BGGR"


def test_old_model_files_without_the_field_load_as_rggb(tmp_path):
    torch.save(
        {"spec": SPEC.to_dict(), "state_dict": build_model(SPEC).state_dict()}, tmp_path / "old.pt"
    )
    model, pattern = load_denoiser(str(tmp_path / "old.pt"))
    assert pattern == "RGGB" and isinstance(model, torch.nn.Module)
    assert load_denoiser("mwresnet")[1] == "RGGB"


def test_bad_recorded_pattern_is_an_arch_error(tmp_path):
    torch.save(
        {"spec": SPEC.to_dict(), "state_dict": build_model(SPEC).state_dict(), "cfa": "XYZW"},
        tmp_path / "bad.pt",
    )
    with pytest.raises(ArchError, match="cfa: unknown CFA pattern"):
        load_denoiser(str(tmp_path / "bad.pt"))


def test_export_writes_the_weights_pattern_to_model_json_and_model_pt(tmp_path):
    space = tiny_space(widths={"level1": [16], "level2": [16], "level3": [32]})
    result = read_result(write_best(tmp_path / "best.json", space, tiny_genome()))
    save_model_file(
        tmp_path / "trained.pt",
        result["spec"],
        build_model(result["spec"]).state_dict(),
        cfa="GRBG",
    )
    info = export_model(
        result, tmp_path / "out", formats=("pt",), weights=str(tmp_path / "trained.pt")
    )
    assert (
        info["cfa"] == "GRBG"
        and json.loads((tmp_path / "out" / "model.json").read_text())["cfa"] == "GRBG"
    )
    assert load_denoiser(str(tmp_path / "out" / "model.pt"))[1] == "GRBG"
    (tmp_path / "spec.json").write_text(json.dumps({"spec": SPEC.to_dict(), "cfa": "GBRG"}))
    assert load_denoiser(str(tmp_path / "spec.json"))[1] == "GBRG"
    assert export_model(result, tmp_path / "plain", formats=("pt",))["cfa"] == "RGGB"
