"""Train and distill the original and the Siamese network in the paper's four steps.

    python -m nas.distill --original mwresnet --siamese runs/NAME/best.json --data synthetic --steps 20000

Stages write to OUT/step1_original, step1_siamese, step2_pseudo_labels.npz, step3_original,
step3_siamese, step4_targets.npz, step4_siamese, and the ablation table to OUT/ablation.csv.
The deliverable is OUT/step4_siamese/final.pt. Rerun with --resume to continue after a stop.
"""
from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..arch import resolve_arch
from ..cli import CommandParser, UsageError, cli_main, user_error
from ..data import training_sampler, validation_set
from ..search.fitness import proxy_spec
from ..train.loop import NonFiniteLoss
from ..train.options import add_training_arguments, prepare
from ..train.trainer import TrainError
from .pipeline import DistillPlan, fixed_noisy_blocks, run_distillation

user_error(TrainError, NonFiniteLoss)


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser("python -m nas.distill", __doc__)
    p.add_argument("--original", default="mwresnet", help="the original network (named, spec or model file)")
    p.add_argument("--siamese", required=True, help="the Siamese network: best.json, genome file or spec")
    p.add_argument("--unlabeled", help="noisy inputs to pseudo-label (a validation-type source, e.g. "
                                       "siddplus-val:DIR); default: fixed crops of the training inputs")
    p.add_argument("--unlabeled-blocks", type=int, default=64, help="crops drawn from the training inputs")
    p.add_argument("--unlabeled-size", type=int, default=128, help="side of those crops")
    p.add_argument("--finetune-steps", type=int, help="steps of each fine-tuning stage (default: steps / 2)")
    p.add_argument("--finetune-lr", type=float, help="learning rate of fine-tuning (default: lr / 4)")
    p.add_argument("--width-multiplier", type=float, default=1.0, help="scale both networks' widths (quick runs)")
    add_training_arguments(p)
    return p


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    train = prepare(args)
    if not 0 < args.width_multiplier <= 1:
        raise UsageError(f"--width-multiplier must be in (0, 1], got {args.width_multiplier}")
    finetune = replace(train, steps=args.finetune_steps or max(1, args.steps // 2),
                       lr=args.finetune_lr or train.lr / 4)
    finetune.validate()
    original = proxy_spec(resolve_arch(args.original)[0], args.width_multiplier)
    siamese = proxy_spec(resolve_arch(args.siamese)[0], args.width_multiplier)
    sampler = training_sampler(args.data)
    val_source = args.val_data or args.data
    val = validation_set(val_source, args.val_blocks, args.val_block_size)
    if args.unlabeled:
        blocks = validation_set(args.unlabeled)
        if len({b.shape for b in blocks.noisy}) != 1:
            raise UsageError(f"--unlabeled {args.unlabeled}: its blocks differ in size; pseudo-labelling needs one size")
        unlabeled = np.stack(list(blocks.noisy)).astype(np.float32)
    else:
        unlabeled = fixed_noisy_blocks(sampler, args.unlabeled_blocks, args.unlabeled_size, seed=args.seed + 2)
    plan = DistillPlan(original, siamese, train, finetune, pseudo_labelled_validation=args.unlabeled == val_source)
    out = Path(args.out or Path("runs") / f"distill-{dt.datetime.now():%Y%m%d-%H%M%S}")
    table = run_distillation(plan, sampler, unlabeled, val, out, resume=args.resume)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if plan.pseudo_labelled_validation:
        print("note: the validation set was pseudo-labelled (--unlabeled names it): its PSNRs are optimistic")
    print(f"ablation table {out / 'ablation.csv'}; deliverable {out / 'step4_siamese' / 'final.pt'}")


if __name__ == "__main__":
    main()
