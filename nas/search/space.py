"""Search spaces: a YAML schema, validated on load with errors that name the field path."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models import BLOCKS, GROUP_NAMES, ArchSpec, Cost, GroupSpec, composed_cost

from ..errors import UserError
from ..data import DataError, describe_channels, source_channels
from ..train.config import (
    Amp,
    BatchSize,
    ChannelsLast,
    LearningRate,
    PatchSize,
    Steps,
    TrainConfig,
    TrainSettings,
    WarmupSteps,
)

__all__ = [
    "SpaceError",
    "SearchSpace",
    "Budget",
    "EvolutionSettings",
    "load_space",
    "parse_space",
    "parse_stored_space",
    "bundled_space",
    "format_validation_error",
]

SCHEMES = ("tournament", "aging", "nsga2", "random", "guided")
# The defaults rcab_dense.yaml states: its count of trainings, and guided's children per step
# (both chosen in bench/README.md; see that file).
DEFAULT_TRAININGS = 24
GUIDED_STEP = 2
BlockName = Literal[tuple(BLOCKS)]


class SpaceError(UserError):
    """A search-space file is missing or invalid; the message names the field path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CountRange(_Strict):
    min: int = Field(ge=0)
    max: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self):
        if self.max < self.min:
            raise ValueError(f"range reversed: min {self.min} > max {self.max}")
        return self


class Widths(_Strict):
    level1: list[int] = Field(min_length=1)
    level2: list[int] = Field(min_length=1)
    level3: list[int] = Field(min_length=1)

    @model_validator(mode="after")
    def _positive(self):
        for name in ("level1", "level2", "level3"):
            if any(w <= 0 for w in getattr(self, name)):
                raise ValueError(f"{name}: widths must be positive")
        return self

    def choices(self) -> tuple[list[int], list[int], list[int]]:
        return self.level1, self.level2, self.level3


class Constraints(_Strict):
    max_params: Optional[float] = Field(
        default=None, gt=0, description="trainable parameters, full width"
    )
    max_gflops: Optional[float] = Field(
        default=None, gt=0, description="GFLOPs at 256 x 256, full width"
    )


class EvolutionSettings(_Strict):
    """How the search evolves; the defaults are the ones rcab_dense.yaml states (see that file).

    The length of a search is ``trainings`` or ``generations``, whichever is given (the other
    follows): population + generations x children() = trainings, rounded down to whole
    generations. Given neither, the search trains ``DEFAULT_TRAININGS`` candidates, so a change of
    scheme or population keeps the count of trainings.
    """

    population: int = Field(default=6, ge=2)
    trainings: Optional[int] = Field(
        default=None,
        ge=2,
        description="trainings of the whole search, the initial population's included "
        f"(default: {DEFAULT_TRAININGS} unless generations is given)",
    )
    generations: Optional[int] = Field(
        default=None,
        ge=0,
        description="generations (aging: cycles) after the initial population "
        "(default: as many as trainings allows)",
    )
    selection: Literal[SCHEMES] = "guided"
    tournament_size: int = Field(default=4, ge=2)
    mutation_rate: float = Field(
        default=0.25, ge=0, le=1, description="per-gene mutation probability"
    )
    crossover_rate: float = Field(default=0.5, ge=0, le=1)
    elitism: int = Field(default=1, ge=0)
    offspring: Optional[int] = Field(
        default=None,
        ge=1,
        description="children per generation; default: the population, a quarter of it "
        "for aging, 2 for guided",
    )
    asynchronous: bool = Field(
        default=False,
        description="no generation barrier: a child is bred the moment any training ends",
    )
    guided_pool: int = Field(
        default=256,
        ge=1,
        description="guided: children that variation makes per step for the model to rank",
    )
    guided_model: Literal["gp", "gp_additive", "forest"] = Field(
        default="gp",
        description="guided: the model, a Gaussian process on genome features (one kernel "
        "over them all, or a sum of one per group and the widths) or an extra-trees ensemble",
    )
    acquisition: Literal["ei", "ucb", "thompson"] = Field(
        default="ei",
        description="guided: how the model ranks the pool: expected improvement, upper "
        "confidence bound or Thompson sampling",
    )

    @model_validator(mode="after")
    def _bounded(self):
        if self.elitism >= self.population:
            raise ValueError(
                f"elitism: must be below the population ({self.population}), or no offspring "
                "survives"
            )
        if self.offspring is not None and self.offspring > self.population:
            raise ValueError(f"offspring: at most the population ({self.population})")
        if self.selection == "aging" and self.offspring == self.population:
            raise ValueError(
                "offspring: aging with offspring = population replaces everyone; nothing ages"
            )
        if self.asynchronous and self.selection == "nsga2":
            raise ValueError(
                "asynchronous: nsga2 sorts whole generations; use guided, tournament, aging "
                "or random"
            )
        self._count_trainings()
        return self

    def _count_trainings(self) -> None:
        """Fill in whichever of ``generations`` and ``trainings`` was not given."""
        children, generations = self.children(), self.generations
        if generations is None:
            trainings = DEFAULT_TRAININGS if self.trainings is None else self.trainings
            generations = (trainings - self.population) // children
            if generations < 1 and trainings != self.population:
                raise ValueError(
                    f"trainings: {trainings} leave no generation after the initial population "
                    f"of {self.population} ({children} children per generation); give at "
                    f"least {self.population + children} trainings, or generations"
                )
        total = self.population + generations * children
        if self.generations is not None and self.trainings not in (None, total):
            raise ValueError(
                f"trainings: {self.trainings} disagree with population {self.population} + "
                f"{generations} generations x {children} children ({total}); give one of them"
            )
        for name in ("generations", "trainings"):  # given means given a value
            if getattr(self, name) is None:
                self.__pydantic_fields_set__.discard(name)
        object.__setattr__(self, "generations", generations)  # frozen: filled in once, here
        object.__setattr__(self, "trainings", total)

    def children(self) -> int:
        """Candidates proposed per generation (per cycle for aging)."""
        if self.offspring is not None:
            return self.offspring
        if self.selection == "aging":
            return max(1, self.population // 4)
        return GUIDED_STEP if self.selection == "guided" else self.population


class Budget(TrainSettings):
    """One fitness evaluation: train a candidate from scratch at proxy widths, then validate.

    The training fields (steps, batch_size, patch_size, lr, warmup_steps, amp, channels_last) and
    their constraints are nas.train's; the defaults are the fidelity study's budget, the one
    rcab_dense.yaml states (see that file), so a space may leave out any of them.
    """

    width_multiplier: float = Field(default=0.25, gt=0, le=1)
    patch_size: PatchSize = 64
    batch_size: BatchSize = 8
    steps: Steps = 150
    lr: LearningRate = 2e-3
    # a tenth of steps unless given: 15 of 150, as rcab_dense.yaml, and below any steps
    warmup_steps: WarmupSteps = Field(default_factory=lambda data: data.get("steps", 0) // 10)
    val_blocks: int = Field(default=16, ge=1)
    val_block_size: int = Field(default=64, ge=8, multiple_of=8)
    data: str = "synthetic"
    val_data: Optional[str] = None
    amp: Amp = "off"
    channels_last: ChannelsLast = False
    rungs: list[float] = Field(
        default=[],
        description="fractions of steps at which the validation PSNR is also "
        "recorded (the learning curve); the full budget is always scored",
    )
    scheduler: Literal["none", "asha"] = Field(
        default="none",
        description="early stopping within a generation "
        "(Ray Tune's ASHA); stopped candidates never compete with trained ones",
    )
    grace_steps: Optional[int] = Field(
        default=None,
        ge=1,
        description="ASHA: steps before a first stop (default: steps / reduction_factor^2)",
    )
    reduction_factor: int = Field(
        default=3, ge=2, description="ASHA: 1/reduction_factor of the trials go on at each rung"
    )

    @model_validator(mode="after")
    def _rungs(self):
        if any(not 0 < r < 1 for r in self.rungs):
            raise ValueError(f"rungs: fractions strictly between 0 and 1, got {self.rungs}")
        if self.scheduler == "asha" and self.grace() >= self.steps:
            raise ValueError(
                f"grace_steps: must be below steps ({self.steps}) for ASHA to stop anything"
            )
        return self

    def train_config(self, seed: int, device: str = "auto") -> TrainConfig:
        """The training of one candidate at this budget: validated at the end (and at each rung
        the caller advances to), with ``seed`` on ``device``."""
        shared = {name: getattr(self, name) for name in TrainSettings.model_fields}
        return TrainConfig(**shared, val_every=self.steps, seed=seed, device=str(device))

    def grace(self) -> int:
        """ASHA's first rung, in steps."""
        return self.grace_steps or max(1, -(-self.steps // self.reduction_factor**2))

    def asha_milestones(self) -> list[int]:
        """ASHA's rungs below the full budget: grace, grace x eta, grace x eta^2, ..."""
        if self.scheduler != "asha":
            return []
        milestones, step = [], self.grace()
        while step < self.steps:
            milestones.append(step)
            step *= self.reduction_factor
        return milestones

    def rung_steps(self) -> list[int]:
        """Step counts at which a candidate is scored, ending with ``steps``."""
        fractions = {max(1, round(r * self.steps)) for r in self.rungs}
        return sorted(fractions | set(self.asha_milestones()) | {self.steps})


class Resources(_Strict):
    cpus: float = Field(default=1, gt=0)
    gpus: float = Field(default=0, ge=0)
    max_concurrent: Optional[int] = Field(
        default=None,
        ge=1,
        description="trials at once (default: as many as the cluster's resources allow)",
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        description="times a trial is started again after its worker or node died "
        "(then the candidate is recorded failed)",
    )


class SearchSpace(_Strict):
    """A search space: what a genome may choose, how to score it, how to evolve it."""

    name: str = Field(min_length=1)
    blocks: list[BlockName] = Field(min_length=1)
    blocks_per_group: CountRange
    widths: Widths
    activation: str = "prelu"
    in_channels: Literal[1, 3] = Field(
        default=1, description="1: raw mosaics (the raw track); 3: sRGB images"
    )
    objectives: list[Literal["psnr", "gflops", "params"]] = Field(default=["psnr"], min_length=1)
    constraints: Constraints = Constraints()
    evolution: EvolutionSettings = EvolutionSettings()
    budget: Budget = Budget()
    resources: Resources = Resources()
    seed: int = 0  # the command line takes 0..2**32-1; older runs may hold others and must resume

    @model_validator(mode="before")
    @classmethod
    def _srgb_default_data(cls, data):
        """The sRGB track's embedded default: ``synthetic-srgb`` when in_channels is 3 and no data
        is named."""
        budget = data.get("budget") if isinstance(data, dict) else None
        if (
            isinstance(data, dict)
            and data.get("in_channels") == 3
            and (budget is None or isinstance(budget, dict))
        ):
            if "data" not in (budget or {}):
                data = {**data, "budget": {**(budget or {}), "data": "synthetic-srgb"}}
        return data

    @model_validator(mode="after")
    def _consistent(self):
        if len(set(self.blocks)) != len(self.blocks):
            raise ValueError("blocks: duplicate block type")
        if self.objectives[0] != "psnr" or len(set(self.objectives)) != len(self.objectives):
            raise ValueError("objectives: must start with psnr and name each objective once")
        selection = self.evolution.selection
        if selection == "nsga2" and len(self.objectives) < 2:
            raise ValueError(
                "evolution.selection: nsga2 needs two objectives (e.g. [psnr, gflops])"
            )
        if selection in ("tournament", "aging") and len(self.objectives) > 1:
            raise ValueError(
                f"evolution.selection: {selection} optimises one objective (psnr); with "
                f"{self.objectives} use nsga2 (or random)"
            )
        for field in ("data", "val_data"):
            text = getattr(self.budget, field)
            try:
                channels = source_channels(text) if text else None
            except DataError as err:
                raise ValueError(f"budget.{field}: {err}") from None
            if channels is not None and channels != self.in_channels:
                raise ValueError(
                    f"budget.{field}: {text} holds {describe_channels(channels)} but "
                    f"in_channels is {self.in_channels} ({describe_channels(self.in_channels)})"
                )
        return self

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    def smallest_cost(self) -> Cost:
        """The cost of the cheapest architecture: fewest blocks, narrowest widths, the cheapest
        block type (by GFLOPs, then parameters)."""
        widths = tuple(min(choices) for choices in self.widths.choices())
        count = self.blocks_per_group.min
        specs = (
            ArchSpec(
                widths=widths,
                groups=tuple(GroupSpec(block, count) for _ in GROUP_NAMES),
                in_channels=self.in_channels,
                activation=self.activation,
            )
            for block in self.blocks
        )
        return min((composed_cost(spec) for spec in specs), key=lambda c: (c.gflops, c.params))

    def with_overrides(self, **sections: dict) -> "SearchSpace":
        """A copy with some fields of some sections replaced (None values are ignored),
        re-validated."""
        data = self.to_dict()
        for section, values in sections.items():
            target = data if section == "top" else data[section]
            target.update({k: v for k, v in values.items() if v is not None})
        _follow_the_length(self.evolution, data["evolution"], sections.get("evolution", {}))
        return parse_space(data, source="command line")


def _follow_the_length(settings: EvolutionSettings, evolution: dict, changed: dict) -> None:
    """Of the search's length (generations, trainings) an override keeps the half it names, or
    else the half the space was given (a space given neither: its trainings); the other half
    follows a new population, scheme or offspring."""
    changed = {k for k, v in changed.items() if v is not None}
    if {"generations", "trainings"} <= changed:
        return
    if "generations" in changed:
        evolution["trainings"] = None
    elif "trainings" in changed or "generations" not in settings.model_fields_set:
        evolution["generations"] = None
    else:
        evolution["trainings"] = None


def parse_stored_space(data: object, source: str = "space") -> SearchSpace:
    """A space a run stored (its checkpoint, a database's metadata): as :func:`parse_space`, and
    one written before ``evolution.trainings`` existed keeps what its settings meant then
    (guided's ``offspring: null`` was the population)."""
    evolution = data.get("evolution") if isinstance(data, dict) else None
    if (
        isinstance(evolution, dict)
        and "trainings" not in evolution
        and evolution.get("selection") == "guided"
        and evolution.get("offspring") is None
    ):
        data = {**data, "evolution": {**evolution, "offspring": evolution.get("population")}}
    return parse_space(data, source)


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line for pydantic's first error: ``SOURCE: field.path: message``."""
    first = err.errors()[0]
    path = ".".join(str(p) for p in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{source}: {path}: {message}" if path else f"{source}: {message}"


def parse_space(data: object, source: str = "space") -> SearchSpace:
    if not isinstance(data, dict):
        raise SpaceError(
            f"{source}: expected a mapping at the top level, got {type(data).__name__}"
        )
    try:
        space = SearchSpace.model_validate(data)
    except ValidationError as err:
        raise SpaceError(format_validation_error(err, source)) from None
    _check_feasible(space, source)
    return space


def _check_feasible(space: SearchSpace, source: str) -> None:
    """Fail early when no genome can meet a constraint: the smallest architecture must."""
    limits = space.constraints
    if limits.max_params is None and limits.max_gflops is None:
        return
    smallest = space.smallest_cost()
    if limits.max_params is not None and smallest.params > limits.max_params:
        raise SpaceError(
            f"{source}: constraints.max_params: no genome can meet {limits.max_params:g} "
            f"(the smallest architecture has {smallest.params})"
        )
    if limits.max_gflops is not None and smallest.gflops > limits.max_gflops:
        raise SpaceError(
            f"{source}: constraints.max_gflops: no genome can meet {limits.max_gflops:g} "
            f"(the smallest architecture needs {smallest.gflops:.3f})"
        )


def bundled_space(name: str):
    """A file shipped in the ``search_spaces`` package (a source checkout or an installed wheel)."""
    return resources.files("search_spaces").joinpath(name)


def resolve_space_path(name: str | Path):
    """A path as given, or a bundled space of that name when NAME is not a path to a file."""
    path = Path(name)
    if path.is_file():
        return path
    bundled = bundled_space(path.name)
    if path.name == str(name) and bundled.is_file():
        return bundled
    raise SpaceError(
        f"search space not found: {name} (bundled spaces: {', '.join(bundled_names())})"
    )


def bundled_names() -> list[str]:
    return sorted(
        f.name
        for f in resources.files("search_spaces").iterdir()
        if f.name.endswith((".yaml", ".yml"))
    )


def load_space(name: str | Path) -> SearchSpace:
    """Load and validate a YAML search space (``yaml.safe_load``)."""
    path = resolve_space_path(name)
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise SpaceError(f"{path}: not a text file (expected YAML in UTF-8)") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpaceError(f"{path}: malformed YAML{where}: {getattr(err, 'problem', err)}") from None
    except OSError as err:
        raise SpaceError(f"{path}: cannot read ({err.strerror})") from None
    return parse_space(data, source=str(path))
