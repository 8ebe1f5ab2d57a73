"""GPU kinds from their own data (issue 19, items 1 and 2): datasheets, NVLink domains in the search,
plans on each kind, B200 from B200 tables, ranges per kind, the fleet search over every kind."""
import json

import pytest
from typer.testing import CliRunner

from estimators.catalog.gpus import gpu_catalogue, load_gpu
from estimators.catalog.models import load_model
from estimators.counts.problem import video_problem
from estimators.search.evaluate import evaluate
from estimators.specs.layout import Layout
from estimators.specs.layout_arrays import LayoutArrays
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.step import RunSettings
from estimators.time.uncertainty import step_factors
from plan_cli.main import app

runner = CliRunner()
NEW_KINDS = ("H800", "H20", "L40S", "GB200", "MI300X", "MI325X", "MI355X")
MOCHI = load_model("mochi-10b")
STAGE = TrainingStage(height=480, width=848, frames=163, text_tokens=256, steps=10, global_batch=512)
PROBLEM = video_problem(MOCHI, STAGE, Workload(stages=(STAGE,)))


def _plan(*args):
    result = runner.invoke(app, ["estimate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_every_kind_has_sourced_dated_figures_and_a_price_range():
    kinds = {gpu.name: gpu for gpu in gpu_catalogue().values()}
    assert set(NEW_KINDS) <= set(kinds)
    for gpu in kinds.values():
        for name in type(gpu).model_fields:
            figure = getattr(gpu, name)
            if hasattr(figure, "source") and name != "peak_flops_fp32":
                assert figure.source and figure.date, (gpu.name, name)
        price = gpu.price_usd_per_gpu_hour
        assert price.low <= price.value <= price.high, gpu.name


def test_gb200_is_one_72_gpu_nvlink_domain_of_4_gpu_trays():
    gb200 = load_gpu("GB200")
    assert gb200.domain_size == 72 and gb200.node_size == 4
    assert load_gpu("H100").domain_size == 8


def _validity(gpu, layout):
    settings = RunSettings.resolve(load_gpu(gpu), global_batch=512)
    evaluation = evaluate(PROBLEM, LayoutArrays.from_layouts([layout]), settings)
    return bool(evaluation.valid[0]), str(evaluation.reason[0])


def test_tensor_parallelism_stays_inside_the_nvlink_domain():
    tp12 = Layout(tp=12, cp=1, pp=3, dp=2, zero=1, micro_batch=1, recompute="full")
    assert _validity("GB200", tp12) == (True, "")
    assert _validity("H100", tp12) == (False, "tp larger than a scale-up domain")


@pytest.mark.parametrize("gpus", ["H800x256", "GB200x72", "MI300Xx64"])
def test_new_kinds_plan_mochi(gpus):
    doc = _plan("--gpus", gpus)
    stage = doc["stages"][-1]
    assert 0.15 < stage["mfu"] < 0.6 and stage["memory_per_gpu_bytes"]["total"] <= load_gpu(gpus.split("x")[0]).hbm_bytes.value
    assert doc["uncertainty"]["step_time_s"]["low"] < stage["step_time_s"] < doc["uncertainty"]["step_time_s"]["high"]


def test_on_gb200_the_search_uses_the_rack_for_model_parallelism():
    """72 GPUs in one NVLink domain: the chosen model-parallel degree (tp x cp x pp) goes past 8 with every collective
    on NVLink; with the pipeline pinned off, tp x cp itself goes past 8 (an H100 node would stop tp at 8)."""
    stage = _plan("--gpus", "GB200x72")["stages"][-1]
    layout = stage["layout"]
    assert layout["tp"] * layout["cp"] * layout["pp"] > 8
    assert all(c["tier"] == "NVLink" for c in stage["collectives"])
    flat = _plan("--gpus", "GB200x72", "--layout", "pp=1")["stages"][-1]
    assert flat["layout"]["tp"] * flat["layout"]["cp"] > 8
    assert all(c["tier"] == "NVLink" for c in flat["collectives"])


def test_b200_mfu_differs_from_h100s_and_its_ranges_are_wider():
    h100, b200 = _plan("--gpus", "H100x512"), _plan("--gpus", "B200x512")
    mfu_h100, mfu_b200 = h100["stages"][-1]["mfu"], b200["stages"][-1]["mfu"]
    assert abs(mfu_b200 / mfu_h100 - 1) > 0.01  # no longer H100's efficiencies on B200's peak
    assert "no calibration run used B200" in b200["uncertainty"]["step_time_s"]["basis"]
    assert "no calibration run" not in h100["uncertainty"]["step_time_s"]["basis"]
    wide, narrow = step_factors(True, "B200"), step_factors(True, "H100-SXM")
    assert wide.low < narrow.low and wide.high > narrow.high
    # transferred kernel tables widen again: MI325X reads MI300X's attention figures
    assert step_factors(True, "MI325X").high > step_factors(True, "MI300X").high


def test_deadline_search_ranks_every_kind():
    doc = _plan("--gpus", "H100,H200,B200,GB200,MI300X", "--deadline-days", "10", "--max-gpus", "256")
    assert {c["gpu"] for c in doc["candidates"]} == {"H100-SXM", "H200", "B200", "GB200", "MI300X"}
