"""Transfer study: do the proxy's winners stay ahead when trained longer and wider?

    python -m nas.transfer --space rcab_dense.yaml --arch mwrcanet_paper --arch mwresnet \\
        --database bench/data/evaldb_rcab_dense.csv.gz --top 3 --max-gflops mwrcanet_paper \\
        --fidelity steps=600,width_multiplier=0.5 --fidelity steps=2400,width_multiplier=0.5 \\
        --seeds 3 --out runs/transfer
    python -m nas.transfer --resume runs/transfer

Trains each architecture (every --arch, and the --top best of --database at or below
--max-gflops GFLOPs, a number or the name of an --arch) at the space's budget (the proxy,
``default``) and at each --fidelity, with --seeds seeds, the same seeds at every fidelity, as
Ray Tune trials. Each finished training is journalled, so --resume trains only what is missing.
Writes transfer.csv (per fidelity and architecture: mean validation PSNR with a 95% t-interval
over the seeds, its rank), agreement.csv (per fidelity: Kendall's tau against the proxy's ranking
with a 95% interval from resampling the seeds, and whether the best is the same) and
evaluations.csv (every training).
"""

from __future__ import annotations

from pathlib import Path

from models.cost import composed_cost

from ..atomic import atomic_write_text
from ..cli import (
    CommandParser,
    UsageError,
    cli_main,
    nonnegative_float,
    positive_float,
    positive_int,
    seed_int,
    user_error,
)
from ..runlock import run_lock
from ..search.checkpoint import CheckpointError, append_evaluation, read_journal
from ..search.database import DatabaseError
from ..search.evaluators import (
    RayEvaluator,
    ResourceError,
    check_resources,
    dashboard_help,
    start_ray,
)
from ..search.report import evaluations_table
from ..search.result import RecordError
from ..search.space import SpaceError, load_space
from .study import (
    PLAN,
    TransferError,
    TransferPlan,
    best_of_database,
    psnr_table,
    rank_agreement,
    resolve_architectures,
    train_missing,
)

user_error(
    TransferError,
    SpaceError,
    CheckpointError,
    RecordError,
    ResourceError,
    DatabaseError,
    ConnectionError,
)
PLAN_OPTIONS = ("space", "arch", "database", "top", "max_gflops", "fidelity", "seeds", "seed")


def build_parser() -> CommandParser:
    p = CommandParser("python -m nas.transfer", __doc__)
    p.add_argument("--space", help="search space; its budget is the proxy (rcab_dense.yaml)")
    p.add_argument("--arch", action="append", help="an architecture (name, spec or best.json)")
    p.add_argument("--database", help="an evaluation database to take the --top best from")
    p.add_argument("--top", type=positive_int, help="how many of the database's best")
    p.add_argument("--max-gflops", help="the database's best at or below: GFLOPs or an --arch")
    p.add_argument("--fidelity", action="append", help="FIELD=VALUE[,FIELD=VALUE...]")
    p.add_argument("--seeds", type=positive_int, help="seeds per architecture and fidelity (3)")
    p.add_argument("--seed", type=seed_int, help="the first seed (0)")
    p.add_argument("--out", help="study folder (default: runs/transfer-<space name>)")
    p.add_argument("--resume", metavar="DIR", help="continue the study in DIR")
    p.add_argument("--cpus-per-trial", type=positive_float, default=1)
    p.add_argument("--gpus-per-trial", type=nonnegative_float, default=0)
    p.add_argument("--max-concurrent", type=positive_int)
    p.add_argument("--address", help="join an existing Ray cluster")
    return p


def plan_from_args(args) -> TransferPlan:
    """The study the options describe (checked in full before anything is written)."""
    space = load_space(args.space or "rcab_dense.yaml")
    archs = resolve_architectures(args.arch or [], space)
    if (args.top is None) != (args.database is None):
        raise UsageError("--top and --database go together")
    if args.max_gflops is not None and args.database is None:
        raise UsageError("--max-gflops chooses among a --database's architectures")
    if args.database is not None:
        cap = _gflops_cap(args.max_gflops, archs)
        taken = {a.key for a in archs}
        archs += [a for a in best_of_database(args.database, args.top, cap) if a.key not in taken]
    return TransferPlan(
        space,
        tuple(archs),
        ("default", *[f for f in dict.fromkeys(args.fidelity or []) if f != "default"]),
        3 if args.seeds is None else args.seeds,
        args.seed or 0,
    )


def _gflops_cap(value: str | None, archs) -> float | None:
    if value is None:
        return None
    for arch in archs:
        if value == arch.name:
            return composed_cost(arch.spec).gflops
    try:
        cap = float(value)
    except ValueError:
        raise UsageError(f"--max-gflops {value}: not a number nor the name of an --arch") from None
    if not cap > 0:
        raise UsageError(f"--max-gflops {value}: must be positive")
    return cap


def _plan(args, folder: Path, new: TransferPlan | None) -> TransferPlan:
    """The study's plan, read back (``--resume``) or ``new`` written (under the folder's lock)."""
    if new is None:
        if not (folder / PLAN).is_file():
            raise UsageError(f"cannot resume {folder}: no {PLAN}")
        text = (folder / PLAN).read_bytes().decode("utf-8", errors="replace")
        return TransferPlan.from_json(text, str(folder / PLAN))
    _refuse_a_second_study(folder)  # again: another process may have started one meanwhile
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / PLAN, new.to_json())
    return new


def _refuse_a_second_study(folder: Path) -> None:
    if (folder / PLAN).exists():
        raise UsageError(f"{folder} already holds a study; continue it with --resume {folder}")


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.resume and args.out:
        raise UsageError("give --out for a new study or --resume DIR, not both")
    new = None
    if args.resume:
        given = [f"--{name.replace('_', '-')}" for name in PLAN_OPTIONS if getattr(args, name)]
        if given:
            raise UsageError(f"--resume continues the study as planned; drop {' '.join(given)}")
        folder = Path(args.resume)
        if not folder.is_dir():
            raise UsageError(f"cannot resume {folder}: no such folder")
    else:
        space_name = load_space(args.space or "rcab_dense.yaml").name
        folder = Path(args.out or f"runs/transfer-{space_name}")
        _refuse_a_second_study(folder)
        new = plan_from_args(args)  # checked in full before the folder is touched
    with run_lock(folder):
        run_study(args, folder, _plan(args, folder, new))


def run_study(args, folder: Path, plan: TransferPlan) -> None:
    resources = plan.space.resources.model_copy(
        update={"cpus": args.cpus_per_trial, "gpus": args.gpus_per_trial}
    )
    print(dashboard_help(start_ray(args.address)))
    check_resources(resources)
    evaluator = RayEvaluator(folder, args.cpus_per_trial, args.gpus_per_trial, args.max_concurrent)
    done = read_journal(folder, repair=True)

    def journal(evaluation) -> None:
        append_evaluation(folder, evaluation)
        done.append(evaluation)
        r = evaluation.result
        print(
            f"  {evaluation.fidelity:32s} {evaluation.key:40s} {r.status:7s} {r.psnr:7.3f} dB "
            f"{r.train_seconds:7.1f} s",
            flush=True,
        )

    names = ", ".join(f"{a.name} ({a.key})" for a in plan.architectures)
    print(f"architectures: {names}\nfidelities: {', '.join(plan.fidelities)}; {plan.seeds} seeds")
    train_missing(plan, done, evaluator, journal)
    table, agreement = psnr_table(plan, done), rank_agreement(plan, done)
    atomic_write_text(folder / "transfer.csv", table.to_csv(index=False))
    atomic_write_text(folder / "agreement.csv", agreement.to_csv(index=False))
    atomic_write_text(folder / "evaluations.csv", evaluations_table(done).to_csv(index=False))
    fmt = lambda v: f"{v:.3f}"  # noqa: E731
    print(table.drop(columns="key").to_string(index=False, float_format=fmt))
    print()
    if agreement.empty:
        print("rank agreement: none (no dearer fidelity trained)")
    else:
        print(agreement.to_string(index=False, float_format=fmt))
    print(
        f"wrote {folder / 'transfer.csv'}, {folder / 'agreement.csv'}, {folder / 'evaluations.csv'}"
    )


if __name__ == "__main__":
    main()
