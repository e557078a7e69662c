"""Data time per training batch against the training step time of a small candidate (CPU).

    python bench/bench_data.py [--steps 30] [--batch 8] [--patch 32] [--threads 1]

Target: data at most 10% of the step. Measured interleaved, medians.
"""

import argparse
import statistics
import time

import torch

from models import ArchSpec, GroupSpec
from models.spec import GROUP_NAMES
from models import build_model
from nas.data import training_sampler
from nas.train.loop import make_optimizer, train_step


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # A small candidate: the proxy (width x 0.125) of a 5 x 4-RCAB network.
    spec = ArchSpec(widths=(12, 16, 16), groups=tuple(GroupSpec("rcab", 4) for _ in GROUP_NAMES))
    model = build_model(spec)
    optimizer, schedule = make_optimizer(model, 1e-3, args.steps + 1)
    sampler = training_sampler("synthetic")
    g = torch.Generator().manual_seed(0)
    data_times, step_times = [], []
    for step in range(args.steps + 1):
        start = time.perf_counter()
        noisy, clean = sampler.sample(args.batch, args.patch, g)
        mid = time.perf_counter()
        train_step(model, optimizer, schedule, noisy, clean)
        end = time.perf_counter()
        if step:  # the first step warms up
            data_times.append(mid - start)
            step_times.append(end - mid)
    data, train = statistics.median(data_times), statistics.median(step_times)
    print(f"threads={args.threads} batch={args.batch} patch={args.patch} steps={args.steps}")
    print(f"data per batch   median {data * 1e3:7.2f} ms")
    print(f"training step    median {train * 1e3:7.2f} ms")
    print(f"data / step      {data / train:.3f}  (target <= 0.10)")


if __name__ == "__main__":
    main()
