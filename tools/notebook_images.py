"""Run a notebook as the tests run it and save the charts its cells draw, for the README:

    python3 -m tools.notebook_images notebooks/b_scaling.ipynb docs

writes docs/notebook-b_scaling-1.png, -2.png, ... (one per image output, in order). The notebook file is
not changed: notebooks are stored without outputs.
"""
from __future__ import annotations

import argparse
import base64
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from estimators.documents.outputs import write_bytes

CELL_TIMEOUT_S = 300
PNG = "image/png"


def executed(path: Path, timeout_s: int = CELL_TIMEOUT_S) -> nbformat.NotebookNode:
    """The notebook after running every cell top to bottom in a fresh kernel, from its own folder."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def images(notebook: nbformat.NotebookNode) -> list[bytes]:
    """The PNG images of the executed notebook's outputs, in order."""
    return [base64.b64decode(output["data"][PNG]) for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) if PNG in output.get("data", {})]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    pictures = images(executed(args.notebook))
    for i, png in enumerate(pictures, 1):
        write_bytes(args.folder / f"notebook-{args.notebook.stem}-{i}.png", png, "notebook image")
    print(f"{len(pictures)} images from {args.notebook} in {args.folder}")


if __name__ == "__main__":
    main()
