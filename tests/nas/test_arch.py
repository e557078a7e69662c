"""--arch resolution of JSON files and the model files save_model_file writes."""

import json

import pytest

from models import ArchSpec, GroupSpec, ModelFile, Provenance, build_model
from models.spec import GROUP_NAMES
from nas.arch import ArchError, read_weights, resolve_arch, save_model_file

SPEC = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))


def test_a_result_file_gives_its_stored_spec(tmp_path):
    best = {"key": SPEC.key(), "genome": [0] * 13, "spec": SPEC.to_dict(), "space": {"x": 1}}
    (tmp_path / "best.json").write_text(json.dumps(best))
    assert resolve_arch(str(tmp_path / "best.json")) == (SPEC, None)


def test_a_genome_without_a_spec_is_sent_to_export(tmp_path):
    (tmp_path / "genome.json").write_text(json.dumps({"genome": [0] * 13}))
    with pytest.raises(ArchError, match="has a genome but no 'spec'.*nas.export"):
        resolve_arch(str(tmp_path / "genome.json"))


def test_save_model_file_records_what_made_it_and_its_metrics(tmp_path):
    state = build_model(SPEC).state_dict()
    save_model_file(tmp_path / "best.pt", SPEC, state, cfa="gbrg", step=7, val_psnr=40.0)
    record = ModelFile.load(tmp_path / "best.pt")
    assert record.cfa == "GBRG" and record.provenance == Provenance("", 7)
    assert record.metrics == {"val_psnr": 40.0}
    assert read_weights(tmp_path / "best.pt")[1] == "GBRG"
    assert resolve_arch(str(tmp_path / "best.pt"))[0] == SPEC


def test_a_named_architecture_takes_the_channels_it_is_given(tmp_path):
    assert resolve_arch("mwresnet")[0].in_channels == 1
    assert resolve_arch("mwresnet", channels=3)[0].in_channels == 3
    with pytest.raises(ArchError, match="in_channels"):
        resolve_arch("mwrcanet_paper", channels=2)
    (tmp_path / "spec.json").write_text(SPEC.to_json())  # a file's spec says its own channels
    assert resolve_arch(str(tmp_path / "spec.json"), channels=3)[0].in_channels == 1


def test_the_former_srgb_names_still_resolve_with_a_warning(caplog):
    with pytest.warns(DeprecationWarning, match="use --arch mwresnet"):
        spec, state = resolve_arch("mwresnet_srgb")
    assert spec == resolve_arch("mwresnet", channels=3)[0] and state is None
    assert "deprecated" in caplog.text
