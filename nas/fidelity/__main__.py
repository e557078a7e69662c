"""Proxy fidelity: does a cheap budget rank architectures as a dearer one does?

    python -m nas.fidelity --space rcab_dense.yaml --count 24 \\
        --fidelity steps=1200 --fidelity width_multiplier=0.25,patch_size=64 --out runs/fidelity
    python -m nas.fidelity --resume runs/fidelity
    python -m nas.fidelity --resume runs/fidelity --fidelity warmup_steps=30     # add a fidelity

Trains ``--count`` architectures, spread over the space's cost range, at the space's default
budget and at each ``--fidelity`` (budget fields changed, e.g. ``steps=1200``), as Ray Tune
trials; each finished training is journalled, so ``--resume`` trains only what is missing (and
``--resume`` with new ``--fidelity`` values adds them to the study). Also
scores three zero-cost proxies at initialisation. Writes fidelity.csv (one row per
architecture), agreement.csv (Kendall's tau and Spearman's rho with bootstrap 95% intervals and
top-5 overlap for every pair of columns), summary.csv (per fidelity: median seconds per
evaluation, cost relative to the default, agreement with the dearest) and scatter_matrix.png, and
names the cheapest fidelity whose tau against the dearest reaches 0.75 (with --max-cost, among
those at most that many times the default's cost, e.g. to keep a search's time).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from models import build_model

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
from ..data import training_sampler
from ..runlock import run_lock
from ..search.checkpoint import CheckpointError, read_journal
from ..search.engine import SearchEngine
from ..search.evaluators import (
    RayEvaluator,
    ResourceError,
    check_resources,
    dashboard_help,
    start_ray,
)
from ..search.genome import GenomeCodec
from ..search.result import CandidateResult, Evaluation, RecordError
from ..search.schemes import GivenGenomes
from ..search.space import SpaceError, load_space
from .study import (
    FidelityError,
    Study,
    StudyError,
    agreement,
    cheapest_reliable,
    fidelity_summary,
    parse_fidelity,
    scatter_matrix_png,
    space_at,
    spread_sample,
)
from .zero_cost import ZERO_COST_PROXIES, zero_cost_scores

user_error(FidelityError, SpaceError, CheckpointError, RecordError, ResourceError, ConnectionError)
STUDY = "study.json"


def build_parser() -> CommandParser:
    p = CommandParser("python -m nas.fidelity", __doc__)
    p.add_argument(
        "--space",
        default="rcab_dense.yaml",
        help="search space (its budget is the default fidelity)",
    )
    p.add_argument(
        "--count", type=int, default=24, help="architectures, spread over the cost range"
    )
    p.add_argument(
        "--fidelity",
        action="append",
        default=[],
        help="FIELD=VALUE[,FIELD=VALUE...] of the budget; with --resume, added to the study",
    )
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--out", help="study folder (default: runs/fidelity-<space name>)")
    p.add_argument("--resume", metavar="DIR", help="continue the study in DIR")
    p.add_argument("--cpus-per-trial", type=positive_float, default=1)
    p.add_argument("--gpus-per-trial", type=nonnegative_float, default=0)
    p.add_argument("--max-concurrent", type=positive_int)
    p.add_argument("--address", help="join an existing Ray cluster")
    p.add_argument("--no-zero-cost", action="store_true", help="skip the zero-cost proxies")
    p.add_argument(
        "--max-cost",
        type=float,
        help="choose only among fidelities at most this many times the default's "
        "seconds per evaluation (e.g. 1.5 to keep a search's time)",
    )
    return p


def _study_folder(args) -> Path:
    if args.resume:
        return Path(args.resume)
    return Path(args.out or f"runs/fidelity-{load_space(args.space).name}")


def _study(args, folder: Path) -> Study:
    if args.resume:
        if not (folder / STUDY).is_file():
            raise UsageError(f"cannot resume {folder}: no {STUDY}")
        study = _read_study(folder)
        added = study.with_fidelities(args.fidelity)
        if added != study:
            atomic_write_text(folder / STUDY, added.to_json())
        return added
    space = load_space(args.space)
    if args.count < 3:
        raise UsageError(f"--count must be at least 3 to compare rankings, got {args.count}")
    if (folder / STUDY).exists():
        raise UsageError(f"{folder} already holds a study; continue it with --resume {folder}")
    # every fidelity is checked before anything is written
    study = Study(space, args.count, args.seed, ("default",)).with_fidelities(args.fidelity)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / STUDY, study.to_json())
    return study


def _read_study(folder: Path) -> Study:
    """The study of ``folder``; UsageError names what is wrong with it."""
    try:
        return Study.from_json((folder / STUDY).read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise UsageError(f"cannot resume {folder}: {STUDY} is not JSON ({err})") from None
    except (StudyError, SpaceError) as err:
        raise UsageError(f"cannot resume {folder}: {STUDY}: {err}") from None


def _train_all(
    folder: Path, study: Study, genomes, fidelities, evaluator: RayEvaluator
) -> list[Evaluation]:
    """Every evaluation of the study: the journal's, and one per architecture and fidelity that
    it lacks, trained now. Each fidelity is an ask/tell search over the given genomes."""
    done = read_journal(folder, repair=True)
    for index, fidelity in enumerate(fidelities):
        engine = SearchEngine(
            space_at(study.space, fidelity),
            study.seed,
            folder,
            scheme=GivenGenomes(study.space.evolution, genomes),
            max_generations=0,
            fidelity=fidelity.name,
        )
        engine.restore(e for e in done if e.fidelity == fidelity.name)

        def tell(key, result, engine=engine, name=fidelity.name):
            if key in engine.pending:  # an evaluator may report a key twice
                engine.tell(key, result)
                done.append(engine.evaluations[key])
                print(
                    f"  {name:32s} {key:36s} {result.status:7s} {result.psnr:7.3f} dB "
                    f"{result.train_seconds:6.1f} s",
                    flush=True,
                )

        todo = engine.ask()
        if todo:
            print(f"fidelity {fidelity.name}: training {len(todo)} architectures", flush=True)
            results = evaluator.evaluate(todo, index, tell)
            for c in todo:
                tell(c.key, results.get(c.key) or CandidateResult.failed("no result reported"))
    return done


def _zero_cost(folder: Path, space, genomes) -> pd.DataFrame:
    path = folder / "zero_cost.csv"
    if path.is_file():
        return pd.read_csv(path, index_col="key")
    codec, budget = GenomeCodec(space), space.budget
    sampler = training_sampler(budget.data, space.in_channels)
    noisy, clean = sampler.sample(
        budget.batch_size, budget.patch_size, torch.Generator().manual_seed(0)
    )
    rows = {}
    for genome in genomes:
        torch.manual_seed(0)
        model = build_model(codec.decode(genome).scaled(budget.width_multiplier))
        rows[codec.key(genome)] = zero_cost_scores(model, noisy, clean)
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("key")
    atomic_write_text(path, table.to_csv())
    return table


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.max_cost is not None and not 0 < args.max_cost < float("inf"):
        raise UsageError(
            f"--max-cost {args.max_cost:g}: must be a positive multiple of the default's cost"
        )
    folder = _study_folder(args)
    if args.resume and not folder.is_dir():
        raise UsageError(f"cannot resume {folder}: no {STUDY}")
    with run_lock(folder):
        _run_study(args, folder, _study(args, folder))


def _run_study(args, folder: Path, study: Study) -> None:
    space = study.space
    fidelities = [parse_fidelity(text, space) for text in study.fidelities]
    genomes = spread_sample(space, study.count, study.seed)
    print(dashboard_help(start_ray(args.address)))
    resources = space.resources.model_copy(
        update={"cpus": args.cpus_per_trial, "gpus": args.gpus_per_trial}
    )
    check_resources(resources)
    evaluator = RayEvaluator(folder, args.cpus_per_trial, args.gpus_per_trial, args.max_concurrent)
    evaluations = _train_all(folder, study, genomes, fidelities, evaluator)
    scores = _wide(evaluations)
    columns = [_psnr_column(f.name) for f in fidelities]
    if not args.no_zero_cost:
        scores = scores.join(_zero_cost(folder, space, genomes))
        columns += list(ZERO_COST_PROXIES)
    seconds = {_psnr_column(f.name): scores[f"seconds {f.name}"].median() for f in fidelities}
    pairs = agreement(scores, columns)
    reference = max(seconds, key=seconds.get)
    summary = fidelity_summary(pairs, seconds, reference, _psnr_column("default"))
    summary["fidelity"] = summary["fidelity"].map(_fidelity_name)
    atomic_write_text(folder / "fidelity.csv", scores.to_csv())
    atomic_write_text(folder / "agreement.csv", pairs.to_csv(index=False))
    atomic_write_text(folder / "summary.csv", summary.to_csv(index=False))
    scatter_matrix_png(scores, columns, folder / "scatter_matrix.png")
    print(pairs.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nagainst the dearest fidelity, {_fidelity_name(reference)}:")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(_verdict(pairs, seconds, reference, args.max_cost))
    print(
        f"wrote {folder / 'fidelity.csv'}, {folder / 'agreement.csv'}, {folder / 'summary.csv'}, "
        f"{folder / 'scatter_matrix.png'}"
    )


def _verdict(
    pairs: pd.DataFrame, seconds: dict[str, float], reference: str, max_cost: float | None
) -> str:
    cheaper = {name: s for name, s in seconds.items() if name != reference}
    if not cheaper:
        return "one fidelity only: add a dearer one with --resume DIR --fidelity FIELD=VALUE"
    cap = None if max_cost is None else max_cost * seconds[_psnr_column("default")]
    choice, reliable = cheapest_reliable(pairs, cheaper, reference, max_seconds=cap)
    within = "" if max_cost is None else f" at most {max_cost:g}x the default's seconds"
    if choice is None:
        return f"no fidelity costs{within}"
    verdict = "reaches tau >= 0.75" if reliable else "is the best, but none reaches tau >= 0.75"
    return f"the cheapest reliable fidelity{within} is {_fidelity_name(choice)}; it {verdict}"


def _psnr_column(fidelity: str) -> str:
    return f"psnr {fidelity}"


def _fidelity_name(column: str) -> str:
    return column.removeprefix("psnr ")


def _wide(evaluations: list[Evaluation]) -> pd.DataFrame:
    """One row per architecture: PSNR and seconds at each fidelity, GFLOPs and params."""
    rows: dict[str, dict] = {}
    for e in evaluations:
        row = rows.setdefault(e.key, {"gflops": e.result.gflops, "params": e.result.params})
        name = e.fidelity
        row[_psnr_column(name)] = e.result.psnr if e.result.ok else None
        row[f"seconds {name}"] = e.result.train_seconds
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("key")


if __name__ == "__main__":
    main()
