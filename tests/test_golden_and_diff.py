"""Golden scenarios hold, a changed hardware figure is caught, and `plan diff` reports moves."""
import json
import os
import shutil
import subprocess
import sys

import pytest
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


def _estimate(args, path):
    result = CliRunner().invoke(app, ["estimate", *args, "--json"])
    assert result.exit_code == 0, result.output
    path.write_text(result.stdout)
    return json.loads(result.stdout)


def test_diff_matches_items_by_identity_and_puts_headline_figures_first(tmp_path):
    # 512 GPUs use tp2 cp4 (tensor-parallel all-reduces and a ring exchange); 8 GPUs use another layout
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    old, new = _estimate(["--gpus", "H100x512"], a), _estimate(["--gpus", "H100x8"], b)
    result = CliRunner().invoke(app, ["diff", str(a), str(b), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "diff" and doc["documents_kind"] == "estimate"
    keys = [row["key"] for row in doc["moved"]]
    assert not any(key.startswith("collectives.") or key.startswith("stages.") for key in keys)  # never by position
    names = {c["name"] for c in old["collectives"]} ^ {c["name"] for c in new["collectives"]}
    for name in names:  # a collective of one plan only is added or removed, never compared with another
        row = next(r for r in doc["moved"] if r["key"] == f"collectives[{name}].seconds")
        assert row["change"] in ("added", "removed")
    assert [row["key"] for row in doc["headline"]][:3] == ["answer", "cluster.gpu", "cluster.num_gpus"]
    assert keys.index("step_time_s") < keys.index("cost_usd") < min(i for i, k in enumerate(keys) if not doc["moved"][i]["headline"])
    step = next(row for row in doc["headline"] if row["key"] == "step_time_s")
    assert step["change"] == pytest.approx(new["step_time_s"] / old["step_time_s"] - 1)


def test_diff_prints_rounded_figures_and_lists_the_rest_on_request(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    old, new = _estimate(["--gpus", "H100x512"], a), _estimate(["--gpus", "H100x256"], b)
    text = CliRunner().invoke(app, ["diff", str(a), str(b)]).output
    assert repr(old["step_time_s"]) not in text and f"{old['step_time_s']:.4g}" in text  # 4 significant digits
    change = new["train_time_days"] / old["train_time_days"] - 1  # half the GPUs: about twice the days
    assert f"{change:+.2%}" in text or f"{change:+,.1%}" in text
    assert text.index("Headline figures") < text.index("Other figures that moved") and "--all lists them" in text
    every = CliRunner().invoke(app, ["diff", str(a), str(b), "--all"]).output
    assert "--all lists them" not in every and len(every.splitlines()) > len(text.splitlines())


def test_diff_refuses_documents_of_different_kinds(tmp_path):
    plan, simulation = tmp_path / "plan.json", tmp_path / "sim.json"
    _estimate(["--gpus", "H100x8"], plan)
    simulated = CliRunner().invoke(app, ["simulate", "--gpus", "H100x8", "--runs", "5", "--json"])
    simulation.write_text(simulated.stdout)
    result = CliRunner().invoke(app, ["diff", str(plan), str(simulation)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {plan} is a document of kind estimate, {simulation} is a document of kind simulate: "
                                     "plan diff compares two documents of one kind")
    older = json.loads(plan.read_text())
    del older["kind"]  # a document written before kinds were added: known by its keys
    (tmp_path / "old.json").write_text(json.dumps(older))
    assert CliRunner().invoke(app, ["diff", str(tmp_path / "old.json"), str(plan)]).exit_code == 0
    result = CliRunner().invoke(app, ["diff", str(tmp_path / "old.json"), str(simulation)])
    assert result.exit_code == 2 and "of kind estimate" in result.stderr
