"""The driver's and Ray Tune's own overhead per trial in asynchronous mode, on a local Ray with
many logical CPUs and trials that only sleep their simulated training time, scaled down.

    python bench/bench_ray_overhead.py [--slots 64] [--trainings 512] [--scale 0.01]
        [--db bench/data/evaldb_rcab_dense.csv.gz]

Each trial sleeps ``scale`` x the database's training time of its genome (the cost model's for
others) and reports the surrogate's PSNR; the real engine (regularized evolution, population =
slots, ``evolution.asynchronous``) drives ``RayBackend``: one Tuner, a Searcher asking the engine.
Overhead per trial = (slots x wall time - the time trials slept) / trainings: slot time spent on
anything but the trials' own work (Tune's scheduling, actor reuse, the engine's ask/tell, the
journal and checkpoint writes), including the first start of the actors.
"""

import argparse
import tempfile
import time
from pathlib import Path

from bench_cluster import World

from nas.search.asynchronous import RayBackend, run_asynchronous
from nas.search.database import load_database, split_diverged
from nas.search.engine import SearchEngine
from nas.search.evaluators import RayEvaluator, trial_report
from nas.search.space import load_space
from nas.search.timeline import utilization


def sleeping_trainable(world: World, scale: float):
    from ray import tune

    durations = world.durations()

    class SleepTrial(tune.Trainable):
        def setup(self, config):
            self.candidate = config["candidate"]

        def reset_config(self, new_config):
            self.setup(new_config)
            return True

        def step(self):
            started = time.time()
            time.sleep(scale * durations(self.candidate))
            return trial_report(world.score([self.candidate])[self.candidate.key], started, True)

        def save_checkpoint(self, checkpoint_dir):  # a retried trial sleeps again
            return None

        def load_checkpoint(self, checkpoint):
            pass

    return SleepTrial


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="bench/data/evaldb_rcab_dense.csv.gz")
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--trainings", type=int, default=512)
    parser.add_argument("--scale", type=float, default=0.01)
    args = parser.parse_args()
    import ray

    space = load_space("rcab_dense.yaml")
    table, _ = split_diverged(load_database(args.db))
    world = World(space, table)
    configured = space.with_overrides(
        evolution={
            "population": args.slots,
            "generations": (args.trainings - args.slots) // max(1, args.slots // 4),
            "selection": "aging",
            "asynchronous": True,
        },
        resources={"cpus": 1, "max_concurrent": args.slots},
    )
    # "local": a new Ray of its own, never a cluster another process left running
    ray.init(address="local", num_cpus=args.slots, logging_level="ERROR", log_to_driver=False)
    with tempfile.TemporaryDirectory() as folder:
        engine = SearchEngine(configured, 0, Path(folder))
        backend = RayBackend(
            RayEvaluator.for_space(folder, configured.resources),
            trainable=sleeping_trainable(world, args.scale),
        )
        started = time.perf_counter()
        run_asynchronous(engine, backend)
        wall = time.perf_counter() - started
    told = list(engine.evaluations.values())
    failed = [e.result.error for e in told if not e.result.placed]
    if failed:
        raise SystemExit(f"error: {len(failed)} trials failed, e.g. {failed[0]}")
    slept = sum(e.result.ended - e.result.started for e in told)
    overhead = (args.slots * wall - slept) / len(told)
    print(
        f"{len(told)} trials on {args.slots} slots, sleeps x{args.scale}: wall {wall:.1f} s, "
        f"slept {slept:.0f} slot-s, utilization {utilization(told, args.slots):.3f}; "
        f"overhead {overhead * 1000:.0f} ms of slot time per trial, "
        f"{wall / len(told) * 1000:.0f} ms of wall time per trial"
    )


if __name__ == "__main__":
    main()
