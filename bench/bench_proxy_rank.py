"""Does the short proxy budget rank candidates as a longer training does?

    python bench/bench_proxy_rank.py [--candidates 8] [--factor 4]

Trains the same random candidates of rcab_dense.yaml with the space's proxy budget and with
``factor`` times more steps (same seeds, same validation blocks), and prints both PSNRs and the
Spearman rank correlation between them. Candidates run two at a time (one thread each).
"""

import argparse
import random
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
from scipy.stats import spearmanr

from nas.search.fitness import candidate_seed, evaluate_candidate
from nas.search.genome import GenomeCodec
from nas.search.result import Candidate
from nas.search.space import load_space


def _run(candidate):
    return evaluate_candidate(candidate, threads=1)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--factor", type=int, default=4)
    parser.add_argument("--space", default="rcab_dense.yaml")
    args = parser.parse_args()
    space = load_space(args.space)
    codec = GenomeCodec(space)
    rng = random.Random(1)
    genomes = [codec.random_genome(rng) for _ in range(args.candidates)]
    short = space.budget
    long = short.model_copy(update={"steps": short.steps * args.factor})
    jobs = [
        Candidate(codec.key(g), codec.decode(g), budget, candidate_seed(0, codec.key(g)))
        for budget in (short, long)
        for g in genomes
    ]
    with ProcessPoolExecutor(max_workers=2) as pool:
        records = list(pool.map(_run, jobs))
    n = len(genomes)
    table = pd.DataFrame(
        {
            "key": [codec.key(g) for g in genomes],
            f"psnr_{short.steps}": [r.psnr for r in records[:n]],
            f"psnr_{long.steps}": [r.psnr for r in records[n:]],
        }
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    rho, p = spearmanr(table.iloc[:, 1], table.iloc[:, 2])
    print(
        f"Spearman rank correlation, {short.steps} vs {long.steps} steps: "
        f"{rho:.2f} (p = {p:.3f}, n = {n})"
    )


if __name__ == "__main__":
    main()
