"""The paper's four training steps for the original and the Siamese network.

1. train both networks on the noisy/clean pairs;
2. denoise the unlabeled noisy inputs with both, average the outputs, and add the pairs
   (noisy, average) to the training data;
3. fine-tune both networks on the enlarged data;
4. fine-tune the Siamese network on the unlabeled noisy inputs with both networks' (step-three)
   outputs as targets (L1 to each, averaged).

Then the compute-matched controls: each network fine-tuned from its step-one weights on the
labelled pairs only, with exactly the fine-tuning stages (steps, schedule, seeds) that steps three
and four give it: ``control3_original``, ``control3_siamese`` (as step three) and
``control4_siamese`` (as step four, from ``control3_siamese``). A distilled network minus its
control is the gain of the pseudo-labels, not of the extra training.

The stages, their order, parents, targets and schedules are the table :data:`.stages.STAGES`.
Every stage writes into its own folder and is resumable on its own: a finished stage is skipped,
an interrupted one continues from its ``last.pt``. The final deliverable is the Siamese network
of step four (``step4_siamese/final.pt``).
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from models import ArchSpec, read_state_dict

from ..atomic import atomic_path, atomic_write_text
from ..data import BlockSet, PatchSampler
from ..data.samplers import CropSampler, array_reader
from ..device import resolve_device, to_device
from ..inference import predict
from ..train.trainer import train_network
from .ablation import ablation_table, load_network
from .stages import STAGES, DistillPlan, Graph, Stage, Targets, entry

__all__ = ["DistillPlan", "run_distillation", "fixed_noisy_blocks", "MixedSampler"]

log = logging.getLogger(__name__)


class MixedSampler(PatchSampler):
    """Half of each batch from ``first``, half from ``second`` (the enlarged training data)."""

    def __init__(self, first: PatchSampler, second: PatchSampler) -> None:
        self.first, self.second = first, second
        self.channels = first.channels

    def check_patch(self, patch: int) -> None:
        self.first.check_patch(patch)
        self.second.check_patch(patch)

    def sample(self, batch, patch, g):
        half = max(1, batch // 2)
        a_noisy, a_clean = (
            self.first.sample(batch - half, patch, g) if batch > half else (None, None)
        )
        b_noisy, b_clean = self.second.sample(half, patch, g)
        if a_noisy is None:
            return b_noisy, b_clean
        return torch.cat([a_noisy, b_noisy]), torch.cat([a_clean, b_clean])


def fixed_noisy_blocks(sampler: PatchSampler, count: int, size: int, seed: int) -> np.ndarray:
    """``count`` noisy ``size x size`` inputs drawn once from a training sampler (the default
    unlabeled set: the training inputs)."""
    noisy, _ = sampler.sample(count, size, torch.Generator().manual_seed(seed))
    return (noisy[:, 0] if sampler.channels == 1 else noisy).numpy()


@torch.inference_mode()
def network_outputs(
    weights: Path, spec: ArchSpec, noisy: np.ndarray, device: torch.device, batch: int = 8
) -> np.ndarray:
    """The network's outputs for the unlabeled inputs (N x H x W mosaics or N x 3 x H x W sRGB),
    computed on ``device``, in the inputs' layout."""
    model = load_network(spec, weights, device)
    mosaic = spec.in_channels == 1
    out = []
    for i in range(0, len(noisy), batch):
        x = torch.from_numpy(noisy[i : i + batch])
        y = predict(model, to_device(x[:, None] if mosaic else x, device))
        out.append((y[:, 0] if mosaic else y).float().cpu().numpy())
    return np.concatenate(out)


def fingerprint(unlabeled: np.ndarray, networks: list[Path]) -> str:
    """What pseudo labels depend on: the unlabeled inputs and the weights of the networks."""
    digest = hashlib.sha256(np.ascontiguousarray(unlabeled, dtype=np.float32).tobytes())
    digest.update(repr(unlabeled.shape).encode())
    for path in networks:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def _labels(path: Path, make, key: str) -> dict[str, np.ndarray]:
    """Pseudo labels cached in ``path`` (.npz, written atomically), recomputed when ``key`` (the
    :func:`fingerprint` of their inputs and networks) differs from the cached one."""
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                cached = dict(data)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, AttributeError) as err:
            log.warning(
                "%s: unreadable cache (%s), recomputing", path.name, err
            )  # derived data: rebuild it
            cached = {}
        if str(cached.pop("fingerprint", "")) == key:
            return cached
        if cached:
            log.info("%s: inputs or networks changed, recomputing", path.name)
    arrays = make()
    with atomic_path(path) as tmp:
        np.savez(tmp, fingerprint=np.array(key), **arrays)
    return arrays


def _train_stage(
    stage: Stage, plan: DistillPlan, sampler, val, out_dir: Path, resume: bool, stages: Graph
) -> None:
    folder = out_dir / stage.name
    if stage.weights(out_dir).exists():
        log.info("%s: done, skipped", folder.name)
        return
    spec, config = plan.spec(stage.network), plan.config(stage)
    init = entry(stage.parent, stages).weights(out_dir) if stage.parent else None
    init_state = read_state_dict(init) if init else None
    train_network(
        spec,
        sampler,
        val,
        folder,
        config,
        init_state=init_state,
        resume=resume or (folder / "last.pt").exists(),
    )


def _target_sampler(
    targets: Targets,
    plan: DistillPlan,
    labelled: PatchSampler,
    unlabeled: np.ndarray,
    out_dir: Path,
    device: torch.device,
    stages: Graph,
) -> PatchSampler:
    """The training data of the stages that train on ``targets``: the teachers' outputs on the
    unlabeled inputs (cached), alone or added to the labelled pairs."""
    teachers = [entry(name, stages) for name in targets.teachers]
    weights = [teacher.weights(out_dir) for teacher in teachers]

    def outputs() -> dict[str, np.ndarray]:
        outs = {
            t.network: network_outputs(w, plan.spec(t.network), unlabeled, device)
            for t, w in zip(teachers, weights)
        }
        average = {"average": sum(outs.values()) / len(outs)} if targets.average else {}
        return {"noisy": unlabeled, **average, **outs}

    labels = _labels(targets.path(out_dir), outputs, fingerprint(unlabeled, weights))
    if targets.average:
        pairs = list(zip(labels["noisy"], labels["average"]))
    else:
        stacks = zip(*(labels[t.network] for t in teachers))
        pairs = [(noisy, _stacked(*outs)) for noisy, outs in zip(labels["noisy"], stacks)]
    crops = _crops(pairs, labelled.channels)
    return MixedSampler(labelled, crops) if targets.added_to_labelled else crops


def run_distillation(
    plan: DistillPlan,
    sampler: PatchSampler,
    unlabeled: np.ndarray,
    val: BlockSet,
    out_dir: Path,
    resume: bool = False,
    stages: Graph = STAGES,
) -> pd.DataFrame:
    """Run ``stages`` (the four steps and the controls) in order into ``out_dir`` and return (and
    save) the ablation table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(plan.train.device)
    data: dict[str | None, PatchSampler] = {None: sampler}  # training data, by target set
    for step in stages:
        if isinstance(step, Targets):
            data[step.name] = _target_sampler(
                step, plan, sampler, unlabeled, out_dir, device, stages
            )
        else:
            _train_stage(step, plan, data[step.targets], val, out_dir, resume, stages)
    table = ablation_table(plan, out_dir, val, device, stages)
    table.insert(0, "seed", plan.train.seed)
    atomic_write_text(out_dir / "ablation.csv", table.to_csv(index=False))
    return table


def _stacked(*images: np.ndarray) -> np.ndarray:
    """K images as one array of K x C channels (raw mosaics: K planes)."""
    return np.concatenate([image.reshape(-1, *image.shape[-2:]) for image in images])


def _crops(pairs: list[tuple[np.ndarray, np.ndarray]], channels: int) -> CropSampler:
    """A sampler of (noisy, target) arrays of ``channels``: raw mosaics (H x W, 1) or sRGB
    images (3 x H x W)."""
    readers = [(array_reader(n), array_reader(t), n.shape[-2:]) for n, t in pairs]
    return (
        CropSampler(readers)
        if channels == 1
        else CropSampler(readers, target=None, channels=channels)
    )
