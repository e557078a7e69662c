"""Trials report on rungs to a real local Ray Tune, and its ASHA scheduler stops a poor
candidate."""

import json


from models import ArchSpec, GroupSpec
from models.spec import GROUP_NAMES
from nas.search.evaluators import RayEvaluator
from nas.search.fitness import candidate_seed
from nas.search.recovery import tune_storage
from nas.search.result import Candidate

from ..helpers import tiny_space


def candidate(key, blocks, lr):
    budget = tiny_space(
        budget={"steps": 27, "scheduler": "asha", "grace_steps": 3, "reduction_factor": 3, "lr": lr}
    ).budget
    spec = ArchSpec(
        widths=(64, 64, 64), groups=tuple(GroupSpec("rcab", blocks) for _ in GROUP_NAMES)
    )
    return Candidate(key, spec, budget, candidate_seed(0, key))


def test_asha_stops_a_poor_candidate_and_rungs_reach_tune(tmp_path, local_ray):
    good = [candidate(f"good{i}", 2, 2e-3) for i in range(3)]
    poor = candidate("poor", 1, 1e-12)  # cheapest, so it starts last; it never learns
    reported = {}
    results = RayEvaluator(tmp_path, cpus=1, gpus=0, max_concurrent=1).evaluate(
        good + [poor], 0, lambda key, result: reported.setdefault(key, result)
    )
    assert results == reported, "every trial reached the journal as it ended"
    assert results["poor"].status == "stopped" and results["poor"].steps < 27
    assert not results["poor"].ok and results["poor"].curve[-1][0] == results["poor"].steps
    finished = [k for k, r in results.items() if r.ok]
    assert finished, "some candidate was trained in full"
    rows = (
        (tune_storage(tmp_path) / "generation_000" / f"g000_{finished[0]}" / "result.json")
        .read_text()
        .splitlines()
    )
    assert [json.loads(row)["steps"] for row in rows] == [3, 9, 27]
