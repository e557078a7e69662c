"""What a search's evaluations say: gene effects, gene importance, and where a reference genome
stands.

    python -m nas.analyze runs/NAME                       # a run folder (its journal)
    python -m nas.analyze bench/data/evaldb_rcab_dense.csv.gz \
        --score-genome search_spaces/mwrcanet_paper.json
    python -m nas.analyze runs/evaldb-rcab_dense --export bench/data/evaldb_rcab_dense.csv.gz

Writes, into --out (default: beside the database): gene_effects.csv (mean proxy PSNR by block
type per group, 95% intervals), gene_importance.csv (permutation importance from a surrogate
fitted on the evaluations, with its held-out Kendall tau) and analysis.png. --score-genome trains
that genome once at the budget of the space the database was made with (in this process; --space
overrides it) and reports its percentile in the database and the best architecture at equal or
lower GFLOPs.
"""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import pandas as pd

from ..atomic import atomic_write_text
from ..cli import CommandParser, UsageError, cli_main, cpu_threads, seed_int, user_error
from ..search.best import ResultError, read_result
from ..search.database import (
    DIVERGED_DROP_DB,
    DatabaseError,
    export_database,
    load_database,
    recorded_space,
    split_diverged,
)
from ..search.fitness import candidate_seed, evaluate_candidate
from ..search.result import Candidate
from ..search.space import SpaceError, load_space
from ..search.surrogate import Surrogate
from .effects import (
    best_within_cost,
    block_type_effects,
    gene_importance,
    percentile_of,
    plot_analysis,
)

user_error(DatabaseError, SpaceError, ResultError)
log = logging.getLogger(__name__)


def build_parser() -> CommandParser:
    p = CommandParser("python -m nas.analyze", __doc__)
    p.add_argument("database", help="a run folder, or an evaluations table (.csv / .csv.gz)")
    p.add_argument(
        "--space",
        help="the space the database samples (its blocks, and the budget --score-genome trains "
        "at); default: the one the database records (a run's space.yaml, a table's .meta.json)",
    )
    p.add_argument(
        "--score-genome", metavar="FILE", help="a genome or best.json to train once and place"
    )
    p.add_argument(
        "--seed",
        type=seed_int,
        help="run seed of the database, which sets the scored genome's training "
        "seed (default: the recorded space's seed)",
    )
    p.add_argument("--threads", type=cpu_threads, help="PyTorch CPU threads for --score-genome")
    p.add_argument("--out", help="output folder (default: beside the database)")
    p.add_argument(
        "--export", metavar="FILE.csv.gz", help="also write the database as a compressed table"
    )
    return p


def _score(genome_file: str, space, seed: int, threads: int | None):
    spec = read_result(genome_file)["spec"]
    key = spec.key()
    result = evaluate_candidate(
        Candidate(key, spec, space.budget, candidate_seed(seed, key)), threads=threads
    )
    if not result.ok:
        raise UsageError(f"--score-genome {genome_file}: its training failed ({result.error})")
    return key, result


def _space(name: str | None, database: str):
    if name:
        return load_space(name)
    recorded = recorded_space(database)
    if recorded is None:
        log.warning(
            "%s records no search space; using rcab_dense.yaml (give --space to choose)", database
        )
        return load_space("rcab_dense.yaml")
    return recorded


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    table = load_database(args.database)
    space = _space(args.space, args.database)
    table, diverged = split_diverged(table)
    if len(table) < 10:
        raise UsageError(
            f"{args.database}: {len(table)} fully trained architectures; "
            "the analysis needs 10 or more"
        )
    source = Path(args.database)
    out = Path(args.out) if args.out else (source if source.is_dir() else source.parent)
    out.mkdir(parents=True, exist_ok=True)
    if args.export:
        export_database(
            source,
            Path(args.export),
            command=" ".join(map(shlex.quote, ["python", "-m", "nas.analyze", *sys.argv[1:]])),
        )
        print(f"wrote {args.export}")
    if len(diverged):
        print(
            f"left out {len(diverged)} diverged training(s), "
            f"ending more than {DIVERGED_DROP_DB:g} dB below "
            f"their own learning curve's best: {', '.join(diverged['key'])}"
        )
    effects = block_type_effects(table, space.blocks)
    surrogate = Surrogate(space.blocks)
    held_out = surrogate.cross_validate(list(table["arch"]), table["psnr"].to_numpy())
    surrogate.fit(list(table["arch"]), table["psnr"].to_numpy())
    importance = gene_importance(surrogate, table)
    atomic_write_text(out / "gene_effects.csv", effects.to_csv(index=False))
    atomic_write_text(out / "gene_importance.csv", importance.to_csv(index=False))
    print(
        f"{len(table)} architectures; surrogate held-out Kendall tau {held_out.kendall_tau:.3f}, "
        f"MAE {held_out.mae_db:.3f} dB"
    )
    print(effects.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(importance.head(8).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    reference = None
    if args.score_genome:
        key, result = _score(
            args.score_genome, space, space.seed if args.seed is None else args.seed, args.threads
        )
        reference = (key, result.gflops, result.psnr)
        print(
            f"{key}: proxy PSNR {result.psnr:.3f} dB, {result.gflops:.1f} GFLOPs, "
            f"percentile {percentile_of(result.psnr, table):.1f} of the database"
        )
        rival = best_within_cost(table, result.gflops)
        if rival is not None:
            print(
                f"best at <= {result.gflops:.1f} GFLOPs: {rival['key']} {rival['psnr']:.3f} dB, "
                f"{rival['gflops']:.1f} GFLOPs"
            )
        atomic_write_text(
            out / "reference.csv",
            pd.DataFrame([{"key": key, **result.metrics()}]).to_csv(index=False),
        )
    plot_analysis(effects, importance, table, out / "analysis.png", reference)
    print(
        f"wrote {out / 'gene_effects.csv'}, {out / 'gene_importance.csv'}, {out / 'analysis.png'}"
    )


if __name__ == "__main__":
    main()
