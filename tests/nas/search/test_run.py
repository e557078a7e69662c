"""The search's Python API and the run folder's lock as the command line meets them."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from nas.runlock import LOCK_NAME
from nas.search.run import SearchSettingError, configure, plan, resume, search

from ..helpers import tiny_space, write_space


@pytest.fixture
def space_file(tmp_path):
    space = tiny_space(evolution={"population": 2, "generations": 1})
    return write_space(tmp_path / "tiny.yaml", space)


def python(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


def test_search_and_resume_from_python_return_typed_outcomes(tmp_path, space_file, local_ray):
    run = tmp_path / "run"
    first = search(space_file, out=run, seed=3, announce=lambda line: None)
    assert not (run / LOCK_NAME).exists()  # released when the call returned
    again = resume(run, announce=lambda line: None)
    key = first.best.key
    assert first.finished and first.ran and first.generations_done == 2
    assert first.run_dir == run
    assert again.best.key == key and not again.ran  # nothing left to train
    lines = (run / "evaluations.jsonl").read_text().splitlines()
    journal = [json.loads(line)["key"] for line in lines]
    assert key in journal and len(journal) == len(set(journal))
    assert json.loads((run / "best.json").read_text())["key"] == key
    assert not (run / LOCK_NAME).exists()  # released when the call returned


def test_unknown_and_fixed_settings_are_refused(tmp_path, space_file):
    with pytest.raises(SearchSettingError, match="unknown search setting 'populaton'"):
        configure(space_file, populaton=3)
    with pytest.raises(SearchSettingError, match="'steps' cannot change"):
        resume(tmp_path, steps=5)


def test_configure_applies_overrides_and_plan_says_so(space_file):
    space = configure(space_file, population=3, steps=4, cpus=0.5)
    assert (space.evolution.population, space.budget.steps, space.resources.cpus) == (3, 4, 0.5)
    assert "population 3" in plan(space) and "trainings of 4 steps" in plan(space)


HOLDER = """
    import sys, time
    from nas.runlock import run_lock
    with run_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(120)
"""


@pytest.mark.parametrize("how", ["resume", "new"])
def test_a_second_process_on_a_live_run_folder_is_refused_and_changes_nothing(
    tmp_path, space_file, how
):
    run = tmp_path / "run"
    run.mkdir()
    (run / "evaluations.jsonl").write_text('{"precious": 1}\n')
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), str(run)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        before = {p.name: p.read_bytes() for p in run.iterdir()}
        args = ["--resume", run] if how == "resume" else ["--space", space_file, "--out", run]
        proc = subprocess.run(
            [sys.executable, "-m", "nas.search", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and f"is in use by pid {holder.pid} on host " in lines[0], lines
        assert lines[0].startswith(f"error: {run} is in use") and " since " in lines[0]
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    finally:
        holder.kill()
        holder.wait()
