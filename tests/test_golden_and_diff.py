"""Golden scenarios hold, a changed hardware figure is caught, and `plan diff` reports moves."""
import json
import os
import shutil
import subprocess
import sys

from typer.testing import CliRunner

from estimators.catalog.files import DATA_DIR
from estimators.documents.docdiff import diff
from estimators.documents.golden import GOLDEN_TOLERANCE, check
from plan_cli.locations import PACKAGED_GOLDEN
from plan_cli.main import app

GOLDEN = PACKAGED_GOLDEN
MIN_SCENARIOS = 12


def test_golden_scenarios_have_not_moved():
    assert len(json.loads((GOLDEN / "scenarios.json").read_text())) >= MIN_SCENARIOS
    assert check(GOLDEN) == [], f"estimates moved beyond {GOLDEN_TOLERANCE:.1%}: run `plan golden` to see them"


def test_changed_hardware_figure_fails_the_golden_check(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    h100 = data / "hardware" / "H100-SXM.yaml"
    h100.write_text(h100.read_text().replace("value: 3.35e12", "value: 3.0e12"))  # HBM bandwidth
    env = {**os.environ, "VIDEOPLAN_DATA_DIR": str(data)}
    result = subprocess.run([sys.executable, "-m", "plan_cli.main", "golden", "--dir", str(GOLDEN)], env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "step_time_s" in result.stdout


def test_diff_reports_relative_changes(tmp_path):
    old = {"step_time_s": 10.0, "layout": {"tp": 1}, "gone": 1}
    new = {"step_time_s": 11.0, "layout": {"tp": 2}, "added": 2}
    rows = {r.key: r.change for r in diff(old, new)}
    assert abs(rows["step_time_s"] - 0.1) < 1e-12
    assert rows["layout.tp"] == 1.0 and rows["gone"] == "removed" and rows["added"] == "added"
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(old))
    b.write_text(json.dumps(new))
    result = CliRunner().invoke(app, ["diff", str(a), str(b), "--json"])
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["moved"]) == 4
