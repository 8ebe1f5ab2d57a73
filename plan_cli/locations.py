"""Where the commands find the data they need, independent of the folder they run in.

Order: the explicit option, then an environment variable, then a location tied to the package. A
miss names every place looked at.
"""
from __future__ import annotations

import os
from pathlib import Path

from estimators.errors import PlanInputError
from plan_cli.validation import check_text_file

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# A copy of shared/reference/calibration-runs.csv ships as package data (tests/test_locations.py keeps it equal).
PACKAGED_CALIBRATION = PACKAGE_ROOT / "estimators" / "data" / "calibration" / "calibration-runs.csv"
CALIBRATION_ENV = "VIDEOPLAN_CALIBRATION_CSV"
# The golden scenarios (scenarios.json, expected.json) ship as package data: `plan golden` works from an install.
PACKAGED_GOLDEN = PACKAGE_ROOT / "estimators" / "data" / "golden"
GOLDEN_ENV = "VIDEOPLAN_GOLDEN_DIR"


def _first_existing(option: Path | None, option_name: str, env: str, fallback: Path, check) -> Path:
    """The option's path (must exist), else $env's (must exist), else the fallback, else a one-line error."""
    if option is not None:
        if not check(option):
            raise PlanInputError(f"{option_name} {option}: not found")
        return option
    from_env = os.environ.get(env)
    if from_env:
        if not check(Path(from_env)):
            raise PlanInputError(f"${env}={from_env}: not found")
        return Path(from_env)
    if check(fallback):
        return fallback
    raise PlanInputError(f"not found: looked for {option_name} (not given), ${env} (not set) and {fallback}; give {option_name}")


def calibration_csv(option: Path | None) -> Path:
    """The calibration runs for the report's validation page (a text file; its rows are checked by the back-test)."""
    # a FIFO or a device "exists" and is then refused as not a regular file, not reported missing
    path = _first_existing(option, "--calibration", CALIBRATION_ENV, PACKAGED_CALIBRATION, Path.exists)
    check_text_file(path, "--calibration" if option is not None or not os.environ.get(CALIBRATION_ENV) else f"${CALIBRATION_ENV}")
    return path


def golden_dir(option: Path | None) -> Path:
    """The folder with scenarios.json (and expected.json) for `plan golden`."""
    return _first_existing(option, "--dir", GOLDEN_ENV, PACKAGED_GOLDEN, lambda p: (p / "scenarios.json").is_file())
