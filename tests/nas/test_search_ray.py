"""End-to-end searches on a real local Ray, in subprocesses (each gets its own Ray)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from .helpers import tiny_space, write_space

TOKEN = Path.home() / ".ray" / "auth_token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def search(*args, **popen):
    cmd = [sys.executable, "-m", "nas.search", *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **popen)


def finish(proc, timeout=300):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def best_without_path(folder):
    best = json.loads((folder / "best.json").read_text())
    best.pop("run")
    return best


@pytest.fixture
def space_file(tmp_path):
    return write_space(tmp_path / "tiny.yaml", tiny_space(evolution={"population": 4, "generations": 2}))


def test_resume_after_kill_equals_uninterrupted_run(tmp_path, space_file):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    out = finish(search("--space", space_file, "--out", whole, "--seed", 7))
    assert "gen   2/2" in out and "best:" in out
    proc = search("--space", space_file, "--out", killed, "--seed", 7)
    checkpoint = killed / "checkpoint.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists() and json.loads(checkpoint.read_text())["generation"] >= 1:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    kill_group(proc)                                           # kill -9, Ray and all
    assert json.loads(checkpoint.read_text())["generation"] < 3
    finish(search("--resume", killed))
    assert best_without_path(killed) == best_without_path(whole)
    table = pd.read_csv(killed / "evaluations.csv")
    assert len(table) == table["key"].nunique()                # nothing trained twice, across the resume
    assert {"generation", "key", "spec", "psnr", "ssim", "params", "gflops", "status"} <= set(table.columns)
    for name in ("space.yaml", "logbook.csv", "fitness.png"):
        assert (killed / name).is_file()
    assert any((killed / "tensorboard").iterdir())


def start_head(port, dash, cpus):
    """``ray start --head`` in its own process group, returned once its dashboard answers. (Ray
    rewrites a loopback --address to the node's IP, so the head must not be pinned to 127.0.0.1
    with --node-ip-address; it listens on every local interface, 127.0.0.1 included.)"""
    head = subprocess.Popen(["ray", "start", "--head", "--block", f"--port={port}", f"--num-cpus={cpus}",
                             "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{dash}/api/v0/actors", timeout=5)
            return head, 200
        except urllib.error.HTTPError as err:
            return head, err.code
        except OSError:
            time.sleep(1)
    kill_group(head)
    raise AssertionError("the Ray head did not start")


def test_search_joins_ray_head_and_dashboard_lists_trials(tmp_path, space_file):
    port, dash = free_port(), free_port()
    head, _ = start_head(port, dash, cpus=2)
    try:
        proc = search("--space", space_file, "--out", tmp_path / "run", "--address", f"127.0.0.1:{port}")
        seen, deadline = set(), time.time() + 240
        while proc.poll() is None and time.time() < deadline:
            seen |= trial_names(dash)
            time.sleep(0.5)
        out = finish(proc)
        assert f"127.0.0.1:{dash}" in out and "Authorization: Bearer" in out
        keys = set(pd.read_csv(tmp_path / "run" / "evaluations.csv")["key"])
        assert any(any(k in name for k in keys) for name in seen), (seen, keys)
    finally:
        kill_group(head)


def trial_names(dash_port):
    """The dashboard's actor list (REST API, with the token): names of our fitness trials."""
    request = urllib.request.Request(f"http://127.0.0.1:{dash_port}/api/v0/actors?limit=200&detail=1",
                                     headers={"Authorization": f"Bearer {TOKEN.read_text().strip()}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            actors = json.load(response)["data"]["result"]["result"]
    except (OSError, KeyError, ValueError):
        return set()
    return {a.get("repr_name") or "" for a in actors if "FitnessTrial" in (a.get("repr_name") or "")}


def test_dashboard_refuses_requests_without_token():
    # Guards the default: token authentication stays on.
    head, status = start_head(free_port(), free_port(), cpus=1)
    kill_group(head)
    assert status == 401


@pytest.mark.parametrize("args, message", [
    (["--space", "no_such_space.yaml"], "search space not found"),
    (["--space", "rcab_dense.yaml", "--population", "0"], "evolution.population"),
    (["--space", "rcab_dense.yaml", "--data", "sidd-val:/nope"], "folder not found"),
    (["--resume", "/no/such/run"], "cannot resume"),
])
def test_bad_input_is_one_line_error(args, message):
    proc = subprocess.run([sys.executable, "-m", "nas.search", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_existing_run_is_not_overwritten(tmp_path, space_file):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.json").write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "nas.search", "--space", str(space_file), "--out", str(run)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "already holds a run" in proc.stderr
    assert (run / "checkpoint.json").read_text() == "{}"
