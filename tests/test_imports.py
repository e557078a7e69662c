"""Imports run downhill: the shared vocabulary never imports the toolkit, nor the toolkit the
search, except for the search's clients. Checked on the source with ``ast``, so a lazy import
inside a function counts too.

The rule:
- nothing under ``models/`` imports ``nas``;
- nothing under ``nas/`` imports ``nas.search`` except ``nas/search`` itself and its clients:
  ``nas/analyze``, ``nas/fidelity`` and ``nas/transfer`` (they evaluate and study search
  spaces and their proxies), ``nas/export``
  (``pick``/``max_gflops`` choose a Pareto member by its genome, which only the search space's
  codec decodes) and ``nas/api.py``, the facade at the top that re-exports every command.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEARCH_CLIENTS = (
    "nas/search/",
    "nas/analyze/",
    "nas/fidelity/",
    "nas/transfer/",
    "nas/export/",
    "nas/api.py",
)


def imported_modules(path: Path, root: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved against its package."""
    package = list(path.relative_to(root).parts[:-1])  # a module's, or an __init__.py's own
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def violations(root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted(root.glob("models/**/*.py")):
        for module in sorted(imported_modules(path, root)):
            if module == "nas" or module.startswith("nas."):
                bad.append(f"{path.relative_to(root)} imports {module}")
    for path in sorted(root.glob("nas/**/*.py")):
        name = path.relative_to(root).as_posix()
        if name.startswith(SEARCH_CLIENTS):
            continue
        for module in sorted(imported_modules(path, root)):
            if module == "nas.search" or module.startswith("nas.search."):
                bad.append(f"{name} imports {module}")
    return bad


def test_imports_run_downhill():
    assert violations() == []


def test_the_check_sees_absolute_relative_and_lazy_imports(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "nas" / "data").mkdir(parents=True)
    (tmp_path / "nas" / "evaluate").mkdir()
    (tmp_path / "models" / "a.py").write_text("def f():\n    from nas.data import x\n")
    (tmp_path / "nas" / "arch.py").write_text("from .search.best import read_result\n")
    (tmp_path / "nas" / "data" / "b.py").write_text("from .. import search\n")
    (tmp_path / "nas" / "data" / "c.py").write_text("import nas.search.space\n")
    (tmp_path / "nas" / "data" / "ok.py").write_text("from ..errors import DataError\n")
    (tmp_path / "nas" / "api.py").write_text("from .search.run import search\n")
    (tmp_path / "nas" / "evaluate" / "run.py").write_text("from ..search.best import x\n")
    assert violations(tmp_path) == [
        "models/a.py imports nas.data",
        "models/a.py imports nas.data.x",
        "nas/arch.py imports nas.search.best",
        "nas/arch.py imports nas.search.best.read_result",
        "nas/data/b.py imports nas.search",
        "nas/data/c.py imports nas.search.space",
        "nas/evaluate/run.py imports nas.search.best",
        "nas/evaluate/run.py imports nas.search.best.x",
    ]
