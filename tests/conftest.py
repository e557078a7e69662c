import os

import pytest
import torch

# Tests run on 2 cores next to Ray workers: keep PyTorch from spawning more threads than that.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray (with its dashboard and token authentication, as the search starts it)
    shared by every in-process test that needs one: starting Ray is the slow part of them."""
    import ray

    from nas.search.evaluators import start_ray

    start_ray()
    yield
    ray.shutdown()
