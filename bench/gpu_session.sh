#!/usr/bin/env bash
# Every GPU check of the toolkit in one run, for a machine with a CUDA GPU:
#   1. the CUDA tests (tests/nas/test_cuda.py) and the device-plumbing tests;
#   2. bench/bench_gpu.py (forward vs matmul, tiled memory, precision/layout, trials per GPU);
#   3. distill (all four steps, bf16), evaluate (x8 ensemble) and denoise (tiles, x8) on CUDA.
#
#   bash bench/gpu_session.sh OUTDIR [CANDIDATES] [STEPS]
#
# Each stage has its own time limit and log (OUTDIR/STAGE.log), so one failure hides no other.
# CANDIDATES and STEPS size bench_gpu's generations; the defaults fit a 15-minute lease with a
# machine start (bench/README.md, "Running the GPU script", has the stage timings).
set -u
out=${1:?usage: gpu_session.sh OUTDIR [CANDIDATES] [STEPS]}
candidates=${2:-8}
steps=${3:-100}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

stage() {
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s)"
    timeout "$limit" "$@" > "$out/$name.log" 2>&1
    local rc=$?
    tail -n 40 "$out/$name.log"
    echo "== $name rc=$rc"
}

cli_on_cuda() {
    local tmp
    tmp=$(mktemp -d)
    set -e
    $py -m nas.distill --siamese search_spaces/mwrcanet_paper.json --width-multiplier 0.125 --steps 40 \
        --batch-size 4 --patch-size 64 --val-every 20 --val-blocks 4 --device cuda --amp bf16 --out "$tmp/distill"
    cat "$tmp/distill/ablation.csv"
    $py -m nas.evaluate --arch "$tmp/distill/step4_siamese/final.pt" --ensemble --blocks 8 --device cuda
    $py -c "import numpy as np; np.save('$tmp/noisy.npy', np.random.default_rng(0).random((1500, 2000), dtype=np.float32) * 0.5)"
    $py -m nas.denoise "$tmp/noisy.npy" "$tmp/out.npy" --arch "$tmp/distill/step4_siamese/final.pt" \
        --tile 256 --ensemble --device cuda
    $py -c "import numpy as np; a = np.load('$tmp/out.npy'); print('denoised', a.shape, a.dtype, float(a.mean()))"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
$py -c "import torch, ray, deap, pydantic; print('torch', torch.__version__, 'ray', ray.__version__)" | tee -a "$out/gpu.txt"
stage cuda_tests 150 $py -m pytest -q -p no:cacheprovider tests/nas/test_cuda.py tests/nas/test_device.py
stage bench_gpu 360 $py bench/bench_gpu.py --candidates "$candidates" --steps "$steps"
export -f cli_on_cuda
export py
stage cli_cuda 90 bash -c cli_on_cuda
