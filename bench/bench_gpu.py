"""GPU figures, one CSV per figure in ``--out``, each row written as soon as it is measured (a
run cut short keeps what it measured):

    python bench/bench_gpu.py --out DIR [--parts forward,tiled,step,memory,trials]
        [--candidates 16] [--steps 2000] [--timed-steps 100] [--arms 1,0.25,0.5,eager]
        [--label none] [--tiny]

forward  forward_vs_matmul.csv: ``mwrcanet_paper`` forward at 1 and 8 x 1 x 256 x 256 in fp32,
         TF32 and bf16 against a 4096^2 matmul at the same precision (CUDA only).
tiled    tiled_memory.csv: peak memory of tiled inference on a 4000 x 3000 mosaic (CUDA only).
step     step_time.csv: one proxy's milliseconds per training step at the GPU budget, arm by arm:
         eager (the loss read every step, CPU batches: the loop as it was), no_sync (read once),
         device_batches (+ batches made on the device), cuda_graphs (+ the step replayed from a
         CUDA graph; CUDA only), in fp32 and (CUDA) bf16; batch_time.csv: one batch's
         milliseconds on the CPU and on the device.
memory   proxy_memory.csv: the peak memory of each candidate's proxy training (CUDA only).
trials   trials_per_gpu.csv: one generation of ``--candidates`` at the GPU budget on Ray, per arm
         (1, 0.5 or 0.25 GPU per trial at the budget's defaults; ``eager``: 1 GPU per trial with
         the loop as it was), in evaluations per hour; rank_agreement.csv: Kendall's tau of the
         candidates' PSNRs of each arm against the first. ``--label`` tags the rows (``mps``: the
         script started an MPS daemon). Without CUDA the arms run on the CPU (a dry run).

``--tiny``: tiny sizes, to check the script end to end on any machine. Without CUDA, the
CUDA-only parts and arms print that they were skipped and write nothing.
"""

import argparse
import csv
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

CUDA = torch.cuda.is_available()
STEP_ARMS = {  # the training settings of each arm of the step time, cumulative
    "eager": dict(sync_every=1, device_batches="off", cuda_graphs="off"),
    "no_sync": dict(device_batches="off", cuda_graphs="off"),
    "device_batches": dict(device_batches="on", cuda_graphs="off"),
    "cuda_graphs": dict(device_batches="on", cuda_graphs="on"),
}
TRIAL_ARMS = {  # GPUs per trial and budget changes of each generation
    "1": (1.0, {}),
    "0.5": (0.5, {}),
    "0.25": (0.25, {}),
    "eager": (1.0, STEP_ARMS["eager"]),
}


class Figure:
    """One CSV of ``out``: a header once, then each row flushed as it comes."""

    def __init__(self, out: Path, name: str, columns: list[str]) -> None:
        self.path, self.columns = out / f"{name}.csv", columns
        new = not self.path.exists()
        self.file = self.path.open("a", newline="")
        self.writer = csv.DictWriter(self.file, columns)
        if new:
            self.writer.writeheader()
            self.file.flush()

    def row(self, **values) -> None:
        self.writer.writerow(values)
        self.file.flush()
        print(self.path.stem, " ".join(f"{k}={values[k]}" for k in self.columns), flush=True)


def skipped(part: str, why: str = "needs CUDA") -> None:
    print(f"{part}: skipped ({why})", flush=True)


def sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def timed(fn, repeats=10):
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_vs_matmul(out: Path, tiny: bool) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from models import build_model, mwrcanet_paper_spec

    figure = Figure(out, "forward_vs_matmul", ["batch", "precision", "forward", "matmul", "ratio"])
    spec = mwrcanet_paper_spec()
    model = build_model(spec.scaled(0.125) if tiny else spec).cuda().eval()
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
                net = flops / timed(lambda: model(x)) / 1e12
                mm = 2 * 4096**3 / timed(lambda: a @ b) / 1e12
            figure.row(
                batch=batch, precision=name, forward=f"{net:.1f}", matmul=f"{mm:.1f}",
                ratio=f"{net / mm:.2f}",
            )  # fmt: skip
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = defaults


def tiled_memory(out: Path, tiny: bool) -> None:
    from models import build_model, mwrcanet_paper_spec
    from nas.inference import denoise_array

    figure = Figure(out, "tiled_memory", ["tile", "peak_gib", "seconds", "height", "width"])
    model = build_model(mwrcanet_paper_spec()).cuda().eval()
    h, w = (600, 800) if tiny else (3000, 4000)
    mosaic = np.random.default_rng(0).random((h, w), dtype=np.float32)
    for tile in (256, 512):
        torch.cuda.reset_peak_memory_stats()
        began = time.perf_counter()
        denoise_array(model, mosaic, tile=tile)
        seconds = time.perf_counter() - began
        peak = torch.cuda.max_memory_allocated() / 2**30
        figure.row(tile=tile, peak_gib=f"{peak:.2f}", seconds=f"{seconds:.1f}", height=h, width=w)


def gpu_space(steps: int, tiny: bool):
    """rcab_dense.yaml at the GPU budget its comments recommend (``tiny``: a CPU's)."""
    from nas.search.space import load_space

    space = load_space("rcab_dense.yaml")
    if tiny:
        return space.with_overrides(
            blocks_per_group={"min": 0, "max": 2},
            budget={
                "width_multiplier": 0.125, "patch_size": 16, "batch_size": 2, "steps": steps,
                "warmup_steps": 0, "val_blocks": 2, "val_block_size": 16,
            },
        )  # fmt: skip
    return space.with_overrides(
        budget={
            "width_multiplier": 0.5, "patch_size": 128, "batch_size": 16, "steps": steps,
            "warmup_steps": steps // 10, "val_blocks": 64,
        }
    )  # fmt: skip


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


def proxy_trainer(candidate, device, val_blocks=None, **settings):
    """The Trainer of ``candidate``'s proxy on ``device`` with ``settings`` over its budget."""
    from nas.data import training_sampler, validation_set
    from nas.search.fitness import proxy_spec
    from nas.train.trainer import Trainer

    budget = candidate.budget
    sampler = training_sampler(budget.data, 1)
    blocks = validation_set(budget.data, val_blocks or budget.val_blocks, budget.val_block_size)
    config = budget.train_config(candidate.seed, str(device)).replace(**settings)
    spec = proxy_spec(candidate.spec, budget.width_multiplier)
    return Trainer(spec, sampler, blocks, config, with_ssim=False, device=device)


def step_time(out: Path, steps: int, timed_steps: int, tiny: bool) -> None:
    device = torch.device("cuda" if CUDA else "cpu")
    columns = ["arm", "amp", "device", "ms_per_step", "timed_steps", "final_loss", "candidate"]
    figure = Figure(out, "step_time", columns)
    warm = min(20, steps // 4)
    timed_steps = min(timed_steps, steps - warm)
    candidate = gpu_candidates(gpu_space(steps, tiny), 1)[0]
    for amp in ("off", "bf16") if CUDA else ("off",):
        for arm, settings in STEP_ARMS.items():
            if arm == "cuda_graphs" and not CUDA:
                skipped("step_time cuda_graphs")
                continue
            sync_every = settings.get("sync_every", steps)
            changes = {**settings, "sync_every": sync_every, "amp": amp, "val_every": steps}
            training = proxy_trainer(candidate, device, val_blocks=1, **changes)
            training.advance(warm)  # set-up, cuDNN's choices, graph capture, one validation
            sync()
            began = time.perf_counter()
            result = training.advance(warm + timed_steps)  # + one validation of one block
            sync()
            ms = (time.perf_counter() - began) / timed_steps * 1e3
            training.close()
            figure.row(
                arm=arm, amp=amp, device=device.type, ms_per_step=f"{ms:.2f}",
                timed_steps=timed_steps, final_loss=f"{result.final_loss:.5f}",
                candidate=candidate.key,
            )  # fmt: skip
    batch_time(out, candidate.budget, device)


def batch_time(out: Path, budget, device: torch.device) -> None:
    from nas.data import training_sampler

    figure = Figure(out, "batch_time", ["where", "ms_per_batch", "batch", "patch"])
    cpu = training_sampler(budget.data, 1)
    for where, sampler in (("cpu", cpu), (device.type, cpu.on_device(device))):
        generator = torch.Generator().manual_seed(0)
        ms = timed(lambda: sampler.sample(budget.batch_size, budget.patch_size, generator)) * 1e3
        figure.row(
            where=f"{where} ({type(sampler).__name__})", ms_per_batch=f"{ms:.2f}",
            batch=budget.batch_size, patch=budget.patch_size,
        )  # fmt: skip


def proxy_memory(out: Path, count: int, steps: int, tiny: bool) -> None:
    columns = ["candidate", "params", "peak_mib", "steps", "cuda_graphs"]
    figure = Figure(out, "proxy_memory", columns)
    measured = min(steps, 8)  # warm-up, capture and replays of the graph path
    for candidate in gpu_candidates(gpu_space(steps, tiny), count):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        training = proxy_trainer(candidate, torch.device("cuda"))
        training.advance(measured)
        params = sum(p.numel() for p in training.model.parameters())
        graphs = type(training.step_function).__name__ == "CudaGraphStep"
        training.close()
        del training
        peak = torch.cuda.max_memory_allocated() / 2**20
        figure.row(
            candidate=candidate.key, params=params, peak_mib=f"{peak:.0f}", steps=measured,
            cuda_graphs=graphs,
        )  # fmt: skip


def generation(candidates, gpus: float):
    """One generation of ``candidates`` on Ray at ``gpus`` per trial: (seconds, results)."""
    from nas.search.evaluators import RayEvaluator

    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        results = RayEvaluator(Path(tmp), cpus=1, gpus=gpus).evaluate(candidates, 0)
    return time.perf_counter() - began, results


def trials_per_gpu(out: Path, count: int, steps: int, arms: list[str], label: str, tiny: bool):
    from scipy.stats import kendalltau

    from nas.search.evaluators import start_ray

    columns = ["arm", "label", "gpus_per_trial", "candidates", "steps", "seconds"]
    figure = Figure(out, "trials_per_gpu", columns + ["evals_per_hour", "failed"])
    agreement = Figure(out, "rank_agreement", ["arm", "against", "label", "kendall_tau"])
    space, psnrs = gpu_space(steps, tiny), {}
    start_ray()
    for arm in arms:
        gpus, changes = TRIAL_ARMS[arm]
        gpus = gpus if CUDA else 0  # without CUDA: a dry run of the code path on the CPU
        seconds, results = generation(gpu_candidates(space, count, **changes), gpus)
        ok = sum(r.ok for r in results.values())
        figure.row(
            arm=arm, label=label, gpus_per_trial=gpus, candidates=count, steps=steps,
            seconds=f"{seconds:.1f}", evals_per_hour=f"{ok / seconds * 3600:.1f}",
            failed=len(results) - ok,
        )  # fmt: skip
        psnrs[arm] = [results[key].psnr for key in sorted(results)]
        first = arms[0]
        if arm != first:
            tau = kendalltau(psnrs[first], psnrs[arm]).statistic
            agreement.row(arm=arm, against=first, label=label, kendall_tau=f"{tau:.3f}")


PARTS = ("forward", "tiled", "step", "memory", "trials")
CUDA_ONLY = ("forward", "tiled", "memory")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder of the CSVs")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="comma-separated, of " + str(PARTS)
    )
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2000, help="proxy steps at the GPU budget")
    parser.add_argument("--timed-steps", type=int, default=100, help="steps timed per step arm")
    parser.add_argument("--arms", default="1,0.25,0.5,eager", help="trial arms, in order")
    parser.add_argument("--label", default="none", help="tags the trial rows (e.g. mps)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a dry run on any machine")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"device: {torch.cuda.get_device_name() if CUDA else 'CPU (no CUDA)'}", flush=True)
    parts = [part for part in args.parts.split(",") if part]
    for part in parts:
        if part not in PARTS:
            parser.error(f"unknown part {part!r}; known: {', '.join(PARTS)}")
        if part in CUDA_ONLY and not CUDA:
            skipped(part)
        elif part == "forward":
            forward_vs_matmul(args.out, args.tiny)
        elif part == "tiled":
            tiled_memory(args.out, args.tiny)
        elif part == "step":
            step_time(args.out, args.steps, args.timed_steps, args.tiny)
        elif part == "memory":
            proxy_memory(args.out, args.candidates, args.steps, args.tiny)
        else:
            arms = [arm for arm in args.arms.split(",") if arm]
            unknown = [arm for arm in arms if arm not in TRIAL_ARMS]
            if unknown:
                parser.error(f"unknown arms {unknown}; known: {', '.join(TRIAL_ARMS)}")
            trials_per_gpu(args.out, args.candidates, args.steps, arms, args.label, args.tiny)


if __name__ == "__main__":
    main()
