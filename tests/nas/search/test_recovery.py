"""Retries on a real local Ray Tune, the reasons read from Ray's own error texts, Ray's logs kept
out of the console, and TensorBoard logs written by the driver."""

import logging
import os
import re
import signal

import pytest

from nas.search.recovery import (
    RAY_LOG,
    failure_config,
    failure_reason,
    quiet_ray_logs,
    retry_log,
)
from nas.search.space import Resources
from nas.search.tensorboard import ScalarLog, TensorBoardWriter


@pytest.mark.parametrize(
    "text, reason",
    [
        (
            "ray.exceptions.ActorUnavailableError: The actor 70201f is unavailable: The actor is "
            "temporarily unavailable: RpcError: RPC error: Socket closed rpc_code: 14.",
            "node lost",
        ),
        (
            "The actor died unexpectedly before finishing this task.\n\tpid: 27965\nThe actor is "
            "dead because its node has died. Node Id: 6da26c",
            "node lost",
        ),
        (
            "The actor died unexpectedly before finishing this task.\n\tpid: 27965\nThe actor is "
            "dead because its worker process has died. Worker exit type: SYSTEM_ERROR",
            "worker killed",
        ),
        (
            "ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on "
            "memory.",
            "out of memory",
        ),
        (
            "Traceback (most recent call last):\n  ...\nValueError: bad config",
            "ValueError: bad config",
        ),
    ],
)
def test_failure_reason_names_the_fault(text, reason):
    assert failure_reason(text) == reason


def test_max_retries_reaches_tunes_failure_config():
    assert failure_config(Resources(max_retries=5).max_retries).max_failures == 5
    assert Resources().max_retries >= 1  # a lost node is survived by default


def _kills_itself(config):
    from ray import tune

    if config["index"] == 0:
        os.kill(os.getpid(), signal.SIGKILL)  # every attempt, as a segfault or the OOM killer would
    tune.report({"score": 1.0})


def test_a_candidate_that_kills_its_worker_every_time_fails_after_its_retries(
    tmp_path, local_ray, caplog
):
    from ray import tune

    keys = ["crashes", "fine"]
    retries = retry_log(keys, max_retries=1)
    tuner = tune.Tuner(
        tune.with_resources(_kills_itself, {"cpu": 1}),
        param_space={"index": tune.grid_search([0, 1])},
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            failure_config=failure_config(1),
            callbacks=[retries],
            verbose=0,
        ),
    )
    with caplog.at_level(logging.WARNING, logger="nas.search.recovery"):
        grid = tuner.fit()
    lines = [r.getMessage() for r in caplog.records if r.name == "nas.search.recovery"]
    retried = [line for line in lines if "retrying" in line]
    assert len(retried) == 1 and re.fullmatch(
        r"trial \S+: worker killed, retrying 1 of 1", retried[0]
    )
    assert retries.retries("crashes") == 1 and retries.retries("fine") == 0
    assert retries.failure("crashes") == "worker killed (after 1 retry)"
    assert retries.failure("fine") is None
    scores = {r.config["index"]: (r.metrics or {}).get("score") for r in grid}
    assert scores[1] == 1.0  # the other trial went on


def _dies_in_its_first_reset(marker):
    """A Trainable whose reused actor SIGKILLs itself while it is reset for its next trial, once:
    a node lost between two trials does the same to the actor."""
    from ray import tune

    class DiesInReset(tune.Trainable):
        def step(self):
            return {"score": 1.0, "done": True}

        def reset_config(self, new_config):
            if not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)
            return True

        def save_checkpoint(self, checkpoint_dir):
            return None

        def load_checkpoint(self, checkpoint):
            pass

    return DiesInReset


def test_a_trial_tune_gives_up_on_before_its_retries_are_spent_is_handed_back(
    tmp_path, local_ray, caplog
):
    from ray import tune

    keys = ["first", "reset", "last"]
    retries = retry_log(keys, max_retries=2)
    tuner = tune.Tuner(
        tune.with_resources(_dies_in_its_first_reset(tmp_path / "died"), {"cpu": 1}),
        param_space={"index": tune.grid_search([0, 1, 2])},
        tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=1),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            failure_config=failure_config(2),
            callbacks=[retries],
            verbose=0,
        ),
    )
    with caplog.at_level(logging.WARNING, logger="nas.search.recovery"):
        tuner.fit()
    lines = [r.getMessage() for r in caplog.records if r.name == "nas.search.recovery"]
    assert (tmp_path / "died").exists()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "worker killed, retrying 1 of 2",
        "worker killed, retrying 2 of 2",  # Tune errored the trial it was retrying
    ], lines
    assert retries.failure("reset") is None and retries.restarting("reset")
    assert retries.take_restarts() == ["reset"] and retries.take_restarts() == []
    assert not retries.restarting("reset")


def test_ray_messages_go_to_the_run_folder_not_the_console(tmp_path, local_ray, capfd):
    import ray._private.worker as ray_worker

    path = quiet_ray_logs(tmp_path)
    quiet_ray_logs(tmp_path)  # a second generation: nothing doubles
    logging.getLogger("ray.tune.execution.tune_controller").error("Trial task failed for trial x")
    ray_worker.print_to_stdstream(
        {
            "lines": ["Raylet is terminated.", "[state-dump] NodeManager"],
            "pid": "raylet",
            "is_err": False,
        },
        ignore_prefix=False,
    )
    out, err = capfd.readouterr()
    assert "Trial task failed" not in out + err and "Raylet" not in out + err
    text = path.read_text()
    assert path == tmp_path / RAY_LOG
    assert text.count("Trial task failed for trial x") == 1 and "[state-dump]" in text


def _scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def test_driver_writes_the_scalars_a_trial_sends_and_a_retry_replaces_them(tmp_path):
    class Trainer:
        step = 0

    class Trial:
        config = {"index": 0}

    class Record:
        def __init__(self, step, psnr):
            self.step, self.psnr, self.ssim = step, psnr, None

    hook, trainer = ScalarLog(), Trainer()
    trainer.step = 2
    hook.on_losses(trainer, 1, [0.5, 0.25])
    hook.on_validation(trainer, Record(2, 30.0), True)
    first = hook.take()
    assert hook.take() == [] and first[-1] == ["val/psnr", 2, 30.0]
    writer = TensorBoardWriter(tmp_path, ["key"])
    writer.write("key", [["train/l1", 1, 9.0], ["train/l1", 2, 9.0]])  # the attempt that died
    writer.on_trial_recover(0, [], Trial())
    writer.write("key", first)
    writer.close("key")
    scalars = _scalars(tmp_path / "key")
    assert scalars["train/l1"] == [(1, 0.5), (2, 0.25)] and scalars["val/psnr"] == [(2, 30.0)]


def _fitness_dying_in_its_first_reset(marker):
    """The real fitness training, its reused actor SIGKILLed once while reset for a new trial."""
    from nas.search.evaluators import fitness_trainable

    class DiesInReset(fitness_trainable()):
        def reset_config(self, new_config):
            if not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)
            return super().reset_config(new_config)

    return DiesInReset


@pytest.mark.parametrize("asynchronous", [False, True], ids=["generational", "asynchronous"])
def test_an_actor_lost_between_two_trials_costs_a_retry_not_a_candidate(
    tmp_path, local_ray, asynchronous
):
    from nas.search.asynchronous import RayBackend, run_asynchronous
    from nas.search.engine import SearchEngine
    from nas.search.evaluators import RayEvaluator

    from ..helpers import tiny_space

    space = tiny_space(
        evolution={"population": 2, "generations": 0, "asynchronous": asynchronous},
        resources={"max_concurrent": 1, "max_retries": 2},
    )
    engine = SearchEngine(space, 1, tmp_path / "run")
    trainable = _fitness_dying_in_its_first_reset(tmp_path / "x")
    evaluator = RayEvaluator.for_space(tmp_path / "run", space.resources, trainable=trainable)
    if asynchronous:
        assert run_asynchronous(engine, RayBackend(evaluator)) is True
        results = {key: e.result for key, e in engine.evaluations.items()}
    else:
        results = evaluator.evaluate(engine.ask(), 0)
    assert (tmp_path / "x").exists(), "no actor was reset"
    assert len(results) == 2 and all(r.ok for r in results.values()), results
    assert sorted(r.retries for r in results.values()) == [0, 2]
