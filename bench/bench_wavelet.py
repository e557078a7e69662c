"""DWT/IWT formulations side by side: grouped conv (as released) vs pixel_unshuffle + 4x4 matmul
(ours), on the six transforms of one mwrcanet_paper forward pass at 1 x 1 x 256 x 256, with their
total.

    python bench/bench_wavelet.py [--repeats 100] [--device cuda]

Compare the total with bench_backbone.py's forward time: the transforms are a tiny share of it.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from models import DWT, IWT, haar_filters

# (kind, input shape) of the paper network's transforms for a 256 x 256 input
TRANSFORMS = [
    ("dwt", (1, 1, 256, 256)),
    ("dwt", (1, 96, 128, 128)),
    ("dwt", (1, 128, 64, 64)),
    ("iwt", (1, 512, 32, 32)),
    ("iwt", (1, 384, 64, 64)),
    ("iwt", (1, 4, 128, 128)),
]


def median_ms(fn, x, repeats):
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    fn(x)
    samples = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn(x)
        sync()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    bank = haar_filters().to(device)

    def conv_dwt(x):
        return F.conv2d(x, bank.repeat(x.shape[1], 1, 1, 1), stride=2, groups=x.shape[1])

    def conv_iwt(y):
        return F.conv_transpose2d(
            y, bank.repeat(y.shape[1] // 4, 1, 1, 1), stride=2, groups=y.shape[1] // 4
        )

    ours_dwt, ours_iwt = DWT().to(device), IWT().to(device)
    print(
        f"{'transform':>28} {'conv (released)':>16} {'ours':>8}   "
        f"(median ms, {device}, threads={torch.get_num_threads()})"
    )
    totals = [0.0, 0.0]
    with torch.inference_mode():
        for kind, shape in TRANSFORMS:
            x = torch.randn(shape, device=device)
            pair = (conv_dwt, ours_dwt) if kind == "dwt" else (conv_iwt, ours_iwt)
            row = [median_ms(f, x, args.repeats) for f in pair]
            totals = [t + r for t, r in zip(totals, row)]
            print(f"{kind + ' ' + str(shape):>28} {row[0]:16.2f} {row[1]:8.2f}")
    print(f"{'total per forward pass':>28} {totals[0]:16.2f} {totals[1]:8.2f}")


if __name__ == "__main__":
    main()
