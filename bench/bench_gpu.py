"""GPU figures: the paper network's throughput, trials per GPU, and tiled inference memory.

    python bench/bench_gpu.py [--candidates 16] [--steps 2000] [--skip-search]

1. ``mwrcanet_paper`` forward at 1 and 8 x 1 x 256 x 256 in fp32, TF32 and bf16, against a dense
   4096^2 matmul at the same precision on the same GPU, as a ratio (goal: >= 0.4 in bf16).
2. Peak GPU memory (``torch.cuda.max_memory_allocated``) of tiled inference on a 4000 x 3000
   mosaic at two tile sizes.
3. One proxy's seconds per 100 training steps in fp32/bf16 x NCHW/channels_last, and the CPU's
   milliseconds to sample one batch (is the GPU waiting for its batches?).
4. One generation of ``--candidates`` proxy candidates at the GPU budget of rcab_dense.yaml's
   comments, with 1, 0.5 and 0.25 GPU per trial, in evaluations per hour (goal: 4 trials per GPU
   give >= 3x the evaluations per hour of 1 trial per GPU), and Kendall tau of the PSNRs at 1 vs
   0.25 GPU (sharing a GPU must not change the ranking).

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
    a, b = torch.rand(4096, 4096, device="cuda"), torch.rand(4096, 4096, device="cuda")
    defaults = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    for batch in (1, 8):
        x = torch.rand(batch, 1, 256, 256, device="cuda")
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
        flops = counter.get_total_flops()
        for name, dtype, tf32 in (
            ("fp32", None, False),
            ("tf32", None, True),
            ("bf16", torch.bfloat16, True),
        ):
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
            ctx = (lambda: torch.autocast("cuda", dtype=dtype)) if dtype else torch.no_grad
            with torch.no_grad(), ctx():
                net = flops / timed(lambda: model(x))
                mm = 2 * 4096**3 / timed(lambda: a @ b)
            print(
                f"batch {batch} {name:5s} forward {net / 1e12:7.1f} TFLOP/s   "
                f"matmul {mm / 1e12:7.1f} TFLOP/s   "
                f"ratio {net / mm:.2f}",
                flush=True,
            )
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = defaults


def gpu_space(steps: int):
    """rcab_dense.yaml at the GPU budget its comments recommend."""
    from nas.search.space import load_space

    return load_space("rcab_dense.yaml").with_overrides(
        budget={
            "width_multiplier": 0.5,
            "patch_size": 128,
            "batch_size": 16,
            "steps": steps,
            "warmup_steps": steps // 10,
            "val_blocks": 64,
        }
    )


def gpu_candidates(space, count: int, **budget):
    from nas.search.fitness import candidate_seed
    from nas.search.genome import GenomeCodec
    from nas.search.result import Candidate

    space = space.with_overrides(budget=budget) if budget else space
    codec, rng = GenomeCodec(space), random.Random(0)
    genomes = [codec.random_genome(rng) for _ in range(count)]
    return [
        Candidate(codec.key(g), codec.decode(g), space.budget, candidate_seed(0, codec.key(g)))
        for g in genomes
    ]


def precision_and_layout(steps: int):
    from nas.data import training_sampler
    from nas.search.fitness import ProxyTraining

    space = gpu_space(steps)
    for amp in ("off", "bf16"):
        for channels_last in (False, True):
            candidate = gpu_candidates(space, 1, amp=amp, channels_last=channels_last)[0]
            training = ProxyTraining(candidate, device="cuda")
            training.advance(20)  # set-up, cuDNN autotuning, first validation
            began = time.perf_counter()
            result = training.advance(120)
            seconds = time.perf_counter() - began
            training.close()
            print(
                f"amp {amp:4s} channels_last {channels_last!s:5s}: {seconds:5.2f} s per 100 steps "
                f"(+1 validation), PSNR at 120 steps {result.psnr:.2f} dB",
                flush=True,
            )
    budget = space.budget
    sampler, generator = training_sampler(budget.data, 1), torch.Generator().manual_seed(0)
    sampler.sample(budget.batch_size, budget.patch_size, generator)
    began = time.perf_counter()
    for _ in range(50):
        sampler.sample(budget.batch_size, budget.patch_size, generator)
    print(
        f"CPU batch sampling: {(time.perf_counter() - began) / 50 * 1e3:.1f} ms per batch of "
        f"{budget.batch_size} x {budget.patch_size}^2",
        flush=True,
    )


def generation(candidates, gpus: float):
    """One generation of ``candidates`` on Ray at ``gpus`` per trial: (evaluations per hour,
    results)."""
    from nas.search.evaluators import RayEvaluator

    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        results = RayEvaluator(Path(tmp), cpus=1, gpus=gpus).evaluate(candidates, 0)
        hours = (time.perf_counter() - began) / 3600
    return sum(r.ok for r in results.values()) / hours, results


def trials_per_gpu(count: int, steps: int):
    from scipy.stats import kendalltau

    from nas.search.evaluators import start_ray

    candidates = gpu_candidates(gpu_space(steps), count)
    start_ray()
    rates, psnrs = {}, {}
    for gpus in (0.25, 1.0, 0.5):
        rate, results = generation(candidates, gpus)
        rates[gpus], psnrs[gpus] = rate, [results[key].psnr for key in sorted(results)]
        print(
            f"{gpus:4.2f} GPU per trial: {rate:7.1f} evaluations per hour "
            f"({sum(not r.ok for r in results.values())} failed)",
            flush=True,
        )
    print(f"4 trials per GPU vs 1: {rates[0.25] / rates[1.0]:.2f}x")
    print(
        f"Kendall tau of the {count} PSNRs at 1 vs 0.25 GPU per trial (reproducibility): "
        f"{kendalltau(psnrs[1.0], psnrs[0.25]).statistic:.2f}"
    )


def tiled_memory():
    from models import build_model, mwrcanet_paper_spec
    from nas.inference import denoise_array

    model = build_model(mwrcanet_paper_spec()).cuda().eval()
    mosaic = np.random.default_rng(0).random((3000, 4000), dtype=np.float32)
    for tile in (256, 512):
        torch.cuda.reset_peak_memory_stats()
        began = time.perf_counter()
        denoise_array(model, mosaic, tile=tile)
        print(
            f"tile {tile}: peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB, "
            f"{time.perf_counter() - began:.1f} s for 4000 x 3000"
        )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument(
        "--steps", type=int, default=2000, help="proxy training steps at the GPU budget"
    )
    parser.add_argument(
        "--skip-search", action="store_true", help="skip the trials-per-GPU generations"
    )
    parser.add_argument(
        "--search-only", action="store_true", help="only the trials-per-GPU generations"
    )
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device present: nothing measured (run this on a GPU machine)")
        return
    print(f"GPU: {torch.cuda.get_device_name()}")
    if not args.search_only:
        forward_vs_matmul()
        tiled_memory()
        precision_and_layout(args.steps)
    if not args.skip_search:
        trials_per_gpu(args.candidates, args.steps)


if __name__ == "__main__":
    main()
