"""Every notebook runs top to bottom on a fresh checkout, is stored without outputs, shows its charts inline
(the executed outputs hold the images), and imports only what the `notebooks` extra installs."""
import ast
import re
import sys
from importlib import metadata
from importlib.metadata import packages_distributions
from pathlib import Path

import nbformat
import pytest
import tomllib

from tools.import_graph import PACKAGES, imported_modules
from tools.notebook_images import executed, images

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# The notebooks that draw charts, and how many each shows (a chart per plotting cell).
CHARTS = {"a_design_review.ipynb": 1, "b_scaling.ipynb": 2, "c_layout_explorer.ipynb": 1, "e_failures_goodput.ipynb": 1, "f_serving.ipynb": 2}


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4 and set(CHARTS) <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_shows_its_charts_and_is_stored_clean(path):
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "strip outputs before committing"
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "matplotlib.use(" not in code, "a non-interactive backend draws nothing inline"
    pictures = images(executed(path))
    assert len(pictures) == CHARTS.get(path.name, 0), path.name
    assert all(png.startswith(b"\x89PNG") and len(png) > 5_000 for png in pictures)  # a drawn chart, not an empty canvas


def _code(cell_source: str) -> str:
    """A cell's Python without IPython's magics and shell lines."""
    return "\n".join(line for line in cell_source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _local_file(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    return next((p for p in (path.with_suffix(".py"), path / "__init__.py") if p.is_file()), None)


def third_party_imports(sources: list[str]) -> set[str]:
    """Top-level third-party modules the sources import, following the repository's own modules they import."""
    found, seen, pending = set(), set(), []
    for source in sources:
        tree = ast.parse(source)
        pending += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        pending += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module and node.level == 0]
    while pending:
        module = pending.pop()
        top = module.split(".")[0]
        if module in seen or top in sys.stdlib_module_names:
            continue
        seen.add(module)
        if top in PACKAGES:
            local = _local_file(module)
            if local is not None:
                pending += imported_modules(local)
        else:
            found.add(top)
    return found


def _name(requirement: str) -> str:
    """'torch==2.13.0' -> 'torch'; names compared as pip does (case and '-'/'_' alike)."""
    return re.split(r"[\s\[=<>!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def with_dependencies(names: set[str]) -> set[str]:
    """The distributions and everything they require (what pip installs for them), from the installed metadata."""
    found, pending = set(), list(names)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        try:
            required = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        pending += [_name(r) for r in required if "extra ==" not in r]
    return found


def test_the_notebooks_extra_installs_what_every_notebook_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    installed = with_dependencies({_name(r) for r in project["dependencies"] + project["optional-dependencies"]["notebooks"]})
    sources = [_code(cell.source) for path in NOTEBOOKS for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    distributions = packages_distributions()
    missing = {}
    for module in third_party_imports(sources):
        names = {_name(name) for name in distributions.get(module, [module])}
        if not names & installed:
            missing[module] = sorted(names)
    assert not missing, f"imported by the notebooks but not installed by .[notebooks]: {missing}"
