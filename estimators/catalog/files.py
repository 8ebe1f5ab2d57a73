"""The bundled data folder (or the user's, $VIDEOPLAN_DATA_DIR) and reading YAML/JSON input files."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from estimators.errors import PlanInputError

# Bundled data; VIDEOPLAN_DATA_DIR points the planner at another copy (own hardware, profiles, presets).
DATA_DIR = Path(os.environ.get("VIDEOPLAN_DATA_DIR") or Path(__file__).parents[1] / "data")


def read_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON file into a mapping, or raise a one-line PlanInputError."""
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise PlanInputError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise PlanInputError(f"{path}: expected a mapping at the top level")
    return data
