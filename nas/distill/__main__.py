"""Train and distill the original and the Siamese network in the paper's four steps.

    python -m nas.distill --original mwresnet --siamese runs/NAME/best.json \
        --data synthetic --steps 20000

Stages write to OUT/step1_original, step1_siamese, step2_pseudo_labels.npz, step3_original,
step3_siamese, step4_targets.npz, step4_siamese, the compute-matched controls control3_original,
control3_siamese, control4_siamese (the same fine-tuning on the labelled pairs only), and the
ablation table to OUT/ablation.csv. The deliverable is OUT/step4_siamese/final.pt.

With --seeds N (N > 1) each seed S, S+1, ... (S = --seed) gets such a folder, OUT/seed_S/, and
OUT/ablation.csv holds every seed's rows, OUT/ablation_summary.csv their mean ± std and the paired
differences (step 4 - control 4, ...) with a 95% t interval.
Rerun with --resume to continue after a stop: finished stages of every seed are skipped.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path


from ..arch import resolve_arch
from ..cli import CommandParser, UsageError, cli_main, multiple_of_8, positive_int, user_error
from ..data import (
    crop_size,
    default_source,
    describe_channels,
    source_channels,
    training_sampler,
    validation_set,
)
from ..inference import DEFAULT_ENSEMBLE_PROTOCOL, ENSEMBLE_PROTOCOLS
from ..train.loop import NonFiniteLoss
from ..train.options import add_training_arguments, prepare
from ..train.trainer import TrainError
from .ablation import format_table
from .pipeline import DistillPlan, run_distillation
from .seeds import run_seeds
from .summary import format_summary
from .unlabeled import unlabeled_inputs

user_error(TrainError, NonFiniteLoss)

ORIGINAL = "mwresnet"  # the paper's original network, built for the Siamese network's channels


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser("python -m nas.distill", __doc__)
    p.add_argument(
        "--original",
        help="the original network (named, spec or model file; default: mwresnet, built for "
        "the data the Siamese network takes)",
    )
    p.add_argument(
        "--siamese", required=True, help="the Siamese network: best.json, genome file or spec"
    )
    p.add_argument(
        "--unlabeled",
        help="noisy inputs to pseudo-label: 'validation' (the validation inputs, as the paper: "
        "transductive; so does naming the validation source), synthetic-unseen (noisy photos "
        "neither training nor validation uses), raws:DIR (your camera's raw files) or another "
        "validation source, e.g. siddplus-val:DIR; default: fixed crops of the training inputs",
    )
    p.add_argument(
        "--unlabeled-blocks",
        type=positive_int,
        default=64,
        help="crops drawn from the training inputs (or from synthetic-unseen, raws:DIR)",
    )
    p.add_argument("--unlabeled-size", type=multiple_of_8, default=128, help="side of those crops")
    p.add_argument(
        "--ensemble-protocol",
        choices=ENSEMBLE_PROTOCOLS,
        default=DEFAULT_ENSEMBLE_PROTOCOL,
        help="the x8 ensemble of the ablation's psnr_x8 column: paper, each view as it is (the "
        "paper's protocol); phase, each view re-aligned to the network's CFA pattern "
        f"(default: {DEFAULT_ENSEMBLE_PROTOCOL})",
    )
    p.add_argument(
        "--finetune-steps",
        type=positive_int,
        help="steps of each fine-tuning stage (default: steps / 2)",
    )
    p.add_argument(
        "--finetune-lr", type=float, help="learning rate of fine-tuning (default: lr / 4)"
    )
    p.add_argument(
        "--width-multiplier",
        type=float,
        default=1.0,
        help="scale both networks' widths (quick runs)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="repeat the pipeline with N seeds (--seed, --seed + 1, ...) "
        "into OUT/seed_S/ and summarize across them",
    )
    add_training_arguments(p)
    return p


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    train = prepare(args)
    if not 0 < args.width_multiplier <= 1:
        raise UsageError(f"--width-multiplier must be in (0, 1], got {args.width_multiplier}")
    if args.seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {args.seeds}")
    finetune = train.replace(
        steps=args.finetune_steps or max(1, args.steps // 2),
        lr=args.finetune_lr or train.lr / 4,
    )
    named_channels = source_channels(args.data) if args.data else None  # a named --siamese's
    siamese = resolve_arch(args.siamese, named_channels)[0].scaled(args.width_multiplier)
    channels = siamese.in_channels
    original = resolve_arch(args.original or ORIGINAL, channels)[0].scaled(args.width_multiplier)
    if original.in_channels != channels:
        raise UsageError(
            f"--original takes {describe_channels(original.in_channels)} but --siamese "
            f"{describe_channels(channels)}; both networks must take the same data"
        )
    data = args.data or default_source(channels)
    sampler = training_sampler(data, channels)
    sampler.check_patch(train.patch_size)
    needed = crop_size(train.patch_size, mosaic=channels == 1)
    if args.unlabeled_size < needed:
        raise UsageError(
            f"--unlabeled-size {args.unlabeled_size}: "
            "steps 3 and 4 train on these crops in patches of "
            f"{train.patch_size}, so they must be at least {needed}"
        )
    val_source = args.val_data or data
    val = validation_set(val_source, args.val_blocks, args.val_block_size, channels)
    unlabeled = unlabeled_inputs(
        args.unlabeled,
        sampler,
        data,
        val,
        val_source,
        args.unlabeled_blocks,
        args.unlabeled_size,
        train.patch_size,
        first_seed=args.seed,
    )
    unlabeled_for = unlabeled.blocks_for
    plan = DistillPlan(
        original,
        siamese,
        train,
        finetune,
        unlabeled=unlabeled.setting,
        x8_protocol=args.ensemble_protocol,
    )
    out = Path(args.out or Path("runs") / f"distill-{dt.datetime.now():%Y%m%d-%H%M%S}")
    if plan.pseudo_labelled_validation:
        print(
            "note: the validation set was pseudo-labelled (--unlabeled names it): "
            "its PSNRs are optimistic"
        )
    print(f"unlabeled inputs: {plan.unlabeled.describe()}")
    if args.seeds == 1:
        print(
            format_table(
                run_distillation(
                    plan, sampler, unlabeled_for(args.seed), val, out, resume=args.resume
                )
            )
        )
        print(
            f"ablation table {out / 'ablation.csv'}; "
            f"deliverable {out / 'step4_siamese' / 'final.pt'}"
        )
    else:
        seeds = range(args.seed, args.seed + args.seeds)
        print(
            format_summary(
                run_seeds(plan, seeds, sampler, unlabeled_for, val, out, resume=args.resume)[1]
            )
        )
        print(
            f"per-seed rows {out / 'ablation.csv'}; summary {out / 'ablation_summary.csv'}; "
            f"deliverables {out / 'seed_S' / 'step4_siamese' / 'final.pt'}"
        )


if __name__ == "__main__":
    main()
