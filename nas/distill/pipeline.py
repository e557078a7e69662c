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

Every stage writes into its own folder and is resumable on its own: a finished stage is skipped,
an interrupted one continues from its ``last.pt``. The final deliverable is the Siamese network
of step four (``step4_siamese/final.pt``).
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from dataclasses import dataclass, replace
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
from ..train.trainer import TrainConfig, train_network
from .ablation import ablation_table, load_network

__all__ = ["DistillPlan", "run_distillation", "fixed_noisy_blocks", "MixedSampler", "stage_config"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistillPlan:
    original: ArchSpec
    siamese: ArchSpec
    train: TrainConfig  # step one
    finetune: TrainConfig  # steps three and four
    pseudo_labelled_validation: bool = False

    def with_seed(self, seed: int) -> "DistillPlan":
        """The same plan with every stage seeded from ``seed``."""
        return replace(
            self, train=self.train.replace(seed=seed), finetune=self.finetune.replace(seed=seed)
        )


def stage_config(plan: DistillPlan, step: int) -> TrainConfig:
    """The fine-tuning config of step ``step`` (3 or 4); its compute-matched control uses the same."""
    return plan.finetune.replace(seed=plan.finetune.seed + step)


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
    mosaic = noisy.ndim == 3
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


def _train_stage(folder: Path, spec, sampler, val, config, init: Path | None, resume: bool) -> Path:
    final = folder / "final.pt"
    if final.exists():
        log.info("%s: done, skipped", folder.name)
        return final
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
    return final


def run_distillation(
    plan: DistillPlan,
    sampler: PatchSampler,
    unlabeled: np.ndarray,
    val: BlockSet,
    out_dir: Path,
    resume: bool = False,
) -> pd.DataFrame:
    """Run the four steps and the controls into ``out_dir`` and return (and save) the ablation table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = {"original": plan.original, "siamese": plan.siamese}
    device = resolve_device(plan.train.device)
    stages = {
        f"step1_{name}": _train_stage(
            out_dir / f"step1_{name}", spec, sampler, val, plan.train, None, resume
        )
        for name, spec in specs.items()
    }

    def step2():
        outs = {
            name: network_outputs(stages[f"step1_{name}"], specs[name], unlabeled, device)
            for name in specs
        }
        return {"noisy": unlabeled, "average": (outs["original"] + outs["siamese"]) / 2, **outs}

    labels = _labels(
        out_dir / "step2_pseudo_labels.npz",
        step2,
        fingerprint(unlabeled, [stages["step1_original"], stages["step1_siamese"]]),
    )
    pseudo = _crops([(n, a) for n, a in zip(labels["noisy"], labels["average"])])
    enlarged = MixedSampler(sampler, pseudo)
    for name, spec in specs.items():
        stages[f"step3_{name}"] = _train_stage(
            out_dir / f"step3_{name}",
            spec,
            enlarged,
            val,
            stage_config(plan, 3),
            stages[f"step1_{name}"],
            resume,
        )

    def step4_targets():
        outs = {
            name: network_outputs(stages[f"step3_{name}"], specs[name], unlabeled, device)
            for name in specs
        }
        return {"noisy": unlabeled, **outs}

    targets = _labels(
        out_dir / "step4_targets.npz",
        step4_targets,
        fingerprint(unlabeled, [stages["step3_original"], stages["step3_siamese"]]),
    )
    two_targets = _crops(
        [
            (n, _stacked(o, s))
            for n, o, s in zip(targets["noisy"], targets["original"], targets["siamese"])
        ]
    )
    stages["step4_siamese"] = _train_stage(
        out_dir / "step4_siamese",
        plan.siamese,
        two_targets,
        val,
        stage_config(plan, 4),
        stages["step3_siamese"],
        resume,
    )
    stages.update(_controls(plan, specs, stages, sampler, val, out_dir, resume))
    table = ablation_table(specs, stages, val, plan.pseudo_labelled_validation, device)
    table.insert(0, "seed", plan.train.seed)
    atomic_write_text(out_dir / "ablation.csv", table.to_csv(index=False))
    return table


def _stacked(*images: np.ndarray) -> np.ndarray:
    """K images as one array of K x C channels (raw mosaics: K planes)."""
    return np.concatenate([image.reshape(-1, *image.shape[-2:]) for image in images])


def _crops(pairs: list[tuple[np.ndarray, np.ndarray]]) -> CropSampler:
    """A sampler of (noisy, target) arrays: raw mosaics (H x W) or sRGB images (3 x H x W)."""
    readers = [(array_reader(n), array_reader(t), n.shape[-2:]) for n, t in pairs]
    mosaic = pairs[0][0].ndim == 2
    return (
        CropSampler(readers)
        if mosaic
        else CropSampler(readers, target=None, channels=pairs[0][0].shape[0])
    )


def _controls(plan, specs, stages, sampler, val, out_dir, resume) -> dict[str, Path]:
    """The compute-matched controls: from step-1 weights, the fine-tuning stages of step 3 (both
    networks) and step 4 (the Siamese one) with their configs, on the labelled pairs only."""
    controls = {
        f"control3_{name}": _train_stage(
            out_dir / f"control3_{name}",
            spec,
            sampler,
            val,
            stage_config(plan, 3),
            stages[f"step1_{name}"],
            resume,
        )
        for name, spec in specs.items()
    }
    controls["control4_siamese"] = _train_stage(
        out_dir / "control4_siamese",
        plan.siamese,
        sampler,
        val,
        stage_config(plan, 4),
        controls["control3_siamese"],
        resume,
    )
    return controls
