def test_in_channels_is_raw_or_srgb():
    import pytest
    from models import ArchSpec, SpecError

    data = ArchSpec.from_dict(
        {
            "widths": [8, 8, 8],
            "groups": [
                {"name": n, "block": "rcab", "num_blocks": 1}
                for n in ("enc1", "enc2", "middle", "dec2", "dec1")
            ],
        }
    ).to_dict()
    for channels in (1, 3):
        assert ArchSpec.from_dict({**data, "in_channels": channels}).in_channels == channels
    for channels in (0, 2, 4, True):
        with pytest.raises(SpecError, match="in_channels: expected 1 .raw mosaics. or 3"):
            ArchSpec.from_dict({**data, "in_channels": channels})


def _spec(widths, *groups):
    from models import ArchSpec, GroupSpec

    return ArchSpec(widths=widths, groups=tuple(GroupSpec(*g) for g in groups))


def test_key_spells_blocks_counts_groups_and_widths():
    from models import mwrcanet_paper_spec, mwresnet_spec

    assert mwrcanet_paper_spec().key() == "c20-c20-c20-c20-c20_w96-128-128"
    assert mwresnet_spec().key() == "r4-r4-r4x2-r4-r4_w64-128-256"
    spec = _spec(
        (8, 12, 16), ("dense", 0), ("dense", 3), ("rcab", 2, 3), ("residual", 1), ("rcab", 0)
    )
    assert spec.key() == "0-d3-c2x3-r1-0_w8-12-16"


def test_key_matches_the_keys_stored_in_the_bundled_database():
    """Keys are stored in journals and databases: every stored key must still be its spec's."""
    import csv
    import gzip
    from pathlib import Path

    from models import ArchSpec

    path = Path(__file__).parents[2] / "bench" / "data" / "evaldb_rcab_dense.csv.gz"
    with gzip.open(path, "rt") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 100
    for row in rows:
        assert ArchSpec.from_json(row["spec"]).key() == row["key"]


def test_scaled_rounds_widths_to_multiples_of_4_at_least_4():
    from dataclasses import replace

    from models import mwrcanet_paper_spec

    spec = replace(mwrcanet_paper_spec(in_channels=3), widths=(96, 130, 6))
    scaled = spec.scaled(0.125)
    assert scaled.widths == (12, 16, 4)
    assert (scaled.groups, scaled.in_channels, scaled.activation, scaled.name) == (
        spec.groups,
        3,
        spec.activation,
        spec.name,
    )
    assert spec.scaled(1.0).widths == (96, 128, 8)  # 130 / 4 rounds to even
    assert spec.scaled(0.5).widths == (48, 64, 4)
