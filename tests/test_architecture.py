"""The rooms of estimators/ and the packages above it import only downwards (estimators/__init__.py),
and docs/architecture.md shows the import diagram generated from the tree as it is."""
from tools.import_graph import (
    ARCHITECTURE_PAGE,
    PACKAGES,
    ROOMS,
    SHARED,
    imported_modules,
    level,
    module_name,
    page_with_diagram,
    source_files,
)

FORBIDDEN_IN_CORE = ("torch", "diffusers", "transformers", "fvcore", "av", "scipy", "typer", "click")


def test_every_core_module_lives_in_a_room_or_is_shared():
    for path in source_files("estimators"):
        parts = module_name(path).split(".")
        assert (len(parts) == 2 and parts[1] in (*SHARED, "__init__")) or parts[1] in ROOMS, path


def test_core_imports_point_down():
    wrong = []
    for path in source_files("estimators"):
        module = module_name(path)
        wrong += [f"{module} imports {name}" for name in imported_modules(path)
                  if name.startswith("estimators.") and level(name) > level(module)]
    assert not wrong, "\n".join(wrong)


def test_core_imports_no_torch_nor_the_command_line_nor_anything_above_it():
    wrong = []
    for path in source_files("estimators"):
        wrong += [f"{module_name(path)} imports {name}" for name in imported_modules(path)
                  if name.split(".")[0] in FORBIDDEN_IN_CORE or name.split(".")[0] in PACKAGES[1:]]
    assert not wrong, "\n".join(wrong)


def test_packages_import_only_packages_below_them():
    wrong = []
    for rank, package in enumerate(PACKAGES):
        for path in source_files(package):
            wrong += [f"{module_name(path)} imports {name}" for name in imported_modules(path)
                      if name.split(".")[0] in PACKAGES and PACKAGES.index(name.split(".")[0]) > rank]
    assert not wrong, "\n".join(wrong)


def test_architecture_page_shows_the_generated_import_diagram():
    text = ARCHITECTURE_PAGE.read_text()
    assert page_with_diagram(text) == text, "run: python3 -m tools.import_graph --write"


def test_no_package_imports_another_librarys_private_modules():
    # typer 0.29 vendors click as typer._click: reaching into it breaks on any typer release
    wrong = []
    for package in PACKAGES:
        for path in source_files(package):
            for name in imported_modules(path):
                parts = name.split(".")
                if parts[0] not in (*PACKAGES, "__future__") and any(part.startswith("_") for part in parts):
                    wrong.append(f"{module_name(path)} imports {name}")
    assert not wrong, "\n".join(wrong)
