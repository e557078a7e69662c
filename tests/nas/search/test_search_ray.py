"""End-to-end searches on a real local Ray, in subprocesses (each gets its own Ray)."""

import io
import json
import logging
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

from ..helpers import run_cli, tiny_space, write_space

TOKEN = Path.home() / ".ray" / "auth_token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def search(*args, **popen):
    cmd = [sys.executable, "-m", "nas.search", *map(str, args)]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **popen,
    )


def search_here(args, capsys):
    """``python -m nas.search ARGS`` in this process, on the tests' shared local Ray: its
    output."""
    from nas.search.__main__ import main

    logged = io.StringIO()
    handler = logging.StreamHandler(logged)  # what the command logs reaches its console
    logger = logging.getLogger("nas")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        main([str(arg) for arg in args])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    captured = capsys.readouterr()
    return captured.out + captured.err + logged.getvalue()


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
    return write_space(
        tmp_path / "tiny.yaml", tiny_space(evolution={"population": 4, "generations": 2})
    )


def finished_keys(run):
    journal = run / "evaluations.jsonl"
    return (
        [json.loads(line)["key"] for line in journal.read_text().splitlines()]
        if journal.exists()
        else []
    )


def trainings_of(run, key):
    """Trainings of ``key`` that ran: each one opens its own TensorBoard event file."""
    return len(list((run / "tensorboard" / key).glob("events.out.tfevents.*")))


def test_resume_after_kill_mid_generation_equals_uninterrupted_run(tmp_path, local_ray, capsys):
    space = write_space(
        tmp_path / "tiny.yaml", tiny_space(evolution={"population": 4, "generations": 1})
    )
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    out = search_here(["--space", space, "--out", whole, "--seed", 7], capsys)
    assert "gen   1/1" in out and "best:" in out
    proc = search("--space", space, "--out", killed, "--seed", 7)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and len(finished_keys(killed)) < 5:
        time.sleep(0.1)  # 4 in generation 0, then some of generation 1 finish
    assert proc.poll() is None, "the run ended before it could be killed"
    kill_group(proc)  # kill -9, Ray and all
    done = finished_keys(killed)
    logged = json.loads((killed / "checkpoint.json").read_text())["logbook"]
    assert [entry["gen"] for entry in logged] == [0] and len(done) >= 5  # generation 1 unfinished
    search_here(["--resume", killed], capsys)  # on another Ray than the killed run's
    assert best_without_path(killed) == best_without_path(whole)
    assert all(trainings_of(killed, key) == 1 for key in done), "a finished trial was trained again"
    table = pd.read_csv(killed / "evaluations.csv")
    assert set(done) <= set(table["key"]) and len(table) == len(finished_keys(killed))
    assert {"generation", "key", "spec", "psnr", "ssim", "params", "gflops", "status"} <= set(
        table.columns
    )
    for name in ("space.yaml", "logbook.csv", "fitness.png"):
        assert (killed / name).is_file()
    assert any((killed / "tensorboard").iterdir())


def start_head(port, dash, cpus):
    """``ray start --head`` in its own process group, returned once its dashboard answers. (Ray
    rewrites a loopback --address to the node's IP, so the head must not be pinned to 127.0.0.1
    with --node-ip-address; it listens on every local interface, 127.0.0.1 included.)"""
    head = subprocess.Popen(
        [
            "ray",
            "start",
            "--head",
            "--block",
            f"--port={port}",
            f"--num-cpus={cpus}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dash}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
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


def test_srgb_search_joins_ray_head_and_dashboard_lists_trials(tmp_path):
    # One search covers two things: a driver joining a running head (--address) and a whole
    # sRGB search of two generations.
    space = write_space(
        tmp_path / "srgb.yaml",
        tiny_space(
            in_channels=3,
            budget={"data": "synthetic-srgb"},
            evolution={"population": 4, "generations": 2},
        ),
    )
    run = tmp_path / "run"
    port, dash = free_port(), free_port()
    head, _ = start_head(port, dash, cpus=2)
    try:
        proc = search("--space", space, "--out", run, "--seed", 3, "--address", f"127.0.0.1:{port}")
        seen, deadline = set(), time.time() + 240
        while proc.poll() is None and time.time() < deadline:
            seen |= trial_names(dash)
            time.sleep(0.5)
        out = finish(proc)
    finally:
        kill_group(head)
    assert f"127.0.0.1:{dash}" in out and "Authorization: Bearer" in out
    assert "gen   2/2" in out
    table = pd.read_csv(run / "evaluations.csv")
    assert any(any(k in name for k in set(table["key"])) for name in seen), (seen, table["key"])
    assert (table["status"] == "ok").all() and len(table) >= 4
    best = json.loads((run / "best.json").read_text())
    assert best["spec"]["in_channels"] == 3 and best["metrics"]["status"] == "ok"
    assert 10 < best["metrics"]["psnr"] < 60  # sRGB PSNR on the 8-bit scale


def trial_names(dash_port):
    """The dashboard's actor list (REST API, with the token): names of our fitness trials."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{dash_port}/api/v0/actors?limit=200&detail=1",
        headers={"Authorization": f"Bearer {TOKEN.read_text().strip()}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            actors = json.load(response)["data"]["result"]["result"]
    except (OSError, KeyError, ValueError):
        return set()
    return {
        a.get("repr_name") or "" for a in actors if "FitnessTrial" in (a.get("repr_name") or "")
    }


def test_local_ray_of_the_search_keeps_token_authentication():
    # Guards the default: the Ray that start_ray starts refuses the dashboard's API without the
    # token.
    code = (
        "from nas.search.evaluators import start_ray; print(start_ray(), flush=True); "
        "import time; time.sleep(120)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("127.0.0.1:"), url
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://{url}/api/v0/actors", timeout=10)
        assert refused.value.code == 401
        request = urllib.request.Request(
            f"http://{url}/api/v0/actors",
            headers={"Authorization": f"Bearer {TOKEN.read_text().strip()}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        kill_group(proc)


BAD_INPUT = [
    (["--space", "no_such_space.yaml"], "search space not found"),
    (["--space", "rcab_dense.yaml", "--population", "0"], "evolution.population"),
    (["--space", "rcab_dense.yaml", "--data", "sidd-val:/nope"], "folder not found"),
    (["--resume", "/no/such/run"], "cannot resume"),
    (["--resume", "/no/such/run", "--space", "rcab_dense.yaml"], "drop --space"),
    (["--space", "rcab_dense.yaml", "--objectives"], "unrecognized arguments"),
    (["--space", "rcab_dense.yaml", "--out", "/etc/hostname"], "is a file, not a folder"),
    (
        ["--space", "rcab_dense.yaml", "--steps", "300", "--warmup-steps", "300"],
        "warmup_steps: must be below steps (300)",
    ),
    (["--resume", "/no/such/run", "--warmup-steps", "30"], "drop --warmup-steps"),
    (["--resume", "/no/such/run", "--width-multiplier", "0.25"], "drop --width-multiplier"),
    (["--resume", "/no/such/run", "--patch-size", "64"], "drop --patch-size"),
    (["--space", "rcab_dense.yaml", "--width-multiplier", "0"], "budget.width_multiplier"),
    (["--space", "rcab_dense.yaml", "--patch-size", "30"], "budget.patch_size"),
    (
        ["--space", "rcab_dense.yaml", "--patch-size", "100000", "--check"],
        "larger than a training photo",
    ),
    (
        ["--space", "rcab_dense.yaml", "--time-budget", "soon"],
        "--time-budget 'soon': expected a duration",
    ),
    (
        ["--space", "rcab_dense.yaml", "--time-budget", "0m"],
        "--time-budget '0m': must be positive and finite",
    ),
]


@pytest.mark.parametrize("args, message", BAD_INPUT)
def test_bad_input_is_one_line_error(args, message, capsys):
    # In-process: the command's own main, as ``python -m nas.search`` runs it (the subprocess
    # tests below cover the entry point itself).
    from nas.search.__main__ import main

    code, lines = run_cli(main, args, capsys)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines


def test_bad_input_to_the_command_is_one_line_error_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "nas.search", "--space", "no_such_space.yaml"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "search space not found" in lines[0], proc.stderr


def test_a_trial_the_cluster_cannot_place_is_one_line_error(local_ray, capsys):
    from nas.search.__main__ import main

    code, lines = run_cli(main, ["--space", "rcab_dense.yaml", "--gpus-per-trial", "0.5"], capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "a trial needs 0.5 GPU but the Ray cluster has 0" in lines[0]


def test_existing_run_is_not_overwritten(tmp_path, space_file, capsys):
    from nas.search.__main__ import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.json").write_text("{}")
    code, lines = run_cli(main, ["--space", str(space_file), "--out", str(run)], capsys)
    assert code == 2 and "already holds a run" in lines[0]
    assert (run / "checkpoint.json").read_text() == "{}"


def test_resume_applies_new_resources(tmp_path, space_file, local_ray, capsys):
    from nas.search.__main__ import main
    from nas.search.engine import SearchEngine
    from nas.search.space import load_space

    run = tmp_path / "run"
    SearchEngine(load_space(space_file), 0, run).save()  # a run killed before its first result
    code, lines = run_cli(main, ["--resume", str(run), "--gpus-per-trial", "0.5"], capsys)
    assert code == 2 and len(lines) == 1 and "a trial needs 0.5 GPU" in lines[0], lines


@pytest.mark.parametrize(
    "args, plan",
    [
        (["--steps", "300", "--warmup-steps", "30"], "300 steps (30 of warm-up)"),
        (
            ["--width-multiplier", "0.25", "--patch-size", "64"],
            "on 64-pixel patches at width x0.25",
        ),
        ([], "guided, population 6, 9 generations, at most 24 trainings"),
        (["--trainings", "40"], "guided, population 6, 17 generations, at most 40 trainings"),
        (["--selection", "tournament"], "tournament, population 6, 3 generations, at most 24"),
        (["--generations", "5"], "guided, population 6, 5 generations, at most 16 trainings"),
    ],
)
def test_budget_and_length_flags_from_the_command_line_reach_the_plan(args, plan, capsys):
    from nas.search.__main__ import main

    main(["--space", "rcab_dense.yaml", *args, "--check"])
    assert plan in capsys.readouterr().out


def test_a_spent_time_budget_stops_the_search_and_says_how_to_go_on(
    tmp_path, space_file, local_ray, capsys
):
    run = tmp_path / "run"
    args = ["--space", space_file, "--out", run, "--time-budget", "1s", "--max-concurrent", "2"]
    out = search_here(args, capsys)
    assert "time budget of 1s spent after generation 0 of 2" in out and f"--resume {run}" in out
    assert len(finished_keys(run)) == 4 and (run / "best.json").is_file()
