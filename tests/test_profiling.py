"""The profiling comparison: saved-tensor bytes against the estimators' formula for every recompute mode,
bytes per collective of a real 2-process gloo run against the estimators' collectives, and the
profile command's JSON on a small grid."""
import json

import pytest
import torch
from typer.testing import CliRunner

from estimators.counts.blocks import block_saved
from estimators.specs.asymm_dit import asymm_to_video_dit
from reference_model.dit import AsymmDiT
from reference_model.profile_grid import distributed_collectives, run_profile
from reference_model.profiling import block_saved_bytes
from reference_model.system import load_config

FP32 = 4
SAVED_BYTES_TOLERANCE = 0.01  # per block; what is left is the RoPE tables the estimator counts once per model


def saved_bytes(per_token) -> int:
    """Bytes a token saves in a block with fp32 activations (the reference model runs in fp32)."""
    return (per_token.activation + per_token.stats) * FP32


@pytest.mark.parametrize("recompute", ["none", "selective", "full"])
def test_block_saved_bytes_match_the_formula(recompute):
    spec = load_config("default").dit
    batch, frames, text = 2, 4, spec.max_text_tokens
    model = AsymmDiT(spec, recompute=recompute)
    inputs = (torch.randn(batch, 12, frames, 4, 4), torch.rand(batch), torch.randn(batch, text, 64), torch.ones(batch, text, dtype=torch.bool))
    measured = block_saved_bytes(model, inputs)
    translated = asymm_to_video_dit(spec)
    tokens = frames * 4 * 4
    predicted = []
    for group in translated.blocks:  # every block but the last, then the last that leaves the text as it is
        visual, text_stream = block_saved(translated, group, recompute)
        predicted += [batch * (tokens * saved_bytes(visual) + text * saved_bytes(text_stream))] * group.count
    assert len(predicted) == len(measured) == spec.num_layers
    for p, m in zip(predicted, measured, strict=True):
        assert abs(p / m - 1) <= SAVED_BYTES_TOLERANCE, (p, m)


def test_two_process_gloo_bytes_equal_the_estimators():
    rows = distributed_collectives(runs=(("ddp", 2), ("fsdp", 2)))
    assert {r["name"] for r in rows} == {"ddp all_reduce (2 processes)", "fsdp all_gather (2 processes)", "fsdp reduce_scatter (2 processes)"}
    for row in rows:
        assert row["measured_bytes"] == row["predicted_bytes"], row


def test_profile_writes_tables_and_reports_held_out_errors(tmp_path):
    result = run_profile(True, tmp_path, distributed=False, configs_count=4)
    assert result.held_out_configs == 2
    assert 0 <= result.activation_memory_median_abs_error < 0.05
    assert result.step_time_median_abs_error >= 0
    for name in ("steps.csv", "layers.csv", "microbenchmarks.csv", "cpu-profile.yaml", "cpu-hardware.yaml", "predicted-vs-measured.png"):
        assert (tmp_path / name).exists()
    assert json.loads(json.dumps(result.model_dump(mode="json")))  # plain data


def test_profile_json_contract(tmp_path, monkeypatch):
    import reference_model.profile_grid as grid

    monkeypatch.setattr(grid, "QUICK_CONFIGS", 4)
    monkeypatch.setattr(grid, "DISTRIBUTED_RUNS", (("ddp", 2),))
    result = CliRunner().invoke(__import__("plan_cli.main", fromlist=["app"]).app, ["profile", "--quick", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"step_time_median_abs_error", "activation_memory_median_abs_error", "collectives"} <= set(doc)
    import jsonschema

    jsonschema.validate(doc, json.loads(CliRunner().invoke(__import__("plan_cli.main", fromlist=["app"]).app, ["schema", "profile"]).stdout))
    assert {"name", "measured_bytes", "predicted_bytes"} <= set(doc["collectives"][0])
