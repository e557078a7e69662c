"""The distillation's stage graph, in one table: which stages train, in which order, from which
parent's weights, on which targets and with which schedule; which pseudo-label sets are made from
which networks; which row of the ablation table each one is, and which control it is compared
against. The pipeline, the ablation table and the summary across seeds all read it.

Every trained stage writes into its own folder (``OUT/<name>/``, the weights in ``final.pt``);
every target set is cached in ``OUT/<name>.npz``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from models import ArchSpec

from ..inference import DEFAULT_ENSEMBLE_PROTOCOL, EnsembleProtocol
from ..train.trainer import TrainConfig

__all__ = [
    "Network",
    "Stage",
    "Targets",
    "Difference",
    "Graph",
    "STAGES",
    "DIFFERENCES",
    "DistillPlan",
    "UnlabeledSetting",
    "TRAINING_CROPS",
    "TRANSDUCTIVE",
    "DISJOINT",
    "VALIDATION",
    "entry",
    "chain",
    "control_for",
    "trained",
    "rows",
]

Network = Literal["original", "siamese"]


@dataclass(frozen=True)
class Stage:
    """One trained stage: a network trained into ``OUT/<name>/``."""

    name: str
    network: Network
    parent: str | None  # the stage whose final weights it starts from; None: fresh weights
    targets: str | None  # the target set (a Targets' name) it trains on; None: the labelled pairs
    schedule: int  # 1: the step-one training config; 3, 4: the fine-tuning config of that step
    step: str  # its ablation row: the "step" column ...
    label: str  # ... and the "network" column
    control_of: str | None = None  # the distilled stage it matches in compute, if a control

    def weights(self, out_dir: Path) -> Path:
        return Path(out_dir) / self.name / "final.pt"


@dataclass(frozen=True)
class Targets:
    """A pseudo-label set: the outputs of ``teachers`` (one per network) on the unlabeled inputs,
    cached in ``OUT/<name>.npz``. With a ``step``, the teachers' average is an ablation row."""

    name: str
    teachers: tuple[str, ...]  # the stages whose outputs are the targets
    average: bool  # True: one target, the teachers' average; False: every output, stacked
    added_to_labelled: bool  # True: half of each batch still comes from the labelled pairs
    step: str | None = None
    label: str | None = None

    def path(self, out_dir: Path) -> Path:
        return Path(out_dir) / f"{self.name}.npz"


@dataclass(frozen=True)
class Difference:
    """A paired difference across seeds: the row of ``minuend`` minus that of ``subtrahend``."""

    minuend: str
    subtrahend: str
    network: str  # the summary's "network" column


Graph = tuple[Stage | Targets, ...]  # a stage graph: its entries in training order

# In training order; the rows of the ablation table are the entries with a label, in this order.
# fmt: off
STAGES: Graph = (
    Stage("step1_original", "original", parent=None, targets=None, schedule=1,
          step="step 1", label="original"),
    Stage("step1_siamese", "siamese", parent=None, targets=None, schedule=1,
          step="step 1", label="siamese"),
    Targets("step2_pseudo_labels", teachers=("step1_original", "step1_siamese"), average=True,
            added_to_labelled=True, step="step 2", label="average of both (step 1)"),
    Stage("step3_original", "original", parent="step1_original", targets="step2_pseudo_labels",
          schedule=3, step="step 3", label="original"),
    Stage("step3_siamese", "siamese", parent="step1_siamese", targets="step2_pseudo_labels",
          schedule=3, step="step 3", label="siamese"),
    Targets("step4_targets", teachers=("step3_original", "step3_siamese"), average=False,
            added_to_labelled=False),
    Stage("step4_siamese", "siamese", parent="step3_siamese", targets="step4_targets",
          schedule=4, step="step 4", label="siamese (deliverable)"),
    # The compute-matched controls: the fine-tuning of steps 3 and 4 on the labelled pairs only.
    Stage("control3_original", "original", parent="step1_original", targets=None, schedule=3,
          step="control 3", label="original", control_of="step3_original"),
    Stage("control3_siamese", "siamese", parent="step1_siamese", targets=None, schedule=3,
          step="control 3", label="siamese", control_of="step3_siamese"),
    Stage("control4_siamese", "siamese", parent="control3_siamese", targets=None, schedule=4,
          step="control 4", label="siamese", control_of="step4_siamese"),
)
# fmt: on

# The paired differences of the summary across seeds; the first is the headline.
DIFFERENCES: tuple[Difference, ...] = (
    Difference("step4_siamese", "control4_siamese", "siamese"),
    Difference("step3_siamese", "control3_siamese", "siamese"),
    Difference("step3_original", "control3_original", "original"),
    Difference("step4_siamese", "step1_siamese", "siamese"),
    Difference("step2_pseudo_labels", "step1_siamese", "average - siamese"),
)


def entry(name: str, stages: Graph = STAGES) -> Stage | Targets:
    """The stage or target set called ``name``."""
    found = [e for e in stages if e.name == name]
    if not found:
        raise KeyError(f"no stage or target set {name!r}")
    return found[0]


def trained(stages: Graph = STAGES) -> tuple[Stage, ...]:
    """The trained stages, in training order."""
    return tuple(e for e in stages if isinstance(e, Stage))


def rows(stages: Graph = STAGES) -> Graph:
    """The entries that are rows of the ablation table, in order."""
    return tuple(e for e in stages if e.label is not None)


def chain(stage: Stage, stages: Graph = STAGES) -> tuple[Stage, ...]:
    """``stage`` and the stages it continues from, latest first."""
    links = [stage]
    while links[-1].parent is not None:
        links.append(entry(links[-1].parent, stages))
    return tuple(links)


def control_for(name: str, stages: Graph = STAGES) -> Stage | None:
    """The compute-matched control of the distilled stage ``name``, if it has one."""
    return next((s for s in trained(stages) if s.control_of == name), None)


TRAINING_CROPS = "training crops"
TRANSDUCTIVE = "validation inputs (transductive)"
DISJOINT = "disjoint"
TRAINING_SOURCE = "training source"  # --unlabeled names the training source (not validation's)
VALIDATION = "validation"  # the --unlabeled name of the validation inputs


@dataclass(frozen=True)
class UnlabeledSetting:
    """What the pseudo-labelled inputs are: ``kind`` (one of the settings above) and ``source``,
    the source string they come from."""

    kind: str = TRAINING_CROPS
    source: str = ""

    @property
    def transductive(self) -> bool:
        return self.kind == TRANSDUCTIVE

    def describe(self) -> str:
        return f"{self.kind} ({self.source})" if self.source else self.kind


@dataclass(frozen=True)
class DistillPlan:
    original: ArchSpec
    siamese: ArchSpec
    train: TrainConfig  # step one
    finetune: TrainConfig  # steps three and four
    unlabeled: UnlabeledSetting = UnlabeledSetting()  # what steps 2 and 4 pseudo-label
    x8_protocol: EnsembleProtocol = DEFAULT_ENSEMBLE_PROTOCOL  # the ablation table's x8 column

    @property
    def pseudo_labelled_validation(self) -> bool:
        return self.unlabeled.transductive

    def with_seed(self, seed: int) -> "DistillPlan":
        """The same plan with every stage seeded from ``seed``."""
        return replace(
            self, train=self.train.replace(seed=seed), finetune=self.finetune.replace(seed=seed)
        )

    def spec(self, network: Network) -> ArchSpec:
        """The architecture of one of the two networks."""
        return {"original": self.original, "siamese": self.siamese}[network]

    def config(self, stage: Stage) -> TrainConfig:
        """A stage's training config: step one's, or the fine-tuning config of its step (seeded
        ``finetune.seed + step``); a compute-matched control has that of the stage it matches."""
        if stage.schedule == 1:
            return self.train
        return self.finetune.replace(seed=self.finetune.seed + stage.schedule)
