"""GPU figures: the paper network's throughput, trials per GPU, and tiled inference memory.

    python bench/bench_gpu.py [--candidates 16] [--skip-search]

1. ``mwrcanet_paper`` forward at 1 x 1 x 256 x 256 in fp32, TF32 and bf16, against a dense
   4096^2 matmul at the same precision on the same GPU, as a ratio (goal: >= 0.4 in bf16).
2. One generation of ``--candidates`` proxy candidates at the GPU budget of rcab_dense.yaml's
   comments, with 1, 0.5 and 0.25 GPU per trial, in evaluations per hour (goal: 4 trials per GPU
   give >= 3x the evaluations per hour of 1 trial per GPU).
3. Peak GPU memory (``torch.cuda.max_memory_allocated``) of tiled inference on a 4000 x 3000
   mosaic at two tile sizes.

Without CUDA it prints that nothing was measured and exits 0.
"""
import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def timed(fn, repeats=10):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_vs_matmul():
    from torch.utils.flop_counter import FlopCounterMode

    from models import build_model, mwrcanet_paper_spec
    model = build_model(mwrcanet_paper_spec()).cuda().eval()
    x = torch.rand(1, 1, 256, 256, device="cuda")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    flops = counter.get_total_flops()
    a, b = torch.rand(4096, 4096, device="cuda"), torch.rand(4096, 4096, device="cuda")
    for name, dtype, tf32 in (("fp32", None, False), ("tf32", None, True), ("bf16", torch.bfloat16, True)):
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
        ctx = (lambda: torch.autocast("cuda", dtype=dtype)) if dtype else torch.no_grad
        with torch.no_grad(), ctx():
            net = flops / timed(lambda: model(x))
            mm = 2 * 4096 ** 3 / timed(lambda: a @ b)
        print(f"{name:5s} forward {net / 1e12:7.1f} TFLOP/s   matmul {mm / 1e12:7.1f} TFLOP/s   ratio {net / mm:.2f}")


def trials_per_gpu(count: int):
    from nas.search.evaluators import RayEvaluator, start_ray
    from nas.search.fitness import candidate_seed
    from nas.search.genome import GenomeCodec
    from nas.search.result import Candidate
    from nas.search.space import load_space
    space = load_space("rcab_dense.yaml").with_overrides(
        budget={"width_multiplier": 0.5, "patch_size": 128, "batch_size": 16, "steps": 2000, "val_blocks": 64})
    codec, rng = GenomeCodec(space), random.Random(0)
    genomes = [codec.random_genome(rng) for _ in range(count)]
    candidates = [Candidate(codec.key(g), codec.decode(g), space.budget, candidate_seed(0, codec.key(g))) for g in genomes]
    start_ray()
    rates = {}
    for gpus in (1.0, 0.5, 0.25):
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            results = RayEvaluator(Path(tmp), cpus=1, gpus=gpus).evaluate(candidates, 0)
            hours = (time.perf_counter() - began) / 3600
        rates[gpus] = sum(r.ok for r in results.values()) / hours
        print(f"{gpus:4.2f} GPU per trial: {rates[gpus]:7.1f} evaluations per hour "
              f"({sum(not r.ok for r in results.values())} failed)")
    print(f"4 trials per GPU vs 1: {rates[0.25] / rates[1.0]:.2f}x")


def tiled_memory():
    from models import build_model, mwrcanet_paper_spec
    from nas.inference import denoise_array
    model = build_model(mwrcanet_paper_spec()).cuda().eval()
    mosaic = np.random.default_rng(0).random((3000, 4000), dtype=np.float32)
    for tile in (256, 512):
        torch.cuda.reset_peak_memory_stats()
        began = time.perf_counter()
        denoise_array(model, mosaic, tile=tile)
        print(f"tile {tile}: peak GPU memory {torch.cuda.max_memory_allocated() / 2 ** 30:.2f} GiB, "
              f"{time.perf_counter() - began:.1f} s for 4000 x 3000")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device present: nothing measured (run this on a GPU machine)")
        return
    print(f"GPU: {torch.cuda.get_device_name()}")
    forward_vs_matmul()
    tiled_memory()
    if not args.skip_search:
        trials_per_gpu(args.candidates)


if __name__ == "__main__":
    main()
