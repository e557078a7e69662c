import json

import pandas as pd
import pytest

from nas.search.database import DatabaseError, export_database, load_database, split_diverged
from nas.search.engine import SearchEngine
from nas.search.generational import run_generations
from nas.search.evaluators import InProcessEvaluator

from ..helpers import tiny_space


def test_a_random_search_is_a_database_that_exports_and_reloads(tmp_path):
    space = tiny_space(
        evolution={"selection": "random", "population": 3, "generations": 0},
        budget={"rungs": [0.5], "steps": 4},
    )
    run = tmp_path / "run"
    run_generations(SearchEngine(space, 0, run), InProcessEvaluator(threads=1))
    table = load_database(run)
    assert len(table) == 3 and all(len(curve) == 2 for curve in table["curve"])
    out = tmp_path / "db.csv.gz"
    export_database(run, out, command="python -m nas.search ...")
    again = load_database(out)
    assert list(again["key"]) == list(table["key"]) and list(again["arch"]) == list(table["arch"])
    meta = json.loads((tmp_path / "db.meta.json").read_text())
    assert (
        meta["exported_by"].startswith("python -m nas.search")
        and meta["rows"] == 3
        and "torch" in meta["environment"]
    )


@pytest.mark.parametrize("content", [b"\x00\x01\x02binary", b"a,b\n1,2\n"])
def test_not_a_database_is_a_clear_error(tmp_path, content):
    bad = tmp_path / "db.csv"
    bad.write_bytes(content)
    with pytest.raises(DatabaseError, match="not an evaluation table"):
        load_database(bad)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("db") / "run"
    space = tiny_space(
        evolution={"selection": "random", "population": 2, "generations": 0}, budget={"steps": 2}
    )
    run_generations(SearchEngine(space, 0, run), InProcessEvaluator(threads=1))
    return run


def test_export_never_overwrites_a_journal_or_its_own_source(tiny_run, tmp_path):
    journal = tiny_run / "evaluations.jsonl"
    before = journal.read_bytes()
    with pytest.raises(DatabaseError, match=r"must be a \.csv\.gz"):
        export_database(tiny_run, journal, command="x")
    assert journal.read_bytes() == before
    table = tmp_path / "db.csv.gz"
    export_database(tiny_run, table, command="x")
    exported = table.read_bytes()
    with pytest.raises(DatabaseError, match="needs a run folder"):
        export_database(table, table, command="x")
    with pytest.raises(DatabaseError, match="folder does not exist"):
        export_database(tiny_run, tmp_path / "nowhere" / "db.csv.gz", command="x")
    assert table.read_bytes() == exported


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("psnr", "high", "psnr is not a number"),
        ("genome", "[1, 2", "malformed"),
        ("curve", "{", "malformed"),
        ("spec", '{"widths": 3}', "malformed"),
    ],
)
def test_a_malformed_cell_is_a_database_error(tiny_run, tmp_path, column, value, message):
    import pandas as pd

    export_database(tiny_run, tmp_path / "db.csv.gz", command="x")
    table = pd.read_csv(tmp_path / "db.csv.gz")
    table[column] = table[column].astype(object)
    table.loc[0, column] = value
    table.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DatabaseError, match=message):
        load_database(tmp_path / "bad.csv")


def test_an_empty_file_is_a_database_error(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DatabaseError, match="not a CSV"):
        load_database(tmp_path / "empty.csv")


def test_a_training_that_blew_up_is_split_off_by_its_own_learning_curve():
    table = pd.DataFrame(
        {
            "key": ["steady", "blown", "no-curve", "dipped"],
            "psnr": [43.0, 5.2, 20.0, 36.0],
            "curve": [
                [(19, 34.6), (38, 40.0), (150, 43.0)],
                [(19, 34.6), (38, 40.6), (150, 5.2)],
                [],
                [(10, 41.0), (20, 36.0)],
            ],
        }
    )
    trained, diverged = split_diverged(table)
    assert list(diverged["key"]) == ["blown"]
    assert list(trained["key"]) == [
        "steady",
        "no-curve",
        "dipped",
    ]  # no curve, or a drop under 10 dB
    assert len(split_diverged(table.drop(columns="curve"))[1]) == 0
