"""The ablation table of one distillation folder: validation PSNR after each step and of each
compute-matched control, with and without the x8 ensemble (in one protocol, recorded in each
row), and each distilled network's gain over its control. Its rows, and which control each is
compared against, are the stage table (:data:`.stages.STAGES`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch

from models import ArchSpec, ModelFile, read_state_dict

from ..arch import build_with_weights
from ..data import BlockSet
from ..inference import DEFAULT_ENSEMBLE_PROTOCOL, EnsembleProtocol, check_ensemble_protocol
from ..scoring import evaluate_blocks, summarize
from .stages import (
    STAGES,
    TRAINING_CROPS,
    DistillPlan,
    Graph,
    Stage,
    Targets,
    UnlabeledSetting,
    chain,
    control_for,
    entry,
    rows,
)

__all__ = [
    "AblationRow",
    "ablation_table",
    "format_table",
    "load_network",
    "optimizer_steps",
    "unlabeled_setting",
]


@dataclass
class AblationRow:
    """One row of ``ablation.csv`` (the pipeline prepends the ``seed`` column)."""

    step: str
    network: str
    stage: str  # the stage folder; "" for the average of the step-1 networks
    optimizer_steps: int | None
    psnr: float
    psnr_x8: float
    x8_protocol: EnsembleProtocol = DEFAULT_ENSEMBLE_PROTOCOL  # the ensemble behind psnr_x8
    gain_over_control: float = float("nan")
    gain_over_control_x8: float = float("nan")
    validation_pseudo_labelled: bool = False
    unlabeled: str = TRAINING_CROPS  # the setting: what steps 2 and 4 pseudo-labelled
    unlabeled_source: str = ""  # the source string of those inputs


class _Average(torch.nn.Module):
    def __init__(self, *models: torch.nn.Module):
        super().__init__()
        self.models = torch.nn.ModuleList(models)

    def forward(self, x):
        return sum(model(x) for model in self.models) / len(self.models)


def load_network(
    spec: ArchSpec, path: Path, device: torch.device = torch.device("cpu")
) -> torch.nn.Module:
    """The network ``spec`` with the weights of the model file ``path``, on ``device``."""
    return build_with_weights(spec, read_state_dict(path), source=str(path)).to(device)


def optimizer_steps(out_dir: Path, stage: Stage, stages: Graph = STAGES) -> int:
    """The optimizer steps behind a stage's weights: the steps recorded in its ``final.pt`` and in
    those of the stages it continues from."""
    return sum(
        int(ModelFile.load(link.weights(out_dir)).provenance.step) for link in chain(stage, stages)
    )


def _network(
    plan: DistillPlan, out_dir: Path, row: Stage | Targets, stages: Graph, device
) -> torch.nn.Module:
    """A row's model: a stage's network, or the average of a target set's teachers."""
    if isinstance(row, Stage):
        return load_network(plan.spec(row.network), row.weights(out_dir), device)
    teachers = [entry(name, stages) for name in row.teachers]
    return _Average(
        *(load_network(plan.spec(t.network), t.weights(out_dir), device) for t in teachers)
    )


def _psnr(
    model: torch.nn.Module,
    val: BlockSet,
    ensemble: bool,
    protocol: EnsembleProtocol = DEFAULT_ENSEMBLE_PROTOCOL,
) -> float:
    table = evaluate_blocks(
        model, val, ensemble=ensemble, with_ssim=False, ensemble_protocol=protocol
    )
    return summarize(table)["psnr"]


def _row(
    plan: DistillPlan,
    out_dir: Path,
    row: Stage | Targets,
    val,
    device,
    stages: Graph,
    protocol: EnsembleProtocol,
) -> AblationRow:
    model = _network(plan, out_dir, row, stages, device)
    trained = isinstance(row, Stage)
    return AblationRow(
        step=row.step,
        network=row.label,
        stage=row.name if trained else "",
        optimizer_steps=optimizer_steps(out_dir, row, stages) if trained else None,
        psnr=_psnr(model, val, ensemble=False),
        psnr_x8=_psnr(model, val, ensemble=True, protocol=protocol),
        x8_protocol=protocol,
        validation_pseudo_labelled=plan.pseudo_labelled_validation,
        unlabeled=plan.unlabeled.kind,
        unlabeled_source=plan.unlabeled.source,
    )


def ablation_table(
    plan: DistillPlan,
    out_dir: Path,
    val: BlockSet,
    device: torch.device = torch.device("cpu"),
    stages: Graph = STAGES,
    ensemble_protocol: EnsembleProtocol | None = None,
) -> pd.DataFrame:
    """One row per entry of the stage table with a label: PSNR with and without the x8 ensemble
    (in ``ensemble_protocol``, by default the plan's ``x8_protocol``, recorded as
    ``x8_protocol``), the optimizer steps of that network, and for a distilled network its gain
    over its compute-matched control."""
    protocol = check_ensemble_protocol(ensemble_protocol or plan.x8_protocol)
    table = {
        row.name: _row(plan, out_dir, row, val, device, stages, protocol) for row in rows(stages)
    }
    for name, row in table.items():
        control = control_for(name, stages)
        if control is not None:
            row.gain_over_control = row.psnr - table[control.name].psnr
            row.gain_over_control_x8 = row.psnr_x8 - table[control.name].psnr_x8
    frame = pd.DataFrame([asdict(row) for row in table.values()])
    return frame.astype({"optimizer_steps": "Int64"})


def format_table(table: pd.DataFrame) -> str:
    """One seed's ablation table as text (the gains over the control are in dB; the x8 column's
    header names its ensemble protocol; a first line names the unlabeled inputs' setting)."""
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
    if "x8_protocol" in table:
        protocols = "/".join(sorted(set(table["x8_protocol"].dropna())))
        shown = shown.rename(columns={"psnr_x8": f"psnr_x8 ({protocols})"})
    text = shown.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.3f}")
    setting = unlabeled_setting(table)
    return f"unlabeled inputs: {setting}\n{text}" if setting else text


def unlabeled_setting(table: pd.DataFrame) -> str | None:
    """The unlabeled inputs' setting(s) of a table's rows, as "kind (source)" ("; "-joined if rows
    differ); None for rows that do not record it."""
    if "unlabeled" not in table:
        return None
    sources = table["unlabeled_source"] if "unlabeled_source" in table else [""] * len(table)
    settings = {
        UnlabeledSetting(kind, source if isinstance(source, str) else "").describe()
        for kind, source in zip(table["unlabeled"], sources)
        if isinstance(kind, str)
    }
    return "; ".join(sorted(settings)) or None
