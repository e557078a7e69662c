"""bench/bench_guided_ceiling.py: impossible settings are refused with one line, before any run;
the perfect model reads a genome back from its features."""

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_guided_ceiling  # noqa: E402

from models import GROUP_NAMES  # noqa: E402
from nas.search.genome import GenomeCodec  # noqa: E402
from nas.search.guided import genome_features  # noqa: E402
from nas.search.space import load_space  # noqa: E402
from nas.search.surrogate import spec_features  # noqa: E402


@pytest.mark.parametrize(
    "flags",
    [
        ["--max-evals", "30"],
        ["--seeds", "0"],
        ["--samples", "1"],
        ["--prior-db", "no.csv.gz"],
        ["--prior-db", "MALFORMED"],
        ["--db", "no.csv.gz"],
        ["--space", "no.yaml"],
    ],
)
def test_impossible_settings_are_a_one_line_error(monkeypatch, capsys, tmp_path, flags):
    malformed = tmp_path / "malformed.csv.gz"
    malformed.write_text("not a database")
    flags = [str(malformed) if f == "MALFORMED" else f for f in flags]
    monkeypatch.setattr(sys, "argv", ["bench_guided_ceiling.py", *flags])
    with pytest.raises(SystemExit) as exited:
        bench_guided_ceiling.main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_a_genome_is_read_back_from_its_features():
    space = load_space("rcab_dense.yaml")
    codec = GenomeCodec(space)
    rng = random.Random(0)
    for _ in range(50):
        genome = codec.random_genome(rng)
        back = bench_guided_ceiling.genome_of_features(genome_features(genome), len(GROUP_NAMES))
        # the same architecture up to an empty slot's block type, which no landscape reads
        assert spec_features(codec.decode(back), space.blocks) == spec_features(
            codec.decode(genome), space.blocks
        )
