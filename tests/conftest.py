import os

import pytest
import torch

# Tests run on 2 cores next to Ray workers: keep PyTorch from spawning more threads than that.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
