"""The same fitness evaluations in-process and through Ray Tune, and 2 concurrent trials vs 1.

    python bench/bench_fitness.py [--candidates 4] [--steps 60] [--space rcab_dense.yaml]

Prints: total time in-process (1 thread, one after another), through Ray Tune with 1 trial at a
time (the per-trial overhead, target < 10%), and through Ray Tune with 2 concurrent 1-CPU trials
on 2 cores (the speed-up over 1 at a time). Ray start-up is excluded and reported on its own.
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

from nas.search.evaluators import InProcessEvaluator, RayEvaluator, start_ray
from nas.search.fitness import candidate_seed
from nas.search.genome import GenomeCodec
from nas.search.result import Candidate
from nas.search.space import load_space


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--space", default="rcab_dense.yaml", help="its budget, but --steps")
    args = parser.parse_args()
    space = load_space(args.space).with_overrides(
        budget={"steps": args.steps}, blocks_per_group={"min": 4, "max": 8}
    )
    codec = GenomeCodec(space)
    rng = random.Random(0)
    requests = []
    for _ in range(args.candidates):
        genome = codec.random_genome(rng)
        key = codec.key(genome)
        requests.append(Candidate(key, codec.decode(genome), space.budget, candidate_seed(0, key)))

    t0 = time.perf_counter()
    in_process = InProcessEvaluator(threads=1).evaluate(requests, 0)
    t_local = time.perf_counter() - t0

    t0 = time.perf_counter()
    start_ray()
    t_start = time.perf_counter() - t0
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        # One trial at a time: a trial needing all the cluster's CPUs serialises them.
        serial = RayEvaluator(
            Path(tmp) / "serial", cpus=float(ray.cluster_resources()["CPU"]), gpus=0
        )
        serial.threads = 1
        t0 = time.perf_counter()
        ray_serial = serial.evaluate(requests, 0)
        t_serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        ray_parallel = RayEvaluator(Path(tmp) / "parallel", cpus=1, gpus=0).evaluate(requests, 1)
        t_parallel = time.perf_counter() - t0
    same = all(in_process[k].psnr == ray_serial[k].psnr == ray_parallel[k].psnr for k in in_process)
    print(
        f"{args.candidates} candidates x {args.steps} steps, 1 thread each; "
        f"Ray start-up {t_start:.1f} s (excluded)"
    )
    print(f"in-process, one at a time      {t_local:7.1f} s")
    print(
        f"Ray Tune, one trial at a time  {t_serial:7.1f} s   "
        f"overhead {(t_serial / t_local - 1) * 100:+.1f}% "
        f"({(t_serial - t_local) / args.candidates:.2f} s per trial)"
    )
    print(
        f"Ray Tune, 2 concurrent trials  {t_parallel:7.1f} s   "
        f"speed-up over one at a time {t_serial / t_parallel:.2f}x"
    )
    print(f"same PSNR in-process and on Ray: {same}")


if __name__ == "__main__":
    main()
