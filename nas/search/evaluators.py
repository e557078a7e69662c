"""Running a generation's fitness evaluations on Ray Tune.

Design: one ``Tuner`` per generation, its trials a ``grid_search`` over the generation's uncached
candidates. Ray Tune no longer ships an evolutionary searcher, and DEAP owns the loop. A Tuner per
generation keeps the generation boundary explicit (selection needs every fitness of it) and makes
checkpoint/resume a plain-data matter between Tuners. A custom Searcher feeding one long Tuner
would save only the per-generation start-up, at the price of tying DEAP's state to Tune's
experiment state and its own resume logic. Asynchronous mode (``evolution.asynchronous``) is
that one long Tuner: :class:`nas.search.asynchronous.RayBackend` builds it from the same
trainable, journal callback, scheduler and run config, so the Tune settings live here once. Every
Tuner gets the same run config (:meth:`RayEvaluator.run_config`): Tune's FailureConfig from
``resources.max_retries``, the retry log (one console line per retried trial,
:mod:`nas.search.recovery`), the driver-side TensorBoard writer (:mod:`nas.search.tensorboard`:
trials write nothing into the run folder, so no node needs a shared disk) and the journal.

Each trial stamps its result with its start and end time, node and GPUs
(:func:`trial_report`); the journal callback adds its slot (:class:`SlotBook`).

Actors are reused (``reuse_actors=True``): a fresh worker per trial spends most of its start
importing torch and Ray Tune (bench/README.md, "Fitness through Ray Tune").

Workers get a typed :class:`Candidate` (spec, budget, seed), never DEAP objects: DEAP's
``creator`` classes do not exist in a fresh worker process. A trial is one Trainable step per
rung of the budget (``budget.rungs``), so the dashboard and Tune see each learning curve, and
every finished trial reaches ``on_result`` (the run's journal) the moment it ends.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from models.spec import GROUP_LEVEL, GROUP_NAMES

from ..errors import UserError

from .fitness import ProxyTraining, evaluate_candidate
from .recovery import failure_config, quiet_ray_logs, retry_log, tune_storage
from .result import Candidate, CandidateResult
from .space import Resources
from .tensorboard import SCALARS, tensorboard_writer

OnResult = Callable[[str, CandidateResult], None]

__all__ = [
    "RayEvaluator",
    "InProcessEvaluator",
    "start_ray",
    "check_resources",
    "ResourceError",
    "dashboard_help",
    "OnResult",
    "SlotBook",
    "journal_callback",
    "fitness_trainable",
    "scheduler",
    "trial_report",
]

log = logging.getLogger(__name__)
# Tune's console tables would interleave with our own lines; the run folder keeps the details.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
# Ctrl-C must stop the search (the journal keeps every finished trial), not make Tune end the
# generation early and hand back its unfinished trials as if they had failed.
os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
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

    # Ray's "token authentication is enabled" warning would break our one-line output; the
    # dashboard line we print says the same, with where the token is.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(
        logging.ERROR
    )
    if ray.is_initialized():
        return (
            ray.get_runtime_context().get_dashboard_url()
            if hasattr(ray.get_runtime_context(), "get_dashboard_url")
            else None
        )
    kwargs = dict(logging_level=logging.WARNING, log_to_driver=False, configure_logging=True)
    if address:
        context = ray.init(address=address, **kwargs)
    else:
        # "local" always starts a new instance; without it Ray joins whatever cluster
        # /tmp/ray/ray_current_cluster names, even a dead one left by a killed process.
        context = ray.init(
            address="local", include_dashboard=True, dashboard_host="127.0.0.1", **kwargs
        )
    return context.dashboard_url or None


class ResourceError(UserError):
    """A trial asks for more than the Ray cluster has."""


def check_resources(resources) -> None:
    """Refuse a trial that no node of the running Ray cluster could ever place (it would wait
    forever)."""
    import ray

    have = ray.cluster_resources()
    for name, label in (("cpus", "CPU"), ("gpus", "GPU")):
        wanted = getattr(resources, name)
        if wanted > have.get(label, 0):
            raise ResourceError(
                f"a trial needs {wanted:g} {label} but the Ray cluster has {have.get(label, 0):g}; "
                f"lower --{name}-per-trial (resources.{name})"
            )


def dashboard_help(url: str | None) -> str:
    if not url:
        return "Ray dashboard: not available"
    return (
        f"Ray dashboard: http://{url}  (token authentication: the token is in "
        f"{AUTH_TOKEN_PATH}; the REST API wants the header 'Authorization: Bearer <token>')"
    )


def fitness_trainable():
    """A Tune Trainable whose actors carry a trial name (generation and genome key) in the
    dashboard's actor view, instead of an anonymous ``ImplicitFunc``. Actors are reused within a
    generation (a new worker spends seconds on imports), so an actor is named after its first trial
    and logs the name of every trial it runs (the dashboard's log view). One step per rung."""
    from ray import tune

    class FitnessTrial(tune.Trainable):
        def setup(self, config: dict, candidates: list[Candidate] = ()) -> None:
            self.candidates = candidates
            self._start(config)

        def reset_config(self, new_config: dict) -> bool:
            self.training.close()
            self._start(new_config)
            return True

        def _start(self, config: dict) -> None:
            candidate: Candidate = config.get("candidate") or self.candidates[config["index"]]
            print(f"trial {self.trial_name}: training {candidate.key}", flush=True)
            self.started = time.time()
            self.training = ProxyTraining(
                candidate,
                threads=config["threads"],
                device=config["device"],
                record_scalars=True,  # the driver writes them (nas/search/tensorboard.py)
            )
            self.rungs = iter(self.training.rungs)

        def step(self) -> dict:
            result = self.training.advance(next(self.rungs))
            done = result.status != "stopped"  # trained in full, or failed
            if done:
                self.training.close()
            return trial_report(result, self.started, done, self.training.take_scalars())

        def cleanup(self) -> None:
            self.training.close()

        # A retried trial (FailureConfig) simply trains again from scratch.
        def save_checkpoint(self, checkpoint_dir: str) -> None:
            return None

        def load_checkpoint(self, checkpoint) -> None:
            pass

        def __repr__(self) -> str:
            return f"FitnessTrial({self.trial_name})"

    return FitnessTrial


def trial_report(
    result: CandidateResult, started: float, done: bool, scalars: list | None = None
) -> dict:
    """What a trial reports to Tune after a rung: the metrics Tune schedules on, the
    :class:`CandidateResult` as JSON, stamped with where (this node, its GPUs) and when, and the
    TensorBoard scalars since the last report (written by the driver)."""
    import ray

    result = replace(
        result,
        started=started,
        ended=time.time(),
        node=ray.util.get_node_ip_address(),
        gpu=",".join(str(g) for g in ray.get_gpu_ids()),
    )
    return {
        "psnr": result.psnr,
        "steps": result.steps,
        "status": result.status,
        "candidate_result": result.to_json(),
        SCALARS: scalars or [],
        "done": done,
    }


class SlotBook:
    """The run's parallel places: a starting trial takes the lowest free slot, an ending one
    frees it (so a slot is a row of timeline.png, whichever actor ran the trial)."""

    def __init__(self) -> None:
        self.held: dict[str, int] = {}

    def take(self, trial_id: str) -> int:
        if trial_id not in self.held:
            taken = set(self.held.values())
            self.held[trial_id] = next(n for n in range(len(taken) + 1) if n not in taken)
        return self.held[trial_id]

    def release(self, trial_id: str) -> int | None:
        return self.held.pop(trial_id, None)


def journal_callback(
    key_of: Callable, on_result: OnResult, slots: SlotBook | None = None, retries=None
):
    """A Tune callback that hands each trial's final result, with its slot and retry count, to
    ``on_result`` the moment the trial ends (a trial that errored out after its retries reports a
    failure with the reason). ``key_of(trial)`` is the candidate's key; ``retries`` the run's
    :class:`~nas.search.recovery.RetryLog`."""
    from ray import tune

    slots = slots or SlotBook()

    class Journal(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info) -> None:
            slots.take(trial.trial_id)

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            payload = (trial.last_result or {}).get("candidate_result")
            result = (
                CandidateResult.from_json(payload)
                if payload
                else CandidateResult.failed("no result reported")
            )
            self._report(trial, result)

        def on_trial_error(self, iteration, trials, trial, **info) -> None:
            if retries is not None and retries.restarting(key_of(trial)):
                slots.release(trial.trial_id)  # a new trial will train it: nothing to report
                return
            reason = retries.failure(key_of(trial)) if retries is not None else None
            error = reason or str(getattr(trial, "error_msg", "") or "worker crashed").strip()
            self._report(trial, CandidateResult.failed(f"worker crashed: {error}"))

        def _report(self, trial, result: CandidateResult) -> None:
            slot, key = slots.release(trial.trial_id), key_of(trial)
            retried = retries.retries(key) if retries is not None else 0
            on_result(key, replace(result, slot=slot, retries=retried))

    return Journal()


class RayEvaluator:
    """Evaluates candidates as Ray Tune trials, one Tuner per generation. ``trainable`` replaces
    :func:`fitness_trainable` (a subclass of it that injects a fault, in the tests)."""

    def __init__(
        self,
        run_dir: Path,
        cpus: float,
        gpus: float,
        max_concurrent: int | None = None,
        max_retries: int = Resources().max_retries,
        *,
        callbacks: Sequence = (),
        trainable=None,
    ) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.resources = {"cpu": cpus, "gpu": gpus}
        self.threads = max(1, int(cpus))
        self.max_concurrent = max_concurrent
        self.max_retries = max_retries
        self.callbacks = list(callbacks)  # more Tune callbacks, after the run's own
        self.trainable = trainable

    def trial_config(self) -> dict:
        """A trial's config besides its candidate: threads and device."""
        return {
            "threads": self.threads,
            "device": "cuda" if self.resources["gpu"] > 0 else "cpu",  # Ray's GPU for this trial
        }

    def run_config(
        self, name: str, key_of: Callable, on_result: OnResult | None, retries=None
    ) -> object:
        """Tune's RunConfig of one experiment: storage outside the run folder, retries, and the
        callbacks in order (retry log, TensorBoard writer, journal, then ``self.callbacks``).
        ``key_of(trial)`` is a trial's candidate key; ``retries`` the run's
        :class:`~nas.search.recovery.RetryLog` (a new one if None)."""
        from ray import tune

        quiet_ray_logs(self.run_dir)
        retries = retries if retries is not None else retry_log(key_of, self.max_retries)
        callbacks = [retries, tensorboard_writer(self.run_dir / "tensorboard", key_of)]
        if on_result is not None:
            callbacks.append(journal_callback(key_of, on_result, retries=retries))
        return tune.RunConfig(
            name=name,
            storage_path=str(tune_storage(self.run_dir)),  # not on a shared disk
            failure_config=failure_config(self.max_retries),
            verbose=0,
            callbacks=callbacks + self.callbacks,
        )

    @classmethod
    def for_space(cls, run_dir: Path, resources, **options) -> "RayEvaluator":
        """The evaluator for a space's ``resources`` section (``options``: callbacks)."""
        return cls(
            run_dir,
            resources.cpus,
            resources.gpus,
            resources.max_concurrent,
            resources.max_retries,
            **options,
        )

    def evaluate(
        self, candidates: list[Candidate], generation: int, on_result: OnResult | None = None
    ) -> dict[str, CandidateResult]:
        reported: dict[str, CandidateResult] = {}  # as the journal callback placed them

        def report(key: str, result: CandidateResult) -> None:
            reported[key] = result
            if on_result:
                on_result(key, result)

        keys: list[str] = []  # the keys of this round's trials, by config index
        retries = retry_log(lambda trial: keys[trial.config["index"]], self.max_retries)
        results: dict[str, CandidateResult] = {}
        todo, round_ = list(candidates), 0
        while todo:  # a second round only for trials Tune gave up on early (RetryLog)
            # Longest first: trials start in grid order, so this shortens the generation's
            # makespan when candidates of very different cost share few slots.
            by_cost = sorted(todo, key=lambda c: -relative_cost(c))
            keys[:] = [c.key for c in by_cost]
            name = f"generation_{generation:03d}" + (f"_restart{round_}" if round_ else "")
            results |= self._fit(by_cost, generation, name, retries, report)
            restarts = set(retries.take_restarts())
            todo, round_ = [c for c in by_cost if c.key in restarts], round_ + 1
        return {
            c.key: reported.get(c.key)
            or results.get(c.key)
            or CandidateResult.failed("worker crashed: no result reported")
            for c in candidates
        }

    def _fit(self, by_cost, generation, name, retries, report) -> dict[str, CandidateResult]:
        """One Tuner over ``by_cost``: their results, as Tune's result grid gives them."""
        from ray import tune

        prefix = f"g{generation:03d}_"
        trial_name = lambda trial: prefix + by_cost[trial.config["index"]].key  # noqa: E731
        # Candidates travel through the object store (typed); a trial's config is its index.
        trainable = tune.with_parameters(self.trainable or fitness_trainable(), candidates=by_cost)
        tuner = tune.Tuner(
            tune.with_resources(trainable, self.resources),
            param_space={
                "index": tune.grid_search(list(range(len(by_cost)))),
                **self.trial_config(),
            },
            tune_config=tune.TuneConfig(
                trial_name_creator=trial_name,
                trial_dirname_creator=trial_name,
                reuse_actors=True,
                max_concurrent_trials=self.max_concurrent,
                scheduler=scheduler(by_cost[0].budget),
            ),
            run_config=self.run_config(name, retries.key_of, report, retries),
        )
        results = {}
        for result in tuner.fit():
            # The trial folder is named after the key; a crashed trial may have no config left.
            key = Path(result.path).name.removeprefix(prefix)
            payload = (result.metrics or {}).get("candidate_result")
            if result.error is None and payload:
                results[key] = CandidateResult.from_json(payload)
            else:
                error = (
                    str(result.error).strip().splitlines()[-1]
                    if result.error
                    else "no result reported"
                )
                results[key] = CandidateResult.failed(f"worker crashed: {error}")
        return results


def scheduler(budget):
    """Ray Tune's ASHA over the trials' ``steps`` (their rungs), or None for full training."""
    if budget.scheduler != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(
        time_attr="steps",
        metric="psnr",
        mode="max",
        max_t=budget.steps,
        grace_period=budget.grace(),
        reduction_factor=budget.reduction_factor,
    )


def relative_cost(candidate: Candidate) -> float:
    """Closed-form training cost for ordering only: blocks x width^2 / 4^level, summed."""
    widths = candidate.spec.widths
    return sum(
        g.num_blocks * g.num_groups * widths[GROUP_LEVEL[name]] ** 2 / 4 ** GROUP_LEVEL[name]
        for name, g in zip(GROUP_NAMES, candidate.spec.groups)
    )


class InProcessEvaluator:
    """Evaluates candidates one after another in this process (benchmarks, tests, debugging)."""

    def __init__(self, threads: int | None = None, device: str = "auto") -> None:
        self.threads, self.device = threads or os.cpu_count(), device

    def evaluate(
        self, candidates: list[Candidate], generation: int, on_result: OnResult | None = None
    ) -> dict[str, CandidateResult]:
        results = {}
        for candidate in candidates:
            results[candidate.key] = evaluate_candidate(
                candidate, threads=self.threads, device=self.device
            )
            if on_result:
                on_result(candidate.key, results[candidate.key])
        return results
