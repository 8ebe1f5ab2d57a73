"""The `plan` command: JSON contract, readable summary, and one-line errors with exit code 2."""
import json

import pytest
from typer.testing import CliRunner

from estimators.catalog.files import DATA_DIR
from plan_cli.main import app

runner = CliRunner()
CONTRACT = {
    "params": ("dit", "text_encoder", "vae_encoder", "vae_decoder"),
    "tokens_per_sample": ("visual", "text"),
    "flops_per_sample": ("dit_forward", "text_encoder_forward", "vae_encoder_forward", "train_step_total"),
    "memory_per_gpu_bytes": ("total",),
    "layout": ("tp", "pp", "dp", "cp", "zero", "micro_batch", "recompute"),
}
SCALARS = ("step_time_s", "mfu", "tflops_per_gpu", "train_time_days", "gpu_hours", "cost_usd", "energy_kwh")


def run_json(*args):
    result = runner.invoke(app, ["estimate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_estimate_json_has_the_contract_keys():
    doc = run_json("--gpus", "H100x512")
    for group, keys in CONTRACT.items():
        for key in keys:
            assert key in doc[group], f"{group}.{key}"
    for key in SCALARS:
        assert doc[key] > 0
    assert doc["params"]["dit"] == 10_027_677_744
    assert doc["flops_per_sample"]["dit_forward"] == 1_667_505_875_902_464
    memory = doc["memory_per_gpu_bytes"]
    not_parts = ("total", "total_low", "total_high", "capacity", "fits", "may_not_fit", "saved_activations")
    parts = sum(v for k, v in memory.items() if k not in not_parts)
    assert parts == pytest.approx(memory["total"])
    assert memory["total_low"] < memory["total"] < memory["total_high"]
    assert memory["fits"] and doc["fits"] and memory["saved_activations"] == "megatron-te"


def test_train_step_counts_frozen_encoders_only_online():
    offline = run_json("--layout", "tp=1,pp=1,cp=4,dp=128,zero=3,micro_batch=1,recompute=full")
    online = run_json("--layout", "tp=1,pp=1,cp=4,dp=128,zero=3,micro_batch=1,recompute=full", "--online-text", "--online-latents")
    f_off, f_on = offline["flops_per_sample"], online["flops_per_sample"]
    assert f_off["train_step_total"] == 3 * f_off["dit_forward"]
    assert f_on["train_step_total"] == 3 * f_on["dit_forward"] + f_on["text_encoder_forward"] + f_on["vae_encoder_forward"]
    assert online["memory_per_gpu_bytes"]["frozen_encoder_weights"] > 0
    assert offline["preprocessing_days"] > 0 and online["preprocessing_days"] == 0


def test_fixed_layout_is_used_and_partial_layout_is_searched():
    doc = run_json("--layout", "tp=1,pp=1,dp=512,zero=3,micro_batch=1,recompute=full")
    assert doc["layout"]["dp"] == 512 and doc["layout"]["recompute"] == "full"
    doc = run_json("--layout", "tp=8")
    assert doc["layout"]["tp"] == 8


def test_several_stages_add_up():
    doc = run_json("--stage", "name=256p,height=256,width=448,frames=79,steps=1000", "--stage", "name=480p,steps=500")
    assert [s["name"] for s in doc["stages"]] == ["256p", "480p"]
    assert doc["train_time_days"] == pytest.approx(sum(s["train_time_days"] for s in doc["stages"]))


def test_summary_prints_tables():
    result = runner.invoke(app, ["estimate", "--gpus", "H100x512"])
    assert result.exit_code == 0
    for heading in ("Model and workload", "FLOPs per sample", "Memory per GPU", "Layout and time", "Assumptions", "why others lose"):
        assert heading in result.output
    text = " ".join(result.output.split())
    assert "per micro-batch (mb) or per step, as marked" in text  # the TP/CP rows are per micro-batch, DP per step
    assert "on-demand rental, US dollars per GPU-hour" in text  # the price basis, under Assumptions


def test_multi_stage_summary_has_a_row_per_stage_and_totals():
    args = ["--gpus", "H100x64", "--stage", "name=256p,height=256,width=448,frames=79,steps=1000", "--stage", "name=480p,steps=500"]
    result = runner.invoke(app, ["estimate", *args])
    assert result.exit_code == 0, result.output
    doc = run_json(*args)
    names = {stage["name"] for stage in doc["stages"]} | {"total"}
    stages_table = result.output.split("Stages and totals")[1].split("Layout of each stage")[0]
    rows = {line.split()[0]: line for line in stages_table.splitlines() if line.split() and line.split()[0] in names}
    for stage in doc["stages"]:
        assert f"{stage['mfu']:.1%}" in rows[stage["name"]] and f"${stage['cost_usd']:,.0f}" in rows[stage["name"]]
    assert f"${doc['cost_usd']:,.0f}" in rows["total"]
    assert "(last stage, 480p)" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--gpus", "H100x0"], ["--gpus", "Z9x8"], ["--gpus", "H100x"], ["--gpus", "H100x-8"],
        ["--frames", "160"], ["--height", "481"], ["--width", "0"], ["--global-batch", "0"], ["--clips", "-5"],
        ["--layout", "tp=1,pp=1,dp=256"], ["--layout", "tp=3"], ["--layout", "tp=x"], ["--precision", "fp4"],
        ["--model", "no-such-model"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(args):
    result = runner.invoke(app, ["estimate", *args])
    assert result.exit_code == 2, result.output
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output


def test_unknown_field_in_model_file_is_rejected(tmp_path):
    src = DATA_DIR / "models" / "mochi-10b.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(src.read_text().replace("  num_heads: 24", "  num_heads: 24\n  num_head: 23"))
    result = runner.invoke(app, ["estimate", "--model", str(bad)])
    assert result.exit_code == 2 and "dit.num_head: not a field" in result.stderr and "Extra inputs" not in result.stderr


def test_mfu_counts_the_trained_model_only():
    layout = ("--layout", "tp=1,pp=1,cp=4,dp=128,zero=3,micro_batch=1,recompute=full")
    offline, online = run_json(*layout), run_json(*layout, "--online-text", "--online-latents")
    # same layout and DiT: online encoders only add step time, so they can only lower MFU
    assert online["mfu"] < offline["mfu"]
    assert online["frozen_encoder_tflops_per_gpu"] > 0 == offline["frozen_encoder_tflops_per_gpu"]
    f = online["flops_per_sample"]
    assert f["train_step_model"] == 3 * f["dit_forward"]
    peak_flops = 989e12  # H100 dense BF16 (estimators/data/hardware/H100-SXM.yaml)
    assert online["mfu"] == pytest.approx(f["train_step_model"] * 512 / (online["step_time_s"] * peak_flops * 512))


def test_a_family_holding_the_best_layout_is_named_on_the_first_row_not_repeated():
    doc = run_json("--gpus", "H100x512")
    ranking = doc["search"]["ranking"]
    best = ranking[0]
    # the best layout (tp2 cp4 ... none) recomputes nothing: the 'No activation recompute' family is named on it
    assert best["layout"]["recompute"] == "none" and "also the best of: No activation recompute" in best["verdict"]
    assert all(row["layout"] != best["layout"] for row in ranking[1:]), "a row repeats the winner"
    assert all("this is the best layout" not in row["verdict"] for row in ranking)
