"""Shared fixtures: the bundled Mochi system and the reference CSV beside the checkout."""
from pathlib import Path

import pytest

from estimators.catalog.models import load_model

REPO = Path(__file__).resolve().parents[1]
CALIBRATION_CSV = REPO.parent / "shared" / "reference" / "calibration-runs.csv"


@pytest.fixture(scope="session")
def mochi():
    return load_model("mochi-10b")


@pytest.fixture(scope="session")
def calibration_csv():
    if not CALIBRATION_CSV.exists():
        pytest.fail(f"{CALIBRATION_CSV} is missing: CI clones shared/ beside the repository")
    return CALIBRATION_CSV
