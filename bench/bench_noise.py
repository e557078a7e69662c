"""Robustness to unseen noise: small networks trained on today's synthetic noise and on the wider
mix, against classical denoisers at their best setting, on held-out photos under several noise
models. One table of PSNR and SSIM per (track, noise model, method).

    python bench/bench_noise.py --tracks srgb raw --steps 400 --crop 128 --crops-per-photo 1

Per track, two networks of one small spec (``--widths``, ``--rcabs`` RCABs per group slot) are
trained in-process with the same seed: one on the track's named source of today (``synthetic``,
``synthetic-srgb``), one on its mix (``synthetic-mix``, ``synthetic-srgb-mix``). Each is also
scored on today's validation blocks (the in-domain figure). The held-out photos are never
trained on: scikit-image's validation photos and matplotlib's sample photo. The classical
references are tuned per noise model on the held-out images themselves (the grid value with the
best mean PSNR; the noise's true standard deviation is given to them), which favours them.
Rows reach bench/results/noise_robustness.csv (``--out``) and stdout.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from models import ArchSpec, GroupSpec
from nas.arch import load_denoiser
from nas.data import training_sampler, validation_set
from nas.data.noise_models import (
    BrooksRawNoise,
    IspNoise,
    Jpeg,
    LinearNoise,
    PerPlaneNoise,
    PoissonGaussianNoise,
    Processed,
    ProfileNoise,
    Sharpen,
    SrgbNoise,
    gaussian_noise,
    raw_pairs,
)
from nas.data.synthetic import VAL_PHOTOS, photo
from nas.metrics import psnr_db, ssim
from nas.train.trainer import TrainConfig, train_network

SEED = 20240601
BLUR_SIGMAS = (0.5, 0.7, 1.0, 1.4, 2.0)
NLM_FACTORS = (0.4, 0.6, 0.8, 1.0, 1.2)  # h as a multiple of the noise's true std
BM3D_FACTORS = (0.75, 1.0, 1.5)  # sigma_psd as a multiple of the noise's true std

# A camera off the training distribution: read noise several times the Brooks et al. line's at
# its shot level, and different per colour plane (R, G, B pairs, as a DNG NoiseProfile).
OTHER_CAMERA = (2.4e-3, 2.5e-5, 2.0e-3, 2.0e-5, 2.8e-3, 3.0e-5)


def _fixed(level: float, share: float = 0.8) -> dict:
    return {"levels": (level, level), "shot_share": (share, share)}


SRGB_NOISE = {
    "isp (synthetic-srgb)": IspNoise(),
    "linear light, 15": LinearNoise(**_fixed(15)),
    "sRGB signal-dep., 15": SrgbNoise(**_fixed(15)),
    "linear 10 + JPEG 75": Processed(LinearNoise(**_fixed(10)), jpeg=Jpeg((75, 75))),
    "phone: linear 20 + sharpen + JPEG 85": Processed(
        LinearNoise(**_fixed(20)), Sharpen((0.4, 0.4)), Jpeg((85, 85))
    ),
    "Gaussian 15": gaussian_noise(15),
    "Gaussian 25": gaussian_noise(25),
}
RAW_NOISE = {
    "Brooks et al. (synthetic)": BrooksRawNoise(),
    "CBDNet Poisson-Gaussian": PoissonGaussianNoise(),
    "per-plane random profile": PerPlaneNoise(),
    "other camera's profile": ProfileNoise(OTHER_CAMERA),
}
SOURCES = {"srgb": ("synthetic-srgb", "synthetic-srgb-mix"), "raw": ("synthetic", "synthetic-mix")}


def held_out_photos(crop: int, per_photo: int) -> list[torch.Tensor]:
    """``per_photo`` fixed crops (along each photo's diagonal) of the photos never trained on."""
    import matplotlib.cbook
    from PIL import Image

    hopper = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")))
    images = [photo(name) for name in VAL_PHOTOS]
    images.append(torch.from_numpy(hopper[..., :3].copy()).permute(2, 0, 1).float() / 255)
    crops = []
    for image in images:
        h, w = image.shape[-2:]
        for t in np.linspace(0.2, 0.8, per_photo) if per_photo > 1 else [0.5]:
            y, x = int((h - crop) * t) // 2 * 2, int((w - crop) * t) // 2 * 2
            crops.append(image[:, y : y + crop, x : x + crop])
    return crops


def noisy_pairs(crops: list[torch.Tensor], noise, srgb: bool, seed: int) -> list[tuple]:
    """(noisy, clean) float64 arrays, C x H x W (sRGB) or H x W (raw), one per crop."""
    g = torch.Generator().manual_seed(seed)
    pairs = []
    for crop in crops:
        noisy, clean = noise(crop[None], g) if srgb else raw_pairs(crop[None], g, noise)
        noisy, clean = noisy[0].double().numpy(), clean[0].double().numpy()
        pairs.append((noisy, clean) if srgb else (noisy[0], clean[0]))
    return pairs


# Classical references. Raw mosaics are split into their four CFA planes and denoised per plane.
def pack(mosaic: np.ndarray) -> np.ndarray:
    return np.stack(
        [mosaic[0::2, 0::2], mosaic[0::2, 1::2], mosaic[1::2, 0::2], mosaic[1::2, 1::2]]
    )


def unpack(planes: np.ndarray) -> np.ndarray:
    out = np.empty((planes.shape[1] * 2, planes.shape[2] * 2))
    out[0::2, 0::2], out[0::2, 1::2], out[1::2, 0::2], out[1::2, 1::2] = planes
    return out


def _planes(noisy: np.ndarray, srgb: bool) -> np.ndarray:
    return noisy if srgb else pack(noisy)


def _image(planes: np.ndarray, srgb: bool) -> np.ndarray:
    return planes if srgb else unpack(planes)


def gaussian_blur(noisy: np.ndarray, sigma: float, srgb: bool) -> np.ndarray:
    """Each channel (sRGB) or CFA plane (raw) blurred by a Gaussian of ``sigma`` pixels of it."""
    from scipy.ndimage import gaussian_filter

    planes = _planes(noisy, srgb)
    return _image(np.stack([gaussian_filter(p, sigma, mode="reflect") for p in planes]), srgb)


def nl_means(noisy: np.ndarray, h: float, sigma: float, srgb: bool) -> np.ndarray:
    """scikit-image's non-local means (fast mode, 5 x 5 patches, 13 x 13 search) on all channels
    (or CFA planes) jointly, told the noise's std ``sigma``."""
    from skimage.restoration import denoise_nl_means

    planes = _planes(noisy, srgb)
    out = denoise_nl_means(
        planes, h=h, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True, channel_axis=0
    )
    return _image(out, srgb)


def bm3d_denoise(noisy: np.ndarray, sigma: float, srgb: bool) -> np.ndarray:
    """BM3D (the ``bm3d`` package): its colour version on sRGB, the grey one per CFA plane."""
    import bm3d

    if srgb:
        return bm3d.bm3d_rgb(noisy.transpose(1, 2, 0), sigma).transpose(2, 0, 1)
    return unpack(np.stack([bm3d.bm3d(p, sigma) for p in pack(noisy)]))


def true_sigma(noisy: np.ndarray, clean: np.ndarray) -> float:
    return float(np.sqrt(np.mean((noisy - clean) ** 2)))


def classical_methods(bm3d_factors) -> dict:
    """name -> (settings, denoise(noisy, clean, setting, srgb))."""
    methods = {
        "Gaussian blur": (BLUR_SIGMAS, lambda n, c, s, srgb: gaussian_blur(n, s, srgb)),
        "NL-means": (
            NLM_FACTORS,
            lambda n, c, k, srgb: nl_means(n, k * true_sigma(n, c), true_sigma(n, c), srgb),
        ),
    }
    if bm3d_factors:
        methods["BM3D"] = (
            tuple(bm3d_factors),
            lambda n, c, k, srgb: bm3d_denoise(n, k * true_sigma(n, c), srgb),
        )
    return methods


def score(outputs: list[np.ndarray], pairs: list[tuple], srgb: bool) -> tuple[float, float]:
    """Mean PSNR and SSIM of clipped outputs (the sRGB protocol for sRGB)."""
    psnrs = [psnr_db(np.clip(o, 0, 1), c, srgb=srgb) for o, (_, c) in zip(outputs, pairs)]
    ssims = [ssim(np.clip(o, 0, 1), c, srgb=srgb) for o, (_, c) in zip(outputs, pairs)]
    return float(np.mean(psnrs)), float(np.mean(ssims))


def best_setting(denoise, settings, pairs, srgb: bool) -> tuple[float, float, float]:
    """(setting, PSNR, SSIM) of the setting with the best mean PSNR."""
    best = None
    for setting in settings:
        outputs = [denoise(n, c, setting, srgb) for n, c in pairs]
        psnr, ssim_ = score(outputs, pairs, srgb)
        if best is None or psnr > best[1]:
            best = (setting, psnr, ssim_)
    return best


def small_spec(srgb: bool, width: int, rcabs: int) -> ArchSpec:
    groups = tuple(GroupSpec("rcab", rcabs) for _ in range(5))
    return ArchSpec((width, width, width), groups, in_channels=3 if srgb else 1)


def train(spec: ArchSpec, source: str, in_domain: str, args) -> tuple[torch.nn.Module, float]:
    """(trained network, its PSNR on ``in_domain``'s validation blocks)."""
    config = TrainConfig(
        steps=args.steps, batch_size=args.batch, patch_size=args.patch, lr=args.lr,
        val_every=args.steps, seed=args.seed,
    )  # fmt: skip
    blocks = validation_set(in_domain, args.val_blocks, 64, channels=spec.in_channels)
    with tempfile.TemporaryDirectory() as tmp:
        summary = train_network(
            spec, training_sampler(source), blocks, Path(tmp), config, progress=False
        )
        return load_denoiser(str(summary.final))[0], summary.best_psnr


@torch.inference_mode()
def network_outputs(model, pairs, srgb: bool) -> list[np.ndarray]:
    outputs = []
    for noisy, _ in pairs:
        x = torch.from_numpy(noisy).float()[None]
        y = model(x if srgb else x[None])[0]
        outputs.append(y.double().numpy() if srgb else y[0].double().numpy())
    return outputs


def run_track(track: str, args) -> list[dict]:
    srgb = track == "srgb"
    today, mix = SOURCES[track]
    spec = small_spec(srgb, args.width, args.rcabs)
    rows, networks = [], {}
    for source in (today, mix):
        began = time.perf_counter()
        networks[source], in_domain = train(spec, source, today, args)
        rows.append({"track": track, "noise": f"in-domain: {today} validation", "method":
                     f"network on {source}", "setting": f"{args.steps} steps",
                     "psnr": in_domain, "ssim": float("nan"),
                     "seconds": time.perf_counter() - began})  # fmt: skip
        log.info("%s: trained on %s, in-domain %.3f dB", track, source, in_domain)
    crops = held_out_photos(args.crop, args.crops_per_photo)
    for k, (name, noise) in enumerate((SRGB_NOISE if srgb else RAW_NOISE).items()):
        pairs = noisy_pairs(crops, noise, srgb, args.seed + 1000 * k)
        base = {"track": track, "noise": name}
        psnr, ssim_ = score([n for n, _ in pairs], pairs, srgb)
        rows.append({**base, "method": "noisy input", "setting": "", "psnr": psnr, "ssim": ssim_})
        for source, model in networks.items():
            began = time.perf_counter()
            psnr, ssim_ = score(network_outputs(model, pairs, srgb), pairs, srgb)
            seconds = time.perf_counter() - began
            rows.append({**base, "method": f"network on {source}", "setting": "",
                         "psnr": psnr, "ssim": ssim_, "seconds": seconds})  # fmt: skip
        for method, (settings, denoise) in classical_methods(args.bm3d_factors).items():
            began = time.perf_counter()
            setting, psnr, ssim_ = best_setting(denoise, settings, pairs, srgb)
            rows.append({**base, "method": method, "setting": f"{setting:g}", "psnr": psnr,
                         "ssim": ssim_, "seconds": time.perf_counter() - began})  # fmt: skip
        log.info("%s / %s done", track, name)
    return rows


def verdict(table: pd.DataFrame) -> list[str]:
    """The goals, read off the table."""
    lines = []
    for track, (today, mix) in SOURCES.items():
        part = table[table.track == track]
        if part.empty:
            continue
        held = part[~part.noise.str.startswith("in-domain")]
        for source in (today, mix):
            ours = held[held.method == f"network on {source}"].set_index("noise").psnr
            classical = held[held.method.isin(["Gaussian blur", "NL-means", "BM3D"])]
            best = classical.groupby("noise").psnr.max()
            wins = int((ours > best.reindex(ours.index)).sum())
            lines.append(f"{track}: network on {source} beats every classical reference on "
                         f"{wins} of {len(ours)} noise models")  # fmt: skip
        domain = part[part.noise.str.startswith("in-domain")].set_index("method").psnr
        drop = domain[f"network on {today}"] - domain[f"network on {mix}"]
        lines.append(f"{track}: in-domain drop of the mix against {today}: {drop:+.3f} dB")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", nargs="+", choices=("srgb", "raw"), default=["srgb", "raw"])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--rcabs", type=int, default=2, help="RCABs per group slot (5 slots)")
    parser.add_argument("--val-blocks", type=int, default=16)
    parser.add_argument("--crop", type=int, default=128, help="held-out crop side (even)")
    parser.add_argument("--crops-per-photo", type=int, default=1, help="of 3 held-out photos")
    parser.add_argument("--bm3d-factors", type=float, nargs="*", default=list(BM3D_FACTORS),
                        help="BM3D's sigma grid (times the true std); none: skip BM3D")  # fmt: skip
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/noise_robustness.csv"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    rows = []
    for track in args.tracks:
        rows += run_track(track, args)
        table = pd.DataFrame(rows)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False, float_format="%.4f")
    with pd.option_context("display.width", 200, "display.max_colwidth", 40):
        print(table.drop(columns="seconds").to_string(index=False, float_format="%.3f"))
    print("\n".join(verdict(table)))


log = logging.getLogger("bench_noise")

if __name__ == "__main__":
    main()
