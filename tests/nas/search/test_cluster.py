"""Searches on a real multi-node Ray on one machine (``ray.cluster_utils.Cluster``): a head that
runs no trials and two one-CPU worker nodes. Faults are real: a worker node's raylet killed, a
trial's process SIGKILLed, the driver SIGKILLed and resumed. The driver runs as a subprocess."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("RAY_AUTH_MODE", "token")  # before Ray is imported: the cluster uses tokens

from ..helpers import tiny_space, write_space  # noqa: E402

SEED = 1
# A trial actor's process title: its class between tasks, the Tune wrapper's method in a task.
TRIAL_TITLES = ("ray::FitnessTrial", "ray::ResourceTrainable.")
TRAINING_TITLE = "ray::ResourceTrainable.train"
# Long enough that a fault strikes a training in flight: at 60 steps an idle machine finished
# the trainings before a node could be removed.
STEPS = 150
# A fault strikes a trial process that has been training for this long (seconds): not as its
# training starts or ends (a first training takes several seconds more).
TRAINING_FOR = (1.0, 2.5)


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


@pytest.fixture(scope="module")
def space_file(tmp_path_factory):
    space = tiny_space(budget={"steps": STEPS}, evolution={"population": 4, "generations": 0})
    return write_space(tmp_path_factory.mktemp("space") / "tiny.yaml", space)


def worker_raylets(cluster) -> dict[int, object]:
    return {node.all_processes["raylet"][0].process.pid: node for node in cluster.worker_nodes}


def trial_processes(titles=TRIAL_TITLES) -> dict[int, int]:
    """pid -> parent pid (the raylet of its node) of every live fitness-trial worker whose
    process title starts with one of ``titles``."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0].decode()
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if title.startswith(titles):
            found[int(entry)] = ppid
    return found


class Driver:
    """``python -m nas.search ARGS`` in its own session, its output collected as it comes."""

    def __init__(self, args, wrap=()):
        cmd = [*wrap, sys.executable, "-m", "nas.search", *map(str, args)]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": os.getcwd()},
        )
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def running(self):
        return self.proc.poll() is None

    def finish(self, timeout=300):
        self.proc.wait(timeout=timeout)
        self.reader.join(timeout=10)
        out = "".join(self.lines)
        assert self.proc.returncode == 0, out[-3000:]
        return out


def journal_keys(run):
    path = run / "evaluations.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["key"] for line in lines if line.strip()]


def best_of(run):
    best = json.loads((run / "best.json").read_text())
    best.pop("run")
    return best


def assert_all_scored(run, population=4):
    table = pd.read_csv(run / "evaluations.csv")
    assert len(table) == population and (table["status"] == "ok").all(), table
    assert len(set(journal_keys(run))) == len(journal_keys(run)) == population


def assert_quiet(out):
    for noise in ("Traceback", "(raylet)", "state-dump", "ERROR"):
        assert noise not in out, out[-3000:]


def private_mount_wrapper():
    """``unshare`` arguments that give the driver a private mount namespace, or None."""
    if not shutil.which("unshare"):
        return None
    for wrap in (["unshare", "-m", "--propagation", "private"], ["unshare", "-rm"]):
        if subprocess.run([*wrap, "true"], capture_output=True).returncode == 0:
            return wrap
    return None


@pytest.fixture(scope="module")
def baseline(cluster, space_file, tmp_path_factory):
    """The run without faults. Its driver sees a private folder where the workers see a regular
    file: no trial can write into the run folder, in the driver's view or its own."""
    wrap = private_mount_wrapper()
    if wrap is None:
        pytest.skip("no private mount namespace (unshare) on this machine")
    root = tmp_path_factory.mktemp("baseline")
    private, copy = root / "private", root / "copy"
    private.mkdir()
    copy.mkdir()
    (private / "run").write_text("the workers' view of the run folder: not a folder\n")
    script = (
        f'mount -t tmpfs none "{private}" && "$0" "$@"; rc=$?; '
        f'cp -a "{private}/run/." "{copy}/"; exit $rc'
    )
    args = ["--space", space_file, "--out", private / "run", "--seed", SEED]
    driver = Driver([*args, "--address", cluster.address], wrap=[*wrap, "sh", "-c", script])
    raylets, seen = set(worker_raylets(cluster)), set()
    while driver.running():
        seen |= set(trial_processes().values()) & raylets
        time.sleep(0.1)
    out = driver.finish()
    assert (private / "run").is_file()  # nothing was created in the workers' view
    return copy, out, seen, raylets


def test_trials_spread_over_nodes_and_the_driver_writes_everything(baseline):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, out, seen, raylets = baseline
    assert seen == raylets, "trials did not run on both worker nodes"
    assert_all_scored(run)
    assert_quiet(out)
    for key in journal_keys(run):
        events = EventAccumulator(str(run / "tensorboard" / key))
        events.Reload()
        assert {"train/l1", "val/psnr"} <= set(events.Tags()["scalars"]), key
        assert len(events.Scalars("train/l1")) == STEPS


def fault_run(cluster, space_file, run, fault):
    """A search that ``fault(driver)`` interrupts once, while generation 0 trains.
    ``fault.ours()`` gives the trial processes of this driver on the worker nodes that have been
    training for ``TRAINING_FOR`` seconds."""
    stale = set(trial_processes())  # workers of an earlier driver may still be exiting
    first_seen = {}

    def ours():
        now, found = time.monotonic(), trial_processes(TRAINING_TITLE)
        for pid in found:
            first_seen.setdefault(pid, now)
        return {
            pid: parent
            for pid, parent in found.items()
            if pid not in stale
            and parent in worker_raylets(cluster)
            and TRAINING_FOR[0] <= now - first_seen[pid] <= TRAINING_FOR[1]
        }

    fault.ours = ours
    driver = Driver(
        ["--space", space_file, "--out", run, "--seed", SEED, "--address", cluster.address]
    )
    while driver.running() and not fault(driver):
        time.sleep(0.1)
    return driver


def test_a_lost_worker_node_is_retried_quietly_and_changes_nothing(
    cluster, space_file, baseline, tmp_path
):
    run = tmp_path / "run"

    def lose_a_node(driver):
        raylets = worker_raylets(cluster)
        on_nodes = list(lose_a_node.ours().values())
        if not on_nodes or journal_keys(run):
            return False
        cluster.remove_node(raylets[on_nodes[0]], allow_graceful=False)
        return True

    try:
        out = fault_run(cluster, space_file, run, lose_a_node).finish()
    finally:
        while len(cluster.worker_nodes) < 2:
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
    assert out.count("node lost, retrying 1 of 2") == 1, out
    assert_quiet(out)
    assert "Raylet" in (run / "ray.log").read_text()
    assert_all_scored(run)
    assert best_of(run) == best_of(baseline[0])


def test_a_sigkilled_trial_process_is_retried(cluster, space_file, baseline, tmp_path):
    run = tmp_path / "run"

    def kill_a_trial(driver):
        trials = kill_a_trial.ours()
        if not trials or journal_keys(run):
            return False
        os.kill(next(iter(trials)), signal.SIGKILL)
        return True

    out = fault_run(cluster, space_file, run, kill_a_trial).finish()
    assert out.count("worker killed, retrying 1 of 2") == 1, out
    assert_quiet(out)
    assert_all_scored(run)
    assert best_of(run) == best_of(baseline[0])


def test_a_sigkilled_driver_resumes_on_the_cluster(cluster, space_file, baseline, tmp_path):
    run = tmp_path / "run"

    def kill_the_driver(driver):
        if not 1 <= len(journal_keys(run)) < 4:
            return False
        os.killpg(driver.proc.pid, signal.SIGKILL)
        driver.proc.wait()
        return True

    killed = fault_run(cluster, space_file, run, kill_the_driver)
    assert killed.proc.returncode == -signal.SIGKILL, "the search ended before it could be killed"
    done = journal_keys(run)
    out = Driver(["--resume", run, "--address", cluster.address]).finish()
    assert_quiet(out)
    assert_all_scored(run)
    assert journal_keys(run)[: len(done)] == done  # finished trainings were not repeated
    assert best_of(run) == best_of(baseline[0])
