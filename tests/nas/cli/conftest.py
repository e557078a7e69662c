import pytest

from models import ArchSpec, GroupSpec, build_model
from models.spec import GROUP_NAMES
from nas.arch import save_model_file


@pytest.fixture
def model_file(tmp_path):
    """A tiny raw (1-channel) model file."""
    spec = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))
    path = tmp_path / "tiny.pt"
    save_model_file(path, spec, build_model(spec).state_dict())
    return path
