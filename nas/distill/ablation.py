"""The ablation table of one distillation folder: validation PSNR after each step and of each
compute-matched control, with and without the x8 ensemble, and each distilled network's gain
over its control."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from models import ArchSpec, ModelFile, read_state_dict

from ..arch import build_with_weights
from ..data import BlockSet
from ..scoring import evaluate_blocks, summarize

__all__ = [
    "ROWS",
    "CONTROL_OF",
    "ablation_table",
    "format_table",
    "load_network",
    "optimizer_steps",
]

# (step, network, stage folder): the table's rows in order. Step 2 is the average of both step-1 networks.
ROWS = [
    ("step 1", "original", "step1_original"),
    ("step 1", "siamese", "step1_siamese"),
    ("step 2", "average of both (step 1)", None),
    ("step 3", "original", "step3_original"),
    ("step 3", "siamese", "step3_siamese"),
    ("step 4", "siamese (deliverable)", "step4_siamese"),
    ("control 3", "original", "control3_original"),
    ("control 3", "siamese", "control3_siamese"),
    ("control 4", "siamese", "control4_siamese"),
]
# A distilled stage and the stage that had the same training on the labelled pairs only.
CONTROL_OF = {
    "step3_original": "control3_original",
    "step3_siamese": "control3_siamese",
    "step4_siamese": "control4_siamese",
}
# The stages each stage continues from (its weights are the end of this chain).
_CHAIN = {
    "step3_original": "step1_original",
    "step3_siamese": "step1_siamese",
    "step4_siamese": "step3_siamese",
    "control3_original": "step1_original",
    "control3_siamese": "step1_siamese",
    "control4_siamese": "control3_siamese",
}


class _Average(torch.nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x):
        return (self.a(x) + self.b(x)) / 2


def load_network(
    spec: ArchSpec, path: Path, device: torch.device = torch.device("cpu")
) -> torch.nn.Module:
    """The network ``spec`` with the weights of the model file ``path``, on ``device``."""
    return build_with_weights(spec, read_state_dict(path), source=str(path)).to(device)


def optimizer_steps(stages: dict[str, Path], stage: str) -> int:
    """The optimizer steps behind a stage's weights: the steps recorded in its ``final.pt`` and in
    those of the stages it continues from."""
    steps = 0
    while stage is not None:
        steps += int(ModelFile.load(stages[stage]).provenance.step)
        stage = _CHAIN.get(stage)
    return steps


def _network(
    specs: dict[str, ArchSpec], stages: dict[str, Path], stage: str | None, device: torch.device
) -> torch.nn.Module:
    """A row's model: a stage's network, or (``None``) the average of both step-1 networks."""
    if stage is None:
        return _Average(
            load_network(specs["original"], stages["step1_original"], device),
            load_network(specs["siamese"], stages["step1_siamese"], device),
        )
    return load_network(specs[stage.rsplit("_", 1)[1]], stages[stage], device)


def ablation_table(
    specs: dict[str, ArchSpec],
    stages: dict[str, Path],
    val: BlockSet,
    pseudo_labelled: bool,
    device: torch.device = torch.device("cpu"),
) -> pd.DataFrame:
    """One row per entry of :data:`ROWS`: PSNR with and without the x8 ensemble, the optimizer steps
    of that network, and for a distilled network its gain over its compute-matched control."""
    rows = {}
    for step, network, stage in ROWS:
        model = _network(specs, stages, stage, device)
        rows[stage] = {
            "step": step,
            "network": network,
            "stage": stage or "",
            "optimizer_steps": optimizer_steps(stages, stage) if stage else pd.NA,
            "psnr": summarize(evaluate_blocks(model, val, with_ssim=False))["psnr"],
            "psnr_x8": summarize(evaluate_blocks(model, val, ensemble=True, with_ssim=False))[
                "psnr"
            ],
        }
    for stage, row in rows.items():
        control = rows[CONTROL_OF[stage]] if stage in CONTROL_OF else {}
        for metric in ("psnr", "psnr_x8"):
            row[metric.replace("psnr", "gain_over_control")] = row[metric] - control.get(
                metric, float("nan")
            )
        row["validation_pseudo_labelled"] = pseudo_labelled
    return pd.DataFrame(list(rows.values())).astype({"optimizer_steps": "Int64"})


def format_table(table: pd.DataFrame) -> str:
    """One seed's ablation table as text (the gains over the control are in dB)."""
    shown = table[
        [
            "step",
            "network",
            "optimizer_steps",
            "psnr",
            "psnr_x8",
            "gain_over_control",
            "gain_over_control_x8",
        ]
    ]
    shown = shown.astype({"optimizer_steps": "string"}).fillna({"optimizer_steps": ""})
    return shown.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.3f}")
