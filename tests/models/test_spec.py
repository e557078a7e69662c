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
