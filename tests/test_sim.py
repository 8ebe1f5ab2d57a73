"""The simulators: pipeline bubbles, goodput without failures, the checkpoint interval, the CLI."""
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from estimators.planning.failures import young_daly_interval_s
from plan_cli.main import app
from sim.run_sim import RunInputs, fitted_optimal_interval_s, goodput, simulate_runs
from sim.step_sim import StepInputs, simulate_step


@pytest.mark.parametrize("p, m", [(2, 4), (4, 8), (8, 8), (4, 32)])
def test_1f1b_bubble_is_p_minus_1_over_m_plus_p_minus_1(p, m):
    result = simulate_step(StepInputs(stages=p, micro_batches=m, forward_s=1.0, backward_s=2.0), "1f1b")
    assert result.bubble_fraction == pytest.approx((p - 1) / (m + p - 1))
    # uniform stages, no communication: the step is (m + p - 1)(t_f + t_b)
    assert result.step_time_s == pytest.approx((m + p - 1) * 3.0)


def test_interleaving_divides_the_bubble_by_v():
    # Narayanan et al. 2021, sec. 2.2.2: bubble time (p-1)/v of a micro-batch's time
    p, m, v = 4, 8, 2
    result = simulate_step(StepInputs(stages=p, micro_batches=m, forward_s=1.0, backward_s=2.0, virtual_stages=v), "interleaved")
    assert result.step_time_s == pytest.approx((m + (p - 1) / v) * 3.0)


def test_gradient_exchange_hides_behind_the_last_backward_only_in_part():
    # one stage, 4 micro-batches of 1 s + 2 s; 3 s of gradient traffic released in 4 buckets during the
    # last 2-s backward (at 10.5, 11, 11.5, 12 s), 0.75 s each, back to back: done at 13.5 s
    result = simulate_step(StepInputs(stages=1, micro_batches=4, forward_s=1.0, backward_s=2.0, dp_step_s=3.0), "1f1b")
    assert result.step_time_s == pytest.approx(13.5)
    assert result.exposed_comm_fraction == pytest.approx(1.5 / 13.5)


def test_zero_failures_leaves_only_checkpoint_overhead():
    # 10 h of work, a 60-s synchronous checkpoint every hour: 9 checkpoints (none after the last segment)
    inp = RunInputs(work_s=36_000, num_gpus=512, failures_per_gpu_hour=0.0, checkpoint_write_s=60, interval_s=3_600)
    walls = simulate_runs(inp, runs=5, seed=1)
    assert np.allclose(walls, 36_000 + 9 * 60)
    assert np.allclose(goodput(36_000, walls), 36_000 / 36_540)


def test_simulated_optimal_interval_is_near_young_daly():
    # Young/Daly's assumptions: exponential failures, checkpoint cost << MTBF, restart independent of tau
    mtbf_s, stall_s = 10 * 3600.0, 60.0
    inp = RunInputs(work_s=200 * mtbf_s, num_gpus=1, failures_per_gpu_hour=3600 / mtbf_s, restart_s=300,
                    checkpoint_write_s=stall_s, checkpoint_read_s=30)
    daly = young_daly_interval_s(stall_s, mtbf_s)
    assert daly == pytest.approx(math.sqrt(2 * stall_s * mtbf_s) - stall_s)
    fitted = fitted_optimal_interval_s(inp, daly * np.array([0.3, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0]), runs=60, seed=3)
    assert abs(fitted / daly - 1) <= 0.10


def test_same_seed_same_answer_and_json_keys():
    runner = CliRunner()
    args = ["simulate", "--gpus", "H100x512", "--runs", "50", "--seed", "7", "--json"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert 0 < doc["goodput"] <= 1
    assert set(doc["wall_clock_days"]) >= {"p10", "p50", "p90"}
    assert doc["wall_clock_days"]["p10"] <= doc["wall_clock_days"]["p50"] <= doc["wall_clock_days"]["p90"]
    assert {"step_time_s", "bubble_fraction", "exposed_comm_fraction"} <= set(doc["step"])
    assert doc["checkpoint_interval_s"] > 0
    assert set(doc["storage_bytes"]) >= {"raw_clips", "latents", "text_embeddings", "checkpoints"}


def test_trace_and_timeline_files(tmp_path):
    trace, png = tmp_path / "step.json", tmp_path / "step.png"
    result = CliRunner().invoke(app, ["simulate", "--runs", "5", "--layout", "tp=1,cp=4,pp=2", "--trace", str(trace), "--timeline", str(png)])
    assert result.exit_code == 0, result.output
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e["ph"] == "X" and e["name"].startswith("F") for e in events)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_data_bound_plan_is_flagged():
    result = CliRunner().invoke(app, ["simulate", "--runs", "5", "--online-latents", "--storage-read-gbps", "0.01", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["data_pipeline"]["data_bound"]
