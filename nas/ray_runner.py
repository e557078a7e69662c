"""Running a generation's fitness evaluations on Ray Tune.

Design: one ``Tuner`` per generation, its trials a ``grid_search`` over the generation's uncached
candidates. Ray Tune no longer ships an evolutionary searcher, and DEAP owns the loop. A Tuner per
generation keeps the generation boundary explicit (selection needs every fitness of it) and makes
checkpoint/resume a plain-data matter between Tuners. A custom Searcher feeding one long Tuner
would save only the per-generation start-up, at the price of tying DEAP's state to Tune's
experiment state and its own resume logic.

Measured per-trial overhead (``bench/bench_fitness.py``, 4 candidates x 300 steps, 2-core CPU;
BENCHMARKS.md): with a fresh actor per trial, Ray cost +32% over in-process (5.7 s per trial,
almost all of it a new worker importing torch and Ray Tune). With ``reuse_actors=True`` (actors
reused within a generation) the overhead is -2% (-0.45 s per trial), i.e. within noise.

Workers get plain data (the spec as a dict, the budget, a seed), never DEAP objects: DEAP's
``creator`` classes do not exist in a fresh worker process.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from models.spec import GROUP_LEVEL, GROUP_NAMES

from .fitness import FAILED_PSNR, evaluate_candidate

__all__ = ["RayEvaluator", "InProcessEvaluator", "start_ray", "dashboard_help"]

log = logging.getLogger(__name__)
# Tune's console tables would interleave with our one line per generation; the run folder keeps the details.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
AUTH_TOKEN_PATH = Path.home() / ".ray" / "auth_token"


def start_ray(address: str | None = None) -> str | None:
    """Join the cluster at ``address`` or start a local Ray with its dashboard; returns the
    dashboard address (host:port) when there is one."""
    if address:
        # A driver joining a cluster sends the token (~/.ray/auth_token) only in token mode, which
        # Ray turns on by itself only for clusters it starts, and reads the mode when imported.
        # Keep authentication on by default.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    import ray
    if ray.is_initialized():
        return ray.get_runtime_context().get_dashboard_url() if hasattr(ray.get_runtime_context(), "get_dashboard_url") else None
    kwargs = dict(logging_level=logging.WARNING, log_to_driver=False, configure_logging=True)
    if address:
        context = ray.init(address=address, **kwargs)
    else:
        # "local" always starts a new instance; without it Ray joins whatever cluster
        # /tmp/ray/ray_current_cluster names, even a dead one left by a killed process.
        context = ray.init(address="local", include_dashboard=True, dashboard_host="127.0.0.1", **kwargs)
    return context.dashboard_url or None


def dashboard_help(url: str | None) -> str:
    if not url:
        return "Ray dashboard: not available"
    return (f"Ray dashboard: http://{url}  (token authentication: the token is in {AUTH_TOKEN_PATH}; the REST API "
            f"wants the header 'Authorization: Bearer <token>')")


def _fitness_trainable():
    """A Tune Trainable whose actors carry a trial name (generation and genome key) in the
    dashboard's actor view, instead of an anonymous ``ImplicitFunc``. Actors are reused within a
    generation (a new worker costs ~5 s of imports), so an actor is named after its first trial
    and logs the name of every trial it runs (the dashboard's log view)."""
    from ray import tune

    class FitnessTrial(tune.Trainable):
        def setup(self, config: dict) -> None:
            self.candidate = config["candidate"]

        def reset_config(self, new_config: dict) -> bool:
            self.candidate = new_config["candidate"]
            return True

        def step(self) -> dict:
            c = self.candidate
            print(f"trial {self.trial_name}: training {c['key']}", flush=True)
            record = evaluate_candidate(c["spec"], c["budget"], c["seed"], threads=c["threads"],
                                        tensorboard_dir=c["tensorboard_dir"])
            return {**record, "done": True}

        # One step per trial: a retried trial (FailureConfig) simply trains again from scratch.
        def save_checkpoint(self, checkpoint_dir: str) -> None:
            return None

        def load_checkpoint(self, checkpoint) -> None:
            pass

        def __repr__(self) -> str:
            return f"FitnessTrial({self.trial_name})"

    return FitnessTrial


class RayEvaluator:
    """Evaluates candidates as Ray Tune trials, one Tuner per generation."""

    def __init__(self, run_dir: Path, cpus: float, gpus: float) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.resources = {"cpu": cpus, "gpu": gpus}
        self.threads = max(1, int(cpus))

    def evaluate(self, requests: list[dict], generation: int) -> dict[str, dict]:
        from ray import tune
        # Longest first: trials start in grid order, so this shortens the generation's makespan
        # when candidates of very different cost share few slots.
        by_cost = sorted(requests, key=lambda r: -_relative_cost(r["spec"]))
        candidates = [dict(r, threads=self.threads, tensorboard_dir=str(self.run_dir / "tensorboard" / r["key"]))
                      for r in by_cost]
        prefix = f"g{generation:03d}_"
        name = lambda trial: prefix + trial.config["candidate"]["key"]
        tuner = tune.Tuner(
            tune.with_resources(_fitness_trainable(), self.resources),
            param_space={"candidate": tune.grid_search(candidates)},
            tune_config=tune.TuneConfig(trial_name_creator=name, trial_dirname_creator=name, reuse_actors=True),
            run_config=tune.RunConfig(name=f"generation_{generation:03d}", storage_path=str(self.run_dir / "tune"),
                                      failure_config=tune.FailureConfig(max_failures=1), verbose=0),
        )
        records = {}
        for result in tuner.fit():
            # The trial folder is named after the key; a crashed trial may have no config left.
            key = Path(result.path).name.removeprefix(prefix)
            if result.error is None and result.metrics and "psnr" in result.metrics:
                records[key] = {k: result.metrics[k] for k in ("status", "error", "psnr", "ssim", "params", "gflops",
                                                                "final_loss", "train_seconds")}
            else:
                error = str(result.error).strip().splitlines()[-1][:300] if result.error else "no result reported"
                records[key] = _crashed(error)
        return {r["key"]: records.get(r["key"]) or _crashed("no result reported") for r in requests}


def _relative_cost(spec: dict) -> float:
    """Closed-form training cost for ordering only: blocks x width^2 / 4^level, summed."""
    widths = spec["widths"]
    return sum(g["num_blocks"] * g["num_groups"] * widths[GROUP_LEVEL[name]] ** 2 / 4 ** GROUP_LEVEL[name]
               for name, g in zip(GROUP_NAMES, spec["groups"]))


def _crashed(error: str) -> dict:
    return {"status": "failed", "error": f"worker crashed: {error}", "psnr": FAILED_PSNR, "ssim": 0.0, "params": 0,
            "gflops": 0.0, "final_loss": float("nan"), "train_seconds": 0.0}


class InProcessEvaluator:
    """Evaluates candidates one after another in this process (benchmarks, debugging)."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or os.cpu_count()

    def evaluate(self, requests: list[dict], generation: int) -> dict[str, dict]:
        return {r["key"]: evaluate_candidate(r["spec"], r["budget"], r["seed"], threads=self.threads)
                for r in requests}
