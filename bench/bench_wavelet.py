"""DWT/IWT formulations side by side: grouped conv (as released) vs pixel_unshuffle + 4x4 matmul (ours).

    python bench/bench_wavelet.py [--repeats 25]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from models import DWT, IWT, haar_filters

SHAPES = [(1, 4, 128, 128), (1, 96, 128, 128), (1, 128, 64, 64), (16, 4, 64, 64), (16, 32, 32, 32)]


def median_ms(fn, x, repeats):
    fn(x)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    bank = haar_filters()
    conv_dwt = lambda x: F.conv2d(x, bank.repeat(x.shape[1], 1, 1, 1), stride=2, groups=x.shape[1])
    conv_iwt = lambda y: F.conv_transpose2d(y, bank.repeat(y.shape[1] // 4, 1, 1, 1), stride=2, groups=y.shape[1] // 4)
    ours_dwt, ours_iwt = DWT(), IWT()
    print(f"{'shape':>22} {'conv DWT':>9} {'ours DWT':>9} {'conv IWT':>9} {'ours IWT':>9}   (median ms, threads={torch.get_num_threads()})")
    with torch.inference_mode():
        for shape in SHAPES:
            x = torch.randn(shape)
            y = conv_dwt(x)
            row = [median_ms(f, a, args.repeats) for f, a in ((conv_dwt, x), (ours_dwt, x), (conv_iwt, y), (ours_iwt, y))]
            print(f"{str(shape):>22} " + " ".join(f"{t:9.2f}" for t in row))


if __name__ == "__main__":
    main()
