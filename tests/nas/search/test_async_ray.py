"""Asynchronous evolution on a real local Ray: one Tuner, no barrier, every training placed;
kill -9 and resume retrains nothing that had finished."""

import json
import time

import pandas as pd

from nas.search.asynchronous import RayBackend, run_asynchronous
from nas.search.engine import SearchEngine
from nas.search.evaluators import RayEvaluator

from ..helpers import tiny_space, write_space
from .test_search_ray import finished_keys, kill_group, search, search_here, trainings_of


def run_on_ray(tmp_path, **evolution):
    space = tiny_space(evolution=evolution, resources={"max_concurrent": 2})
    engine = SearchEngine(space, 1, tmp_path)
    backend = RayBackend(RayEvaluator.for_space(tmp_path, space.resources))
    assert run_asynchronous(engine, backend) is True
    return engine, backend


def test_asynchronous_search_keeps_both_slots_fed_and_places_every_training(tmp_path, local_ray):
    engine, backend = run_on_ray(
        tmp_path / "async",
        population=3,
        generations=2,
        offspring=1,
        selection="aging",
        asynchronous=True,
    )
    told = list(engine.evaluations.values())
    assert len(told) == 5 and not engine.pending  # more trainings than slots
    assert backend.waits == 0, "a free slot waited for the engine"
    assert all(e.result.placed and e.result.node for e in told)
    assert {e.result.slot for e in told} == {0, 1}
    for slot in (0, 1):  # a slot runs one training at a time
        runs = sorted((e.result.started, e.result.ended) for e in told if e.result.slot == slot)
        assert all(end <= next_start for (_, end), (next_start, _) in zip(runs, runs[1:]))
        assert all(start < end for start, end in runs)
    lines = (tmp_path / "async" / "evaluations.jsonl").read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == [e.key for e in told]
    assert all("slot" in json.loads(line)["result"] for line in lines)
    # the same backend with a generational scheme waits at the barrier
    _, barrier = run_on_ray(tmp_path / "gen", population=3, generations=1, selection="tournament")
    assert barrier.waits > 0


def test_kill_and_resume_of_an_asynchronous_search_retrains_nothing_finished(
    tmp_path, local_ray, capsys
):
    space = tiny_space(
        evolution={
            "population": 4,
            "generations": 4,
            "offspring": 1,
            "selection": "aging",
            "asynchronous": True,
        },
        resources={"max_concurrent": 2},
    )
    space_file = write_space(tmp_path / "async.yaml", space)
    run = tmp_path / "run"
    proc = search("--space", space_file, "--out", run, "--seed", 3)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and len(finished_keys(run)) < 3:
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be killed"
    kill_group(proc)
    done = finished_keys(run)
    out = search_here(["--resume", run], capsys)
    assert "slot utilization" in out and "trained    8/8" in out
    assert all(trainings_of(run, key) == 1 for key in done), "a finished training ran again"
    keys = finished_keys(run)
    assert keys[: len(done)] == done and len(keys) == len(set(keys)) == 8
    table = pd.read_csv(run / "evaluations.csv")
    assert table["slot"].notna().all() and (table["ended"] > table["started"]).all()
    assert (run / "timeline.png").is_file()
