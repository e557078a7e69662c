import json

import pytest

from nas.search.database import DatabaseError, export_database, load_database
from nas.search.engine import Evolution
from nas.search.evaluators import InProcessEvaluator

from ..helpers import tiny_space


def test_a_random_search_is_a_database_that_exports_and_reloads(tmp_path):
    space = tiny_space(evolution={"selection": "random", "population": 3, "generations": 0},
                       budget={"rungs": [0.5], "steps": 4})
    run = tmp_path / "run"
    Evolution(space, run, InProcessEvaluator(threads=1), 0).run()
    table = load_database(run)
    assert len(table) == 3 and all(len(curve) == 2 for curve in table["curve"])
    out = tmp_path / "db.csv.gz"
    export_database(run, out, command="python -m nas.search ...")
    again = load_database(out)
    assert list(again["key"]) == list(table["key"]) and list(again["arch"]) == list(table["arch"])
    meta = json.loads((tmp_path / "db.meta.json").read_text())
    assert meta["exported_by"].startswith("python -m nas.search") and meta["rows"] == 3 and "torch" in meta["environment"]


@pytest.mark.parametrize("content", [b"\x00\x01\x02binary", b"a,b\n1,2\n"])
def test_not_a_database_is_a_clear_error(tmp_path, content):
    bad = tmp_path / "db.csv"
    bad.write_bytes(content)
    with pytest.raises(DatabaseError):
        load_database(bad)
