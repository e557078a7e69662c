"""Denoise a 4000 x 3000 camera DNG with tiles: wall time and peak memory of the command.

    python bench/bench_denoise_raw.py [--size 3000 4000] [--tile 512] [--arch A --weights W]
        [--ensemble] [--preview] [--threads N] [--photo astronaut] [--noise SHOT READ]
        [--keep DIR]

Makes a 12-bit BGGR DNG (a bundled photo, unprocessed to raw, with shot and read noise, written
by nas.data.camera_raw), then runs ``python -m nas.denoise IN.dng OUT.dng`` in a child process
and reports its wall time (imports included), the time the command itself reports for denoising,
writing and the preview, and its peak resident memory (ru_maxrss of that child alone, from wait4:
CPU RSS; there is no GPU figure). The DNG is made in another child and this process imports
neither numpy nor torch, so the figure is the command's own (a forked child starts with its
parent's RSS). The default network is the 1/8-width proxy of mwrcanet_paper with random weights
(the time does not depend on the weights); pass --arch/--weights for another.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_dng(
    path: Path,
    height: int,
    width: int,
    photo_name: str = "astronaut",
    shot: float = 0.004,
    read: float = 2e-5,
) -> None:
    import numpy as np
    import skimage.data
    import torch
    import skimage.transform
    from nas.data.camera_raw import RawImage, RawMetadata, write_dng
    from nas.data.unprocess import add_noise, mosaic, unprocess

    g = torch.Generator().manual_seed(0)
    photo = getattr(skimage.data, photo_name)()[..., :3] / 255.0
    photo = skimage.transform.resize(photo, (height + 2, width + 2), order=1, anti_aliasing=True)
    rgb = torch.from_numpy(photo.astype(np.float32)).permute(2, 0, 1)[None]
    clean = mosaic(unprocess(rgb, g))  # RGGB, 0..1
    noisy = add_noise(clean, torch.tensor([shot]), torch.tensor([read]), g)[0, 0].numpy()
    noisy = noisy[1:-1, 1:-1]  # height x width, BGGR: exercises the unification path
    image = RawImage(
        noisy,
        "BGGR",
        (256.0,) * 4,
        4095.0,
        RawMetadata(
            make="mwnas",
            model="bench",
            as_shot_neutral=(0.47, 1.0, 0.59),  # Brooks et al.'s
            noise_profile=(shot, read),
        ),
    )  # mean gains
    write_dng(path, image.mosaic, image)


def proxy_model(folder: Path) -> Path:
    path = folder / "mwrcanet_paper_w0125.json"
    code = (
        "import json, sys; from models import named_spec; "
        "print(json.dumps({'spec': named_spec('mwrcanet_paper').scaled(0.125).to_dict()}))"
    )
    path.write_text(
        subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
    )
    return path


def run_measured(cmd: list[str]) -> tuple[int, str, str, float, float]:
    """(exit status, stdout, stderr, wall seconds, peak RSS in GB) of one child process."""
    began = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), wall, usage.ru_maxrss / 1024**2


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--size", type=int, nargs=2, default=(3000, 4000), metavar=("HEIGHT", "WIDTH"))
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--arch", help="default: the 1/8-width mwrcanet_paper proxy, random weights")
    p.add_argument("--weights")
    p.add_argument("--ensemble", action="store_true")
    p.add_argument("--preview", action="store_true", help="also write the side-by-side PNG")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="1 by default: on a shared 2-core machine, 2 threads contend and are much slower",
    )
    p.add_argument(
        "--photo",
        default="astronaut",
        help="scikit-image photo to unprocess (e.g. chelsea, held out)",
    )
    p.add_argument("--noise", type=float, nargs=2, default=(0.004, 2e-5), metavar=("SHOT", "READ"))
    p.add_argument("--keep", help="copy in.dng, out.dng (and preview.png) to this folder")
    p.add_argument(
        "--make-dng-only", help=argparse.SUPPRESS
    )  # internal: the child that makes the DNG
    args = p.parse_args()
    if args.make_dng_only:
        return make_dng(Path(args.make_dng_only), *args.size, args.photo, *args.noise)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--make-dng-only",
                str(folder / "in.dng"),
                "--size",
                *map(str, args.size),
                "--photo",
                args.photo,
                "--noise",
                *map(str, args.noise),
            ],
            check=True,
        )
        print(
            f"made a {args.size[0]} x {args.size[1]} BGGR DNG "
            f"({(folder / 'in.dng').stat().st_size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - began:.1f} s"
        )
        arch = args.arch or str(proxy_model(folder))
        cmd = [
            sys.executable,
            "-m",
            "nas.denoise",
            str(folder / "in.dng"),
            str(folder / "out.dng"),
            "--arch",
            arch,
            "--tile",
            str(args.tile),
            "--threads",
            str(args.threads),
        ]
        cmd += ["--weights", args.weights] if args.weights else []
        cmd += ["--ensemble"] if args.ensemble else []
        cmd += ["--preview", str(folder / "preview.png")] if args.preview else []
        code, stdout, stderr, wall, peak_gb = run_measured(cmd)
        if code:
            sys.exit(stderr[-2000:])
        reported = re.search(r"in ([0-9.]+) s", stdout)
        if args.keep:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
            for name in ("in.dng", "out.dng", "preview.png"):
                if (folder / name).exists():
                    shutil.copy(folder / name, Path(args.keep) / name)
    print(
        f"command: python -m nas.denoise IN.dng OUT.dng --arch {Path(arch).name} "
        f"--tile {args.tile} "
        f"--threads {args.threads}{' --ensemble' if args.ensemble else ''}"
        f"{' --preview P.png' if args.preview else ''}"
    )
    print(stdout.strip().splitlines()[-1])
    print(
        "wall time "
        f"{wall:.1f} s (denoise, write, preview as reported: "
        f"{reported.group(1) if reported else '?'} s), "
        f"peak RSS {peak_gb:.2f} GB"
    )


if __name__ == "__main__":
    main()
