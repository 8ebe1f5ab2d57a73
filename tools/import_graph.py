"""Who imports whom: the rooms of estimators/ and the packages above them, from the source tree.

``python3 -m tools.import_graph`` prints the Mermaid diagram committed in docs/architecture.md between
its markers; ``--write`` rewrites that block in place. tests/test_architecture.py holds the order and
checks the committed diagram is the generated one.
"""
from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ("errors", "units", "results")  # modules at the top of estimators/, below every room
ROOMS = ("specs", "catalog", "counts", "memory", "time", "search", "planning", "serving", "calibration", "documents")
PACKAGES = ("estimators", "sim", "reference_model", "reports", "plan_cli")  # each may import the ones before it
ARCHITECTURE_PAGE = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- import-diagram:begin -->", "<!-- import-diagram:end -->"


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports, wherever the import statement stands (functions included)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def room(module: str) -> str:
    """'estimators.time.step' -> 'time'; shared modules -> 'shared'; other packages -> their name."""
    parts = module.split(".")
    if parts[0] != "estimators":
        return parts[0]
    if len(parts) < 2 or parts[1] in SHARED or parts[1] == "__init__":
        return "shared"
    return parts[1]


def level(module: str) -> int:
    """0 for the shared modules, 1.. for the rooms in order, -1 outside the rooms."""
    name = room(module)
    return 0 if name == "shared" else ROOMS.index(name) + 1 if name in ROOMS else -1


def source_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def room_edges() -> Counter:
    """(importing room, imported room) -> number of import statements, between different rooms and packages."""
    edges: Counter = Counter()
    for package in PACKAGES:
        for path in source_files(package):
            source = room(module_name(path))
            for name in {n.rsplit(".", 1)[0] if n.count(".") > 1 else n for n in imported_modules(path)}:
                if name.split(".")[0] in PACKAGES and room(name) != source:
                    edges[(source, room(name))] += 1
    return edges


def mermaid() -> str:
    """The room graph as a Mermaid flowchart, rooms top to bottom in their order."""
    order = list(reversed(PACKAGES[1:])) + list(reversed(ROOMS)) + ["shared"]
    lines = ["```mermaid", "flowchart TD"]
    lines += [f"    {name}[{name}]" for name in order]
    lines += [f"    {a} --> {b}" for (a, b), _ in sorted(room_edges().items(), key=lambda e: (order.index(e[0][0]), order.index(e[0][1])))]
    return "\n".join(lines + ["```"])


def page_with_diagram(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{mermaid()}\n{END}{tail}"


def main(argv: list[str]) -> None:
    if "--write" in argv:
        ARCHITECTURE_PAGE.write_text(page_with_diagram(ARCHITECTURE_PAGE.read_text()))
    else:
        print(mermaid())


if __name__ == "__main__":
    main(sys.argv[1:])
