"""The rooms of estimators/ and the packages above it import only downwards (estimators/__init__.py)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ("errors", "units", "results")  # modules at the top of estimators/, below every room
ROOMS = ("specs", "catalog", "counts", "memory", "time", "search", "planning", "calibration", "documents")
# Packages above the analytic core, each allowed to import the ones before it.
PACKAGES = ("estimators", "sim", "reference_model", "reports", "plan_cli")
FORBIDDEN_IN_CORE = ("torch", "diffusers", "transformers", "fvcore", "av", "scipy")


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports, wherever the import statement stands (functions included)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def level(module: str) -> int:
    """0 for the shared modules and the package itself, 1.. for the rooms in order."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] in SHARED:
        return 0
    return ROOMS.index(parts[1]) + 1 if parts[1] in ROOMS else -1


def core_files():
    return sorted((ROOT / "estimators").rglob("*.py"))


def test_every_core_module_lives_in_a_room_or_is_shared():
    for path in core_files():
        parts = path.relative_to(ROOT).with_suffix("").parts
        assert len(parts) == 2 and parts[1] in (*SHARED, "__init__") or parts[1] in ROOMS, path


def test_core_imports_point_down():
    wrong = []
    for path in core_files():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = level(module)
        for name in imported_modules(path):
            if name.startswith("estimators.") and level(name) > own:
                wrong.append(f"{module} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_core_imports_no_torch_and_nothing_above_it():
    wrong = []
    for path in core_files():
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in FORBIDDEN_IN_CORE or top in PACKAGES[1:]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_packages_import_only_packages_below_them():
    wrong = []
    for rank, package in enumerate(PACKAGES):
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in imported_modules(path):
                top = name.split(".")[0]
                if top in PACKAGES and PACKAGES.index(top) > rank:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_no_package_imports_another_librarys_private_modules():
    # typer 0.29 vendors click as typer._click: reaching into it breaks on any typer release
    wrong = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in imported_modules(path):
                parts = name.split(".")
                if parts[0] not in (*PACKAGES, "__future__") and any(part.startswith("_") for part in parts):
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)
