"""Forward time of mwrcanet_paper on 1x1x256x256 against a 2048x2048 float32 matmul, side by side.

    python bench/bench_backbone.py [--repeats 7] [--threads N] [--device cuda]

Prints median times, achieved GFLOP/s of each, and the ratio (target: >= 0.85 on CPU float32).
Runs are interleaved so both see the same machine load.
"""

import argparse
import statistics
import time

import torch

from models import build_model, mwrcanet_paper_spec, spec_cost


def timed(fn, sync) -> float:
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    spec = mwrcanet_paper_spec()
    gflop_net = spec_cost(spec).gflops
    model = build_model(spec).eval().to(device)
    x = torch.rand(1, 1, 256, 256, device=device)
    a, b = torch.randn(2048, 2048, device=device), torch.randn(2048, 2048, device=device)
    gflop_mm = 2 * 2048**3 / 1e9
    variants = {"contiguous": (model, x)}
    cl_model = build_model(spec).eval().to(device, memory_format=torch.channels_last)
    cl_model.load_state_dict(model.state_dict())
    variants["channels_last"] = (cl_model, x.contiguous(memory_format=torch.channels_last))

    with torch.inference_mode():
        for net, inp in variants.values():
            net(inp)  # warm-up
        torch.mm(a, b)
        times = {name: [] for name in [*variants, "matmul"]}
        for _ in range(args.repeats):
            for name, (net, inp) in variants.items():
                times[name].append(timed(lambda: net(inp), sync))
            times["matmul"].append(timed(lambda: torch.mm(a, b), sync))

    mm_rate = gflop_mm / statistics.median(times["matmul"])
    print(
        f"device={device} threads={args.threads} repeats={args.repeats} torch={torch.__version__}"
    )
    print(
        f"matmul 2048^3          median {statistics.median(times['matmul']) * 1e3:8.1f} ms  "
        f"{mm_rate:7.1f} GFLOP/s"
    )
    for name in variants:
        median = statistics.median(times[name])
        rate = gflop_net / median
        print(
            f"mwrcanet_paper {name:13s} median {median * 1e3:8.1f} ms  {rate:7.1f} GFLOP/s  "
            f"ratio to matmul {rate / mm_rate:.2f}"
        )


if __name__ == "__main__":
    main()
