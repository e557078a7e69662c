"""The built wheel, installed in a fresh virtual environment, works outside the source checkout."""

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(*cmd, cwd):
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def test_wheel_ships_the_bundled_spaces_and_runs_a_search_check(tmp_path):
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        tmp_path / "dist",
        REPO,
        cwd=tmp_path,
    )
    wheel = next((tmp_path / "dist").glob("mwnas-*.whl"))
    # The dependencies come from this interpreter's site-packages; the toolkit only from the wheel.
    venv.create(tmp_path / "env", system_site_packages=True, with_pip=True)
    python = tmp_path / "env" / "bin" / "python"
    _see_this_interpreters_packages(python)
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(
        python,
        "-c",
        "import nas, search_spaces; print(nas.__file__); print(search_spaces.__file__)",
        cwd=elsewhere,
    )
    assert str(REPO) not in where and str(tmp_path / "env") in where, where
    out = run(python, "-m", "nas.search", "--space", "rcab_dense.yaml", "--check", cwd=elsewhere)
    assert "space and data: OK" in out
    out = run(python, "-m", "nas.export", "--help", cwd=elsewhere)
    assert "best.json" in out


def _see_this_interpreters_packages(python: Path) -> None:
    """Inside a virtual environment, ``system_site_packages`` shows the base interpreter's
    packages, not this one's: list this interpreter's site-packages in a .pth file of the new
    environment. A .pth line only appends the folder, so the editable install's own hooks there
    do not run and the toolkit still comes from the wheel."""
    purelib = sysconfig.get_paths()["purelib"]
    target = run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=REPO
    )
    (Path(target.strip()) / "parent_site_packages.pth").write_text(purelib + "\n")
