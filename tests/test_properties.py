"""Property tests (hypothesis): scaling laws of the counts and monotonicity of memory and time."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from estimators.catalog.gpus import load_gpu
from estimators.catalog.models import load_model
from estimators.counts.dit import dit_forward_flops
from estimators.counts.problem import video_problem
from estimators.search.evaluate import evaluate
from estimators.specs.layout import Layout
from estimators.specs.layout_arrays import LayoutArrays
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.step import RunSettings

MOCHI = load_model("mochi-10b")
H100 = load_gpu("H100")
TOKENS_PER_LATENT_FRAME = 30 * 53  # 480x848 clip: 60x106 latent, 2x2 patches


@given(k=st.integers(1, 40))
def test_linear_flops_linear_and_attention_quadratic_in_frames(k):
    """At fixed spatial size and no text, tokens = k x 1590: linear parts scale by k, attention by k^2."""
    one = dit_forward_flops(MOCHI.dit, TOKENS_PER_LATENT_FRAME, 0)
    many = dit_forward_flops(MOCHI.dit, k * TOKENS_PER_LATENT_FRAME, 0)
    assert many["linear_visual"] == k * one["linear_visual"]
    assert many["attention"] == k * k * one["attention"]


def _settings(global_batch=512):
    return RunSettings.resolve(H100, global_batch=global_batch)


def _problem():
    stage = TrainingStage(height=480, width=848, frames=163, text_tokens=256, steps=10, global_batch=512)
    return video_problem(MOCHI, stage, Workload(stages=(stage,)))


PROBLEM = _problem()
layouts = st.builds(
    lambda tp, cp, pp, zero, rc: Layout(tp=tp, cp=cp, pp=pp, dp=8, zero=zero, recompute=rc),
    st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2, 4]), st.sampled_from([1, 2, 4]),
    st.sampled_from([0, 1, 2]), st.sampled_from(["none", "selective", "full"]),
)


@settings(max_examples=60, deadline=None)
@given(layout=layouts)
def test_memory_never_grows_with_zero_stage_or_dp(layout):
    higher_zero = layout.model_copy(update={"zero": layout.zero + 1})
    more_dp = layout.model_copy(update={"dp": layout.dp * 2})
    lay = LayoutArrays.from_layouts([layout, higher_zero, more_dp])
    memory = evaluate(PROBLEM, lay, _settings(global_batch=1024)).memory.total
    assert memory[1] <= memory[0] + 1e-6
    assert memory[2] <= memory[0] + 1e-6


@settings(max_examples=60, deadline=None)
@given(layout=layouts)
def test_step_time_never_below_flops_over_peak(layout):
    metrics = evaluate(PROBLEM, LayoutArrays.from_layouts([layout]), _settings())
    gpus = layout.num_gpus
    ideal = PROBLEM.forward_flops * 3 * 512 / (gpus * H100.peak_flops("bf16"))
    assert metrics.time.step_time_s[0] >= ideal


def test_bubble_matches_one_f_one_b():
    """(p-1)/(m+p-1) for plain 1F1B: p = 4, m = 512 / (dp 8 x mb 1) = 64."""
    lay = LayoutArrays.from_layouts([Layout(tp=1, cp=1, pp=4, dp=8, recompute="full")])
    metrics = evaluate(PROBLEM, lay, _settings())
    assert np.isclose(metrics.time.bubble_fraction[0], 3 / (64 + 3))
