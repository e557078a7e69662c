"""The two x8 ensemble protocols side by side on one trained network and one block set: the
single pass, the paper's plain x8 (each view as it is), the phase-correct x8 (each view
re-aligned to the network's CFA pattern), and a check of our paper protocol against an
independent rotate-and-flip written here with numpy.

    python bench/bench_ensemble.py --arch NET.json --weights runs/NAME/best.pt \\
        --data synthetic --blocks 64 --block-size 128 --threads 1

The three scores come from ``nas.evaluate.evaluate`` (what ``python -m nas.evaluate`` runs) on
the same blocks. The check runs the network once per view and block with numpy's ``rot90`` and
``fliplr``, and prints the largest per-block difference from ``nas.inference.predict`` in the
output (max |difference|) and in PSNR. The check assumes blocks in the network's pattern (the
synthetic set is RGGB, as networks trained on it).
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import torch

from nas.arch import load_denoiser
from nas.data import validation_set
from nas.evaluate import evaluate
from nas.inference import predict
from nas.metrics import psnr_db


def independent_plain_x8(model: torch.nn.Module, block: np.ndarray) -> np.ndarray:
    """The paper's x8 of one H x W mosaic: rotate by k quarter turns, flip left-right or not, run
    the network, undo the flip and the rotation, average, clip to [0, 1]."""
    outputs = []
    for k in range(4):
        for flip in (False, True):
            view = np.rot90(block, k)
            view = np.fliplr(view) if flip else view
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(view, dtype=np.float32))[None, None]
                out = model(x)[0, 0].numpy()
            out = np.fliplr(out) if flip else out
            outputs.append(np.rot90(out, -k))
    return np.clip(np.mean(outputs, axis=0), 0, 1)


def check_paper_protocol(args, paper_psnr: np.ndarray) -> tuple[float, float]:
    """(max |output difference|, max |PSNR difference| in dB) over the blocks, between our paper
    protocol and :func:`independent_plain_x8`."""
    model, _ = load_denoiser(args.arch, args.weights, torch.device("cpu"))
    model.eval()
    blocks = validation_set(args.data, args.blocks, args.block_size, 1)
    max_out, max_db = 0.0, 0.0
    for i, (noisy, clean) in enumerate(zip(blocks.noisy, blocks.clean)):
        reference = independent_plain_x8(model, np.asarray(noisy, np.float32))
        with torch.inference_mode():
            x = torch.from_numpy(np.asarray(noisy, np.float32))[None, None]
            ours = predict(model, x, ensemble=True, ensemble_protocol="paper")[0, 0].numpy()
        max_out = max(max_out, float(np.abs(ours - reference).max()))
        max_db = max(max_db, abs(psnr_db(reference, clean) - float(paper_psnr[i])))
    return max_out, max_db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True)
    parser.add_argument("--weights")
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--blocks", type=int, default=64)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    common = dict(
        weights=args.weights,
        data=args.data,
        blocks=args.blocks,
        block_size=args.block_size,
        ssim=False,
        device="cpu",
        progress=False,
    )
    single = evaluate(args.arch, **common)
    paper = evaluate(args.arch, ensemble=True, ensemble_protocol="paper", **common)
    phase = evaluate(args.arch, ensemble=True, ensemble_protocol="phase", **common)
    gap = phase.table["psnr"].to_numpy() - paper.table["psnr"].to_numpy()
    max_out, max_db = check_paper_protocol(args, paper.table["psnr"].to_numpy())
    print(f"{args.arch} ({args.weights}) on {single.data}, {single.blocks} blocks")
    print(f"noisy input      {single.noisy_psnr:.3f} dB")
    print(f"single pass      {single.psnr:.3f} dB")
    print(f"paper x8         {paper.psnr:.3f} dB  (gain {paper.psnr - single.psnr:+.3f})")
    print(f"phase x8         {phase.psnr:.3f} dB  (gain {phase.psnr - single.psnr:+.3f})")
    print(
        f"phase - paper    {gap.mean():+.3f} dB (s.e. {gap.std(ddof=1) / np.sqrt(len(gap)):.3f});"
        f" phase higher on {(gap > 0).sum()} of {len(gap)} blocks"
    )
    print(
        f"paper protocol against an independent numpy x8: max |output difference| {max_out:.2e},"
        f" max |PSNR difference| {max_db:.2e} dB per block"
    )


if __name__ == "__main__":
    main()
