#!/usr/bin/env bash
# Every GPU figure of the toolkit in one run, for a machine with a CUDA GPU:
#   1. cuda_tests: tests/nas/test_cuda.py (the OOM test and the CUDA-graph path included) and the
#      device-plumbing, training-loop and device-batch tests;
#   2. bench_step: bench/bench_gpu.py's forward vs matmul, tiled memory, and one proxy's step time
#      eager / no-sync / device batches / CUDA graphs (fp32 and bf16) with the batch time;
#   3. bench_memory: the peak memory of each candidate's proxy;
#   4. bench_trials: one generation of CANDIDATES at the GPU budget per arm: 1, 0.25 and 0.5 GPU
#      per trial and the loop as it was (eager, 1 GPU), and Kendall's tau of each against 1 GPU;
#   5. bench_mps (only with MPS=1): the 0.25 and 1 GPU arms again under an MPS daemon this script
#      starts and stops (it needs nvidia-cuda-mps-control and the rights to run it);
#   6. cli_cuda: distill (all four steps, bf16), evaluate (x8 ensemble) and denoise on CUDA.
#
#   bash bench/gpu_session.sh OUTDIR [CANDIDATES] [STEPS]      # defaults: 16 candidates, 100 steps
#   TINY=1 bash bench/gpu_session.sh OUTDIR                      # a dry run at tiny sizes (any machine)
#
# Each stage has its own time limit and log (OUTDIR/STAGE.log), so one failure hides no other, and
# bench_gpu.py writes one CSV per figure into OUTDIR row by row, so a stage cut short keeps the
# figures it measured. The limits add up to under 10 minutes (bench/README.md, "Running the GPU
# script"). Without CUDA, the CUDA tests skip, the CUDA-only parts print that they were skipped and
# the generations run on the CPU; the CLI stage is skipped.
set -u
out=${1:?usage: gpu_session.sh OUTDIR [CANDIDATES] [STEPS]}
candidates=${2:-16}
steps=${3:-100}
timed=100
tiny=()
if [ "${TINY:-0}" = 1 ]; then
    candidates=${2:-3}
    steps=${3:-8}
    timed=4
    tiny=(--tiny)
fi
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
bench=("$py" bench/bench_gpu.py --out "$out" --candidates "$candidates" --steps "$steps"
    --timed-steps "$timed" "${tiny[@]}")

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

mps_trials() {
    # The daemon serves the processes that share its pipe directory: Ray's workers inherit it.
    local dir
    dir=$(mktemp -d)
    export CUDA_MPS_PIPE_DIRECTORY=$dir/pipe CUDA_MPS_LOG_DIRECTORY=$dir/log
    mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
    nvidia-cuda-mps-control -d || { echo "MPS: the daemon did not start"; return 1; }
    "${bench[@]}" --parts trials --arms 1,0.25 --label mps
    local rc=$?
    echo quit | nvidia-cuda-mps-control
    return $rc
}

has_cuda=$($py -c "import torch; print(int(torch.cuda.is_available()))")
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
else
    echo "no nvidia-smi: no GPU here" | tee "$out/gpu.txt"
fi
$py -c "import torch, ray, deap, pydantic; print('torch', torch.__version__, 'ray', ray.__version__)" | tee -a "$out/gpu.txt"
stage cuda_tests 100 $py -m pytest -q -p no:cacheprovider tests/nas/test_cuda.py tests/nas/test_device.py \
    tests/nas/train/test_loop.py tests/nas/data/test_device_batches.py
stage bench_step 80 "${bench[@]}" --parts forward,tiled,step
stage bench_memory 40 "${bench[@]}" --parts memory
stage bench_trials 300 "${bench[@]}" --parts trials --arms 1,0.25,0.5,eager
if [ "${MPS:-0}" = 1 ] && [ "$has_cuda" = 1 ] && command -v nvidia-cuda-mps-control > /dev/null; then
    export -f mps_trials
    export out py candidates steps
    stage bench_mps 200 bash -c "$(declare -p bench); mps_trials"
else
    echo "== bench_mps skipped (MPS=1 and nvidia-cuda-mps-control on a CUDA machine run it)"
fi
if [ "$has_cuda" = 1 ]; then
    export -f cli_on_cuda
    export py
    stage cli_cuda 60 bash -c cli_on_cuda
else
    echo "== cli_cuda skipped (no CUDA)"
fi
echo "== figures: $(ls "$out"/*.csv 2> /dev/null | xargs -n1 basename | tr '\n' ' ')"
