"""The presets of issue 19 plan, simulate and report from the command line (fixed layouts on 64 H100s keep each
plan one evaluation; a few Monte Carlo runs keep the simulation short)."""
import json

import pytest
from typer.testing import CliRunner

from plan_cli.main import app

runner = CliRunner()
LAYOUT = "tp=4,pp=1,cp=2,dp=8,zero=3,micro_batch=1,recompute=full"  # tp x cp = 8 divides every head count
NEW_PRESETS = ["wan2.2-t2v-a14b", "hunyuanvideo-1.5", "cosmos-predict2-14b", "open-sora-2.0", "step-video-t2v-30b"]


def invoked(*args):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output[-800:]
    return result


@pytest.mark.parametrize("preset", NEW_PRESETS)
def test_new_preset_estimates_and_simulates(preset):
    plan = json.loads(invoked("estimate", "--model", preset, "--gpus", "H100x64", "--layout", LAYOUT, "--steps", "1000", "--json").stdout)
    assert plan["model"]["name"] == preset and plan["memory_per_gpu_bytes"]["fits"]
    assert plan["flops_per_sample"]["train_step_model"] == 3 * plan["flops_per_sample"]["dit_forward"]
    sim = json.loads(invoked("simulate", "--model", preset, "--gpus", "H100x64", "--layout", LAYOUT, "--steps", "1000", "--runs", "3", "--json").stdout)
    assert sim["step"]["step_time_s"] > 0


def test_new_preset_reports(tmp_path):
    target = tmp_path / "wan22.pdf"
    invoked("report", "--model", "wan2.2-t2v-a14b", "--gpus", "H100x64", "--layout", LAYOUT, "--steps", "1000", "--runs", "3", "-o", str(target))
    assert target.read_bytes().startswith(b"%PDF")
