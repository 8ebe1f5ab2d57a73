"""Shared fixtures: the bundled Mochi system, the reference CSV beside the checkout, and imports as on the
README's core install."""
import sys
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


# What `pip install -e .` lacks and `pip install -e ".[test]"` adds (pyproject.toml), for the analytic core's commands.
TEST_EXTRAS = ("torch", "diffusers", "transformers", "fvcore", "av", "scipy")


@pytest.fixture()
def core_install(monkeypatch):
    """Imports as on the core install: the test extras cannot be imported (as a missing package fails), and the
    reference model, which needs them, is imported afresh."""
    for name in [n for n in sys.modules if n.split(".")[0] == "reference_model"]:
        monkeypatch.delitem(sys.modules, name)
    for package in TEST_EXTRAS:
        monkeypatch.setitem(sys.modules, package, None)


# A test that would skip because a package is missing (pytest.importorskip) fails instead: a broken install
# must not turn tests into "s" while CI stays green. (CI installs the test extras: .ci/run.)
MISSING_PACKAGE = "could not import"


def _fail_when_a_package_is_missing(report):
    if report.skipped and MISSING_PACKAGE in str(report.longrepr):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{reason}: a missing package fails the run (python3 -m pip install -e '.[test]')"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    return _fail_when_a_package_is_missing((yield))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    return _fail_when_a_package_is_missing((yield))
