"""Faults a search survives, on a local three-node Ray (a head with no CPUs, two 1-CPU workers).

    python bench/bench_faults.py [--population 4] [--steps 60]

Runs a search without faults, then once per fault: a worker node lost while generation 0 trains,
a trial's process SIGKILLed, the driver SIGKILLed (then ``--resume DIR --address ADDR``), and a
second ``--resume`` of the run folder while the first process runs. Prints, per fault, the
trainings repeated (trainings started beyond one per candidate) and whether ``best.json`` equals
the run without faults.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "token")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.nas.helpers import tiny_space, write_space  # noqa: E402


def trial_processes(raylets: set[int]) -> dict[int, int]:
    found = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0].decode()
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if title.startswith("ray::FitnessTrial") and ppid in raylets:
            found[int(entry)] = ppid
    return found


def search(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nas.search", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def journal(run: Path) -> list[str]:
    path = run / "evaluations.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["key"] for line in lines if line.strip()]


def best(run: Path) -> dict | None:
    path = run / "best.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data.pop("run")
    return data


class Bench:
    def __init__(self, population: int, steps: int, root: Path) -> None:
        from ray.cluster_utils import Cluster

        self.root = root
        self.space = write_space(
            root / "space.yaml",
            tiny_space(
                budget={"steps": steps}, evolution={"population": population, "generations": 0}
            ),
        )
        self.cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
        for _ in range(2):
            self.cluster.add_node(num_cpus=1)
        self.cluster.wait_for_nodes()

    def raylets(self) -> dict[int, object]:
        return {n.all_processes["raylet"][0].process.pid: n for n in self.cluster.worker_nodes}

    def run(self, name: str, fault=None) -> tuple[Path, str, int]:
        """The run folder, the console, and the trainings started beyond one per candidate."""
        run = self.root / name
        stale = set(trial_processes(set(self.raylets())))
        proc = search("--space", self.space, "--out", run, "--seed", 1, "--address", self.address)
        extra = 0
        while fault and proc.poll() is None:
            ours = {p: r for p, r in trial_processes(set(self.raylets())).items() if p not in stale}
            done = fault(proc, run, ours)
            if done is not None:
                extra = done
                break
            time.sleep(0.1)
        out, err = proc.communicate()
        return run, out + err, extra

    @property
    def address(self) -> str:
        return self.cluster.address

    def restore_nodes(self) -> None:
        while len(self.cluster.worker_nodes) < 2:
            self.cluster.add_node(num_cpus=1)
        self.cluster.wait_for_nodes()


def lose_node(bench):
    def fault(proc, run, ours):
        if not ours or journal(run):
            return None
        bench.cluster.remove_node(bench.raylets()[next(iter(ours.values()))], allow_graceful=False)
        return 0

    return fault


def kill_trial(proc, run, ours):
    if not ours or journal(run):
        return None
    os.kill(next(iter(ours)), signal.SIGKILL)
    return 0


def retried(out: str) -> int:
    return out.count(", retrying ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=4)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(args.population, args.steps, Path(tmp))
        try:
            base, out, _ = bench.run("baseline")
            reference = best(base)
            run, out, _ = bench.run("node", lose_node(bench))
            bench.restore_nodes()
            rows.append(("worker node lost in generation 0", retried(out), best(run)))
            run, out, _ = bench.run("trial", kill_trial)
            rows.append(("trial process SIGKILLed", retried(out), best(run)))
            rows.append(bench_driver_kill(bench))
            rows.append(bench_second_process(bench))
        finally:
            bench.cluster.shutdown()
        print("| fault | trainings repeated | best.json identical |")
        print("|---|---|---|")
        for fault, repeated, found in rows:
            same = "yes" if found == reference else "no"
            print(f"| {fault} | {repeated} | {same} |")


def bench_driver_kill(bench):
    in_flight = {}

    def fault(proc, run, ours):
        if not 1 <= len(journal(run)) < bench_population(bench):
            return None
        in_flight["n"] = len(ours)
        os.killpg(proc.pid, signal.SIGKILL)
        return 0

    run, _, _ = bench.run("driver", fault)
    before = journal(run)
    resumed = search("--resume", run, "--address", bench.address)
    resumed.communicate()
    after = journal(run)
    assert after[: len(before)] == before
    # a candidate in flight when the driver died trains again in the resumed run
    return ("driver SIGKILLed, then --resume", in_flight.get("n", 0), best(run))


def bench_population(bench) -> int:
    import yaml

    return yaml.safe_load(bench.space.read_text())["evolution"]["population"]


def bench_second_process(bench):
    second = {}

    def fault(proc, run, ours):
        if not ours or not (run / "checkpoint.json").exists():
            return None
        other = search("--resume", run, "--address", bench.address)
        out, err = other.communicate()
        second["rc"], second["line"] = other.returncode, (err.strip().splitlines() or [""])[-1]
        return 0

    run, _, _ = bench.run("second", fault)
    keys = journal(run)
    print(f"second process: exit {second.get('rc')}: {second.get('line')}", file=sys.stderr)
    return ("second process on the live run folder", len(keys) - len(set(keys)), best(run))


if __name__ == "__main__":
    main()
