"""The device rule, and device plumbing exercised without a GPU.

CI has no GPU, so the plumbing tests put the model on PyTorch's ``meta`` device (shapes, no
data) while the data starts on the CPU. Code that moves every batch to the model's device gets
as far as reading a number back (which meta tensors cannot do); code that forgets a ``.to``
fails earlier with "is not on the expected device" — the bug a GPU run would hit.
"""

import pytest
import torch

from models import ArchSpec, GroupSpec, build_model
from models.spec import GROUP_NAMES
from nas.data import validation_set
from nas.device import DeviceError, Precision, resolve_device
from nas.scoring import evaluate_blocks
from nas.search.fitness import ProxyTraining, candidate_seed
from nas.search.result import Candidate

from .helpers import tiny_space

META_READBACK = ("cannot be called on meta tensors", "Cannot copy out of meta tensor")
SPEC = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))


def test_auto_and_cpu_resolve_here():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_a_missing_gpu_is_a_clear_error(name):
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        resolve_device(name)


@pytest.mark.parametrize("name", ["gpu0", "tpu", "meta"])
def test_unknown_devices_are_refused(name):
    with pytest.raises(DeviceError, match="device"):
        resolve_device(name)


def test_precision_is_float32_on_cpu_whatever_amp_says():
    for amp in ("off", "auto", "bf16", "fp16"):
        precision = Precision.for_device(torch.device("cpu"), amp)
        assert precision.dtype is None and precision.scaler is None


def test_validation_moves_batches_to_the_models_device():
    blocks = validation_set("synthetic", 2, 16)
    model = build_model(SPEC).to("meta")
    with pytest.raises((RuntimeError, NotImplementedError)) as err:
        evaluate_blocks(model, blocks, ensemble=True)
    assert any(text in str(err.value) for text in META_READBACK), err.value


def test_fitness_training_runs_on_its_device():
    candidate = Candidate("k", SPEC, tiny_space().budget, candidate_seed(0, "k"))
    result = ProxyTraining(candidate, threads=1, device=torch.device("meta")).advance(2)
    assert result.status == "failed"
    assert any(text in result.error for text in META_READBACK), result.error


@pytest.mark.parametrize("tile", [None, 16])
def test_denoising_moves_tiles_to_the_models_device(tile):
    import numpy as np

    from nas.inference import denoise_array

    model = build_model(SPEC).to("meta")
    with pytest.raises((RuntimeError, NotImplementedError)) as err:
        denoise_array(
            model,
            np.random.default_rng(0).random((40, 48), dtype=np.float32),
            ensemble=True,
            tile=tile,
        )
    assert any(text in str(err.value) for text in META_READBACK), err.value
