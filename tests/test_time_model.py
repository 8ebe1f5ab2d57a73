"""Plans state what their time rests on: ranges, dominant part, warnings; fixed layouts must fit (issue 10)."""
import json

import pytest
from typer.testing import CliRunner

from plan_cli.main import app

runner = CliRunner()
RANGED = ("step_time_s", "train_time_days", "gpu_hours", "cost_usd", "energy_kwh")


def run_json(*args):
    result = runner.invoke(app, ["estimate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("args", [("--gpus", "H100x512"), ("--gpus", "A100x256", "--kernel", "unfused"), ("--gpus", "H200x128", "--precision", "fp8")])
def test_every_range_contains_its_point_value(args):
    doc = run_json(*args)
    for key in RANGED:
        span = doc["uncertainty"][key]
        assert span["low"] <= doc[key] <= span["high"], key
        assert span["basis"]


def test_plan_names_kernel_stack_and_dominant_part():
    doc = run_json("--gpus", "H100x512", "--kernel", "flash-attention-3", "--stack", "pytorch-fsdp2")
    assert doc["time_model"]["kernel"] == "flash-attention-3" and doc["time_model"]["stack"] == "pytorch-fsdp2"
    parts = {k.removesuffix("_s"): v for k, v in doc["step_breakdown_s"].items()}
    assert doc["dominant"]["part"] == max(parts, key=parts.get)
    assert 0 < doc["dominant"]["share"] <= 1
    assert doc["warnings"] == []


def test_tables_show_kernel_stack_dominant_part_and_ranges():
    result = runner.invoke(app, ["estimate", "--gpus", "H100x512"], terminal_width=200)
    assert result.exit_code == 0
    doc = run_json("--gpus", "H100x512")
    u = doc["uncertainty"]
    for text in ("kernel cudnn, stack megatron-core", f"{doc['dominant']['part']} {doc['dominant']['share']:.0%}",
                 f"{u['train_time_days']['low']:.2f} - {u['train_time_days']['high']:.2f}", "leave-one-source-out"):
        assert text in result.output, text


def test_fp8_plan_shows_the_share_it_touches_and_mfu_stays_on_bf16_peak():
    bf16 = run_json("--layout", "tp=2,cp=4,dp=64,zero=2,micro_batch=1,recompute=none,cp_kind=ring")
    fp8 = run_json("--layout", "tp=2,cp=4,dp=64,zero=2,micro_batch=1,recompute=none,cp_kind=ring", "--precision", "fp8")
    assert fp8["time_model"]["mfu_peak_precision"] == "bf16"
    # same model FLOPs, same peak: MFU ratio is the inverse step-time ratio
    assert fp8["mfu"] / bf16["mfu"] == pytest.approx(bf16["step_time_s"] / fp8["step_time_s"])
    assert 0 < fp8["time_model"]["fp8_share_of_step"] < 1


def test_idle_gpus_are_warned_about():
    # pp=8 with 4 micro-batches: bubble 7 / (4 + 7) = 64% of the step
    doc = run_json("--gpus", "H100x64", "--global-batch", "4", "--layout", "tp=8,pp=8,cp=1,dp=1,zero=1,micro_batch=1,recompute=full")
    assert any("wait" in line for line in doc["warnings"])
    text = runner.invoke(app, ["estimate", "--gpus", "H100x64", "--global-batch", "4", "--layout", "tp=8,pp=8,cp=1,dp=1,zero=1,micro_batch=1,recompute=full"])
    assert "warning:" in text.output


def test_low_mfu_is_warned_about():
    # a 64x64x7 clip is 2 latent frames x 4 x 4 patches = 32 visual tokens: tp=8 GEMMs of 4-column shards
    doc = run_json("--gpus", "H100x64", "--height", "64", "--width", "64", "--frames", "7", "--global-batch", "64",
                   "--layout", "tp=8,pp=1,cp=1,dp=8,zero=1,micro_batch=1,recompute=full")
    assert doc["mfu"] < 0.15
    assert any("MFU" in line and "under 15%" in line for line in doc["warnings"])


def test_fixed_layout_that_does_not_fit_exits_2():
    result = runner.invoke(app, ["estimate", "--layout", "tp=1,pp=1,cp=1,dp=512,zero=0,micro_batch=1,recompute=none"])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "GiB" in lines[0] and "80.0 GiB" in lines[0]
    # the full answer comes first: the memory table with every part, and in --json "fits": false
    assert "DOES NOT FIT" in result.stdout and "activations" in result.stdout and "optimizer_states" in result.stdout
    as_json = runner.invoke(app, ["estimate", "--json", "--layout", "tp=1,pp=1,cp=1,dp=512,zero=0,micro_batch=1,recompute=none"])
    doc = __import__("json").loads(as_json.stdout)
    assert as_json.exit_code == 2 and doc["fits"] is False and doc["memory_per_gpu_bytes"]["fits"] is False


@pytest.mark.parametrize("args", [("--kernel", "nope"), ("--stack", "nope"), ("--gpus", "A100x8", "--kernel", "flash-attention-3")])
def test_unknown_or_unbenchmarked_kernel_and_stack_exit_2(args):
    result = runner.invoke(app, ["estimate", *args])
    assert result.exit_code == 2 and result.stderr.startswith("error:")
