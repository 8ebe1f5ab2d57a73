"""A model split into experts by noise level (Wan 2.2 A14B): what a plan counts once per expert, once per resident
expert, and what stays one expert's; the shares of the training; bad expert inputs in one line.

Fixed layouts on 64 H100s keep every plan a single evaluation (no search).
"""
import pytest
from typer.testing import CliRunner

from estimators.catalog.files import DATA_DIR, read_mapping
from estimators.catalog.gpus import parse_gpus
from estimators.catalog.models import load_model, validate_system
from estimators.errors import PlanInputError
from estimators.planning.estimate import plan
from estimators.planning.request import PlanRequest
from estimators.specs.layout import Layout
from estimators.specs.workload import TrainingStage, Workload
from plan_cli.main import app

CLUSTER = parse_gpus("H100x64").cluster
# ZeRO-1: weights and gradients split by tp only, optimizer states sharded too: each scales with resident experts
LAYOUT = Layout(tp=4, pp=1, cp=2, dp=8, zero=1, micro_batch=1, recompute="full")
STAGE = TrainingStage(height=720, width=1280, frames=81, fps=16, text_tokens=512, steps=1_200, global_batch=64)


def planned(name: str, residency=None):
    system = load_model(name).with_expert_residency(residency)
    return plan(PlanRequest(system=system, workload=Workload(stages=(STAGE,)), cluster=CLUSTER, layout=LAYOUT))


@pytest.fixture(scope="module")
def plans():
    return {"dense": planned("wan2.1-t2v-14b"), "one": planned("wan2.2-t2v-a14b"), "all": planned("wan2.2-t2v-a14b", "all")}


def test_one_expert_at_a_time_trains_like_the_dense_14b(plans):
    # Wan 2.2's experts have Wan 2.1 14B's architecture: with one resident, a step is a Wan 2.1 14B step
    dense, one = plans["dense"], plans["one"]
    assert one.params.dit == 2 * dense.params.dit and one.params.dit_resident == dense.params.dit
    assert one.flops_per_sample == dense.flops_per_sample
    assert one.memory_per_gpu_bytes.total == dense.memory_per_gpu_bytes.total
    assert one.step_time_s == dense.step_time_s and one.train_time_days == dense.train_time_days


def test_all_experts_resident_hold_every_experts_states(plans):
    one, both = plans["one"].memory_per_gpu_bytes, plans["all"].memory_per_gpu_bytes
    for part in ("weights", "gradients", "optimizer_states"):
        assert getattr(both, part) == pytest.approx(2 * getattr(one, part))
    assert both.activations == one.activations  # each sample runs through one expert
    grads = {p: next(c for c in plans[p].collectives if c.name.startswith("dp gradient")) for p in ("one", "all")}
    assert grads["all"].buffer_bytes == pytest.approx(2 * grads["one"].buffer_bytes)
    assert plans["all"].flops_per_sample == plans["one"].flops_per_sample
    assert plans["all"].params.dit_resident == plans["all"].params.dit


def test_experts_share_the_samples_steps_and_days(plans):
    split = plans["one"].experts
    assert (split.count, split.residency, split.resident) == (2, "one", 1)
    assert [e.name for e in split.experts] == ["high_noise", "low_noise"]
    assert sum(e.share for e in split.experts) == pytest.approx(1, abs=1e-4)
    assert sum(e.samples for e in split.experts) == pytest.approx(1_200 * 64, abs=1)
    assert sum(e.steps for e in split.experts) == pytest.approx(1_200, rel=1e-4)
    assert sum(e.train_time_days for e in split.experts) == pytest.approx(plans["one"].train_time_days, rel=1e-4)
    # 5/12 of the samples on sigma >= 0.875 under the shift-5 schedule: u >= 0.875 / (5 - 4 x 0.875) = 7/12
    assert split.experts[0].share == pytest.approx(5 / 12, abs=1e-4)
    assert plans["dense"].experts is None


def _wan22_with(**experts_changes) -> dict:
    data = read_mapping(DATA_DIR / "models" / "wan2.2-t2v-a14b.yaml")
    return {**data, "experts": {**data["experts"], **experts_changes}}


@pytest.mark.parametrize("changes, words", [
    (dict(experts=[{"name": "a", "noise_levels": [0.5, 1.0], "share": 0.5}, {"name": "b", "noise_levels": [0.0, 0.5], "share": 0.3}]), "add up to 1"),
    (dict(experts=[{"name": "a", "noise_levels": [0.9, 0.5], "share": 0.5}, {"name": "b", "noise_levels": [0.0, 0.5], "share": 0.5}]), "low < high"),
    (dict(residency="some"), "residency"),
])
def test_bad_expert_splits_are_refused_in_words(changes, words):
    with pytest.raises(PlanInputError, match=words):
        validate_system(_wan22_with(**changes), "wan22.yaml")


@pytest.mark.parametrize("args, words", [
    (["--model", "wan2.2-t2v-a14b", "--experts-resident", "both"], "expected one or all"),
    (["--model", "mochi-10b", "--experts-resident", "all"], "has no experts"),
])
def test_expert_residency_option_errors_exit_2(args, words):
    result = CliRunner().invoke(app, ["estimate", "--gpus", "H100x64", *args])
    assert result.exit_code == 2 and words in result.output
