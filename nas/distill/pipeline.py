"""The paper's four training steps for the original and the Siamese network.

1. train both networks on the noisy/clean pairs;
2. denoise the unlabeled noisy inputs with both, average the outputs, and add the pairs
   (noisy, average) to the training data;
3. fine-tune both networks on the enlarged data;
4. fine-tune the Siamese network on the unlabeled noisy inputs with both networks' (step-three)
   outputs as targets (L1 to each, averaged).

Every stage writes into its own folder and is resumable on its own: a finished stage is skipped,
an interrupted one continues from its ``last.pt``. The final deliverable is the Siamese network
of step four (``step4_siamese/final.pt``).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from models import ArchSpec, read_state_dict

from ..arch import build_with_weights
from ..atomic import atomic_path, atomic_write_text
from ..data import BlockSet, PatchSampler
from ..data.sources import BayerCropSampler, array_reader
from ..inference import predict
from ..scoring import evaluate_blocks, summarize
from ..train.trainer import TrainConfig, train_network

__all__ = ["DistillPlan", "run_distillation", "fixed_noisy_blocks", "MixedSampler"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistillPlan:
    original: ArchSpec
    siamese: ArchSpec
    train: TrainConfig              # step one
    finetune: TrainConfig           # steps three and four
    pseudo_labelled_validation: bool = False


class MixedSampler(PatchSampler):
    """Half of each batch from ``first``, half from ``second`` (the enlarged training data)."""

    def __init__(self, first: PatchSampler, second: PatchSampler) -> None:
        self.first, self.second = first, second

    def sample(self, batch, patch, g):
        half = max(1, batch // 2)
        a_noisy, a_clean = self.first.sample(batch - half, patch, g) if batch > half else (None, None)
        b_noisy, b_clean = self.second.sample(half, patch, g)
        if a_noisy is None:
            return b_noisy, b_clean
        return torch.cat([a_noisy, b_noisy]), torch.cat([a_clean, b_clean])


def fixed_noisy_blocks(sampler: PatchSampler, count: int, size: int, seed: int) -> np.ndarray:
    """``count`` noisy ``size x size`` inputs drawn once from a training sampler (the default
    unlabeled set: the training inputs)."""
    noisy, _ = sampler.sample(count, size, torch.Generator().manual_seed(seed))
    return noisy[:, 0].numpy()


@torch.inference_mode()
def _outputs(weights: Path, spec: ArchSpec, noisy: np.ndarray, batch: int = 8) -> np.ndarray:
    model = _load(spec, weights)
    out = [predict(model, torch.from_numpy(noisy[i:i + batch])[:, None])[:, 0].numpy()
           for i in range(0, len(noisy), batch)]
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
        with np.load(path, allow_pickle=False) as data:
            cached = dict(data)
        if str(cached.pop("fingerprint", "")) == key:
            return cached
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
    train_network(spec, sampler, val, folder, config, init_state=init_state, resume=resume or (folder / "last.pt").exists())
    return final


def run_distillation(plan: DistillPlan, sampler: PatchSampler, unlabeled: np.ndarray, val: BlockSet, out_dir: Path,
                     resume: bool = False) -> pd.DataFrame:
    """Run the four steps into ``out_dir`` and return (and save) the ablation table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = {"original": plan.original, "siamese": plan.siamese}
    step1 = {name: _train_stage(out_dir / f"step1_{name}", spec, sampler, val, plan.train, None, resume)
             for name, spec in specs.items()}

    def step2():
        outs = {name: _outputs(step1[name], specs[name], unlabeled) for name in specs}
        return {"noisy": unlabeled, "average": (outs["original"] + outs["siamese"]) / 2, **outs}
    labels = _labels(out_dir / "step2_pseudo_labels.npz", step2, fingerprint(unlabeled, list(step1.values())))
    pseudo = BayerCropSampler([(array_reader(n), array_reader(a), n.shape)
                               for n, a in zip(labels["noisy"], labels["average"])])
    enlarged = MixedSampler(sampler, pseudo)
    step3 = {name: _train_stage(out_dir / f"step3_{name}", spec, enlarged, val,
                                replace(plan.finetune, seed=plan.finetune.seed + 3), step1[name], resume)
             for name, spec in specs.items()}

    def step4_targets():
        return {"noisy": unlabeled, **{name: _outputs(step3[name], specs[name], unlabeled) for name in specs}}
    targets = _labels(out_dir / "step4_targets.npz", step4_targets, fingerprint(unlabeled, list(step3.values())))
    two_targets = BayerCropSampler([(array_reader(n), array_reader(np.stack([o, s])), n.shape)
                                    for n, o, s in zip(targets["noisy"], targets["original"], targets["siamese"])])
    step4 = _train_stage(out_dir / "step4_siamese", plan.siamese, two_targets, val,
                         replace(plan.finetune, seed=plan.finetune.seed + 4), step3["siamese"], resume)
    table = ablation_table(specs, step1, step3, step4, val, plan.pseudo_labelled_validation)
    atomic_write_text(out_dir / "ablation.csv", table.to_csv(index=False))
    return table


class _Average(torch.nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x):
        return (self.a(x) + self.b(x)) / 2


def _load(spec: ArchSpec, path: Path) -> torch.nn.Module:
    return build_with_weights(spec, read_state_dict(path), source=str(path))


def ablation_table(specs, step1, step3, step4, val: BlockSet, pseudo_labelled: bool) -> pd.DataFrame:
    """Validation PSNR after each step, with and without the x8 ensemble (the paper's ablation)."""
    rows = [("step 1", "original", _load(specs["original"], step1["original"])),
            ("step 1", "siamese", _load(specs["siamese"], step1["siamese"]))]
    rows.append(("step 2", "average of both (step 1)", _Average(rows[0][2], rows[1][2])))
    rows += [("step 3", "original", _load(specs["original"], step3["original"])),
             ("step 3", "siamese", _load(specs["siamese"], step3["siamese"])),
             ("step 4", "siamese (deliverable)", _load(specs["siamese"], step4))]
    table = []
    for step, network, model in rows:
        plain = summarize(evaluate_blocks(model, val, with_ssim=False))["psnr"]
        ensemble = summarize(evaluate_blocks(model, val, ensemble=True, with_ssim=False))["psnr"]
        table.append({"step": step, "network": network, "psnr": plain, "psnr_x8": ensemble,
                      "validation_pseudo_labelled": pseudo_labelled})
    return pd.DataFrame(table)
