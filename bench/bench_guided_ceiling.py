"""How far the guided scheme is from what its model could do: ceilings, side by side in one run.

    python bench/bench_guided_ceiling.py [--db bench/data/evaldb_rcab_dense.csv.gz]
        [--landscape surrogate|synthetic] [--seeds 50] [--first-seed 0] [--max-evals 64]
        [--offspring 2] [--samples 400] [--prior-db FILE ...] [--csv FILE]
        [--per-seed FILE]

Each variant is the real engine with the guided scheme (the space's settings, steps of
``--offspring``) on the landscape of ``bench_search.py``, beside random sampling (the target),
and only the model differs:

* ``guided``: the scheme as it is; the GP's hyperparameters are searched on the run's own told
  results at every step;
* ``ideal hyperparameters``: the same GP with its hyperparameters (and feature scaling) found
  once on ``--samples`` random genomes scored by the landscape, then fixed: knowledge of the
  landscape no search has, so an upper bound on what better hyperparameter inference could give;
* ``hyperparameters from DB``: the same, found once on a database's rows (``--prior-db``, e.g.
  the other budget's database of the same space): the transfer a user with an earlier database
  could make;
* ``perfect model``: each step's pool ranked by the landscape itself: the bound of the pool
  DEAP's variation makes.

It prints ``bench_search.py``'s table (regret at the space's trainings and at 64, at random's
seconds, evaluations to random's best of 64, with bootstrap 95% intervals of the medians) for
every variant; ``--per-seed`` writes the values per seed, for paired comparisons.
"""

import argparse
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import (  # noqa: E402
    TARGET,
    add_landscape_arguments,
    add_table_arguments,
    check_search_arguments,
    load_landscape,
    report,
    run_scheme,
    write_tables,
)

from models import BLOCKS, GROUP_NAMES  # noqa: E402
from nas.errors import UserError, first_line  # noqa: E402
from nas.search import schemes  # noqa: E402
from nas.search.database import load_database, split_diverged  # noqa: E402
from nas.search.genome import GenomeCodec  # noqa: E402
from nas.search.guided import Guided, _Model, genome_feature_parts, genome_features  # noqa: E402


def fitted_model(kind: str, genomes, psnr, levels: int) -> _Model:
    """The guided GP fitted on ``genomes`` (hyperparameters searched on all of them)."""
    model = _Model(kind, 0, genome_feature_parts(levels))
    x = np.array([genome_features(g) for g in genomes])
    model.fit(x, np.asarray(psnr, dtype=float))
    return model


def with_fixed_hyperparameters(template: _Model) -> type[Guided]:
    class FixedGuided(Guided):
        def _model(self, parts):
            return _Model(self.settings.guided_model, random.getrandbits(32), parts, template)

    return FixedGuided


class _LandscapeModel:
    """The landscape itself as the model, with a constant spread, so expected improvement ranks
    the pool by the landscape's score; told and believed results change nothing."""

    def __init__(self, score_features) -> None:
        self.score_features = score_features

    def fit(self, x, y) -> None:
        pass

    refit = fit

    def predict(self, x):
        return self.score_features(x), np.ones(len(x))


def with_perfect_model(score_features) -> type[Guided]:
    class PerfectGuided(Guided):
        def _model(self, parts):
            return _LandscapeModel(score_features)

    return PerfectGuided


def genome_of_features(row, groups: int) -> list[int]:
    """The genome :func:`genome_features` describes (an empty slot's block type is 0)."""
    per_group = 1 + len(BLOCKS)
    levels = len(row) - 1 - per_group * groups
    genome = []
    for i in range(groups):
        count, kinds = row[per_group * i], row[per_group * i + 1 : per_group * (i + 1)]
        genome += [int(np.argmax(kinds)) if count > 0 else 0, int(round(count))]
    return genome + [int(round(w)) for w in row[len(row) - levels :]]


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_landscape_arguments(parser)
    parser.add_argument("--max-evals", type=int, default=TARGET)
    parser.add_argument("--offspring", type=int, default=2)
    parser.add_argument("--samples", type=int, default=400, help="random genomes for the ideal")
    parser.add_argument("--prior-db", nargs="*", default=[], help="databases to transfer from")
    add_table_arguments(parser)
    args = parser.parse_args()
    check_search_arguments(parser, args)
    if args.samples < 2:
        parser.exit(2, "error: need --samples of at least 2\n")
    try:
        priors = {path: split_diverged(load_database(path))[0] for path in args.prior_db}
    except UserError as err:
        parser.exit(2, f"error: --prior-db: {first_line(err)}\n")
    space, landscape = load_landscape(parser, args)
    codec = GenomeCodec(space)
    levels = len(codec.widths)
    kind = space.evolution.guided_model

    def score(genomes):
        return np.asarray(landscape.psnr([codec.decode(list(g)) for g in genomes]), dtype=float)

    rng = random.Random(7)
    sampled = [codec.random_genome(rng) for _ in range(args.samples)]
    variants = {
        "guided": Guided,
        "ideal hyperparameters": with_fixed_hyperparameters(
            fitted_model(kind, sampled, score(sampled), levels)
        ),
    }
    for path, table in priors.items():
        genomes = [list(g) for g in table["genome"]]
        template = fitted_model(kind, genomes, table["psnr"].to_numpy(), levels)
        variants[f"hyperparameters from {Path(path).name}"] = with_fixed_hyperparameters(template)
    groups = len(GROUP_NAMES)
    variants["perfect model"] = with_perfect_model(
        lambda x: score([genome_of_features(row, groups) for row in x])
    )
    overrides = {"offspring": args.offspring}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    runs = {
        "random": [run_scheme(space, landscape, "random", s, {}, args.max_evals)[0] for s in seeds]
    }
    for name, scheme in variants.items():
        schemes.SCHEMES["guided"] = scheme
        try:
            runs[name] = [
                run_scheme(space, landscape, "guided", s, overrides, args.max_evals)[0]
                for s in seeds
            ]
        finally:
            schemes.SCHEMES["guided"] = Guided
        print(f"  {name}: done", flush=True)
    budgets = tuple(n for n in sorted({space.evolution.trainings, TARGET}) if n <= args.max_evals)
    write_tables(args, *report(runs, landscape, budgets, args.first_seed))


if __name__ == "__main__":
    main()
