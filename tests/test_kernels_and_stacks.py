"""Kernel tables, stacks and the FP8 treatment of the step model (issue 10)."""
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from estimators.catalog.files import DATA_DIR
from estimators.catalog.gpus import load_gpu
from estimators.catalog.models import load_model
from estimators.catalog.profiles import load_profile
from estimators.catalog.stacks import load_stack, stack_names
from estimators.counts.problem import video_problem
from estimators.errors import PlanInputError
from estimators.search.evaluate import evaluate
from estimators.specs.layout import Layout
from estimators.specs.layout_arrays import LayoutArrays
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.compute_rates import compute_rates
from estimators.time.kernels import attention_kernel, default_kernel, gemm_efficiency, kernel_names
from estimators.time.step import RunSettings

H100 = load_gpu("H100")
MOCHI = load_model("mochi-10b")
STAGE = TrainingStage(height=480, width=848, frames=163, text_tokens=256, steps=10, global_batch=512)
PROBLEM = video_problem(MOCHI, STAGE, Workload(stages=(STAGE,)))
BF16_KERNELS = ("cudnn", "flash-attention-3", "flash-attention-2")


def _metrics(layout: Layout, precision="bf16", kernel=None, stack="megatron-core"):
    settings = RunSettings.resolve(H100, global_batch=512, precision=precision, kernel=kernel, stack=stack)
    return evaluate(PROBLEM, LayoutArrays.from_layouts([layout]), settings)


def test_every_curve_names_its_source_and_stays_below_peak():
    data = yaml.safe_load((DATA_DIR / "kernels" / "attention.yaml").read_text())
    for curve in data["curves"]:
        assert curve["source"] and curve["date"]
        peak = data["architectures"][curve["arch"]]["measured_on"][f"peak_tflops_{curve['precision']}"]
        assert max(curve["tflops"]) <= peak
        assert len(curve["seq"]) == len(curve["tflops"])


def test_attention_interpolates_in_log_sequence_and_clamps():
    kernel = attention_kernel("flash-attention-3", "H100-SXM")
    # Shah et al. 2024 Fig. 5c: 565 TFLOP/s at 1k and 625 at 2k; log2 midpoint (~1448 tokens) is the mean
    mid = kernel.efficiency(2 ** 10.5, 128, "forward")
    assert mid == pytest.approx((565 + 625) / 2 / 989)
    # beyond the last published length (16k: 648) the curve stays flat
    assert kernel.efficiency(44_776, 128, "forward") == pytest.approx(648 / 989)


def test_fp8_attention_only_with_an_fp8_kernel_and_only_forward():
    assert attention_kernel("cudnn", "H100-SXM").runs_in("forward", "fp8") == "bf16"
    fp8 = attention_kernel("flash-attention-3-fp8", "H100-SXM")
    assert fp8.runs_in("forward", "fp8") == "fp8" and fp8.runs_in("backward", "fp8") == "bf16"


def test_kernels_without_data_are_refused_in_one_line():
    with pytest.raises(PlanInputError, match="flash-attention-3 does not run on A100-80G"):
        attention_kernel("flash-attention-3", "A100-80G")
    with pytest.raises(PlanInputError, match="no published benchmark"):
        attention_kernel("cudnn", "A100-80G")
    assert default_kernel("A100-80G") == "flash-attention-2" and default_kernel("H100-SXM") == "cudnn"
    assert "unfused" in kernel_names()


def test_gemm_efficiency_grows_with_size_and_output_tiles_fold():
    small, large = gemm_efficiency([256, 4096], [256, 4096], [256, 4096], "H100-SXM")
    assert small < large
    # the table's 4096^3 point: 783.3 of 989 TFLOP/s (gemm.yaml cites it rounded to 0.792)
    assert large == pytest.approx(783.3 / 989, rel=1e-3)
    # a GEMM with few rows but very wide outputs runs like the folded (rows x width) one
    assert gemm_efficiency(2048, 32768, 4096, "H100-SXM") == pytest.approx(gemm_efficiency(16384, 4096, 4096, "H100-SXM"))


@pytest.mark.parametrize("kernel", BF16_KERNELS)
def test_fp8_never_shortens_attention_under_a_bf16_kernel(kernel):
    layout = Layout(tp=2, cp=4, dp=64, zero=2, micro_batch=1, recompute="none", cp_kind="ring")
    bf16, fp8 = _metrics(layout, "bf16", kernel), _metrics(layout, "fp8", kernel)
    assert fp8.time.attention_s[0] >= bf16.time.attention_s[0]


layouts = st.builds(
    lambda tp, cp, pp, rc, kind: Layout(tp=tp, cp=cp, pp=pp, dp=8, zero=1, recompute=rc, cp_kind=kind),
    st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2, 4]), st.sampled_from([1, 2, 4]),
    st.sampled_from(["none", "selective", "full"]), st.sampled_from(["ring", "ulysses"]),
)


@settings(max_examples=40, deadline=None)
@given(layout=layouts)
def test_fp8_step_at_least_bf16_step_less_half_its_gemm_seconds(layout):
    """FP8 peak is 2x BF16: at best the GEMM seconds halve; casts and the rest do not shrink."""
    bf16, fp8 = _metrics(layout, "bf16"), _metrics(layout, "fp8")
    assert fp8.time.step_time_s[0] >= bf16.time.step_time_s[0] - 0.5 * bf16.time.matmul_s[0] - 1e-9


@settings(max_examples=40, deadline=None)
@given(layout=layouts)
def test_overlapping_stack_never_slower_than_no_overlap(layout):
    assert _metrics(layout, stack="megatron-core").time.step_time_s[0] <= _metrics(layout, stack="no-overlap").time.step_time_s[0] + 1e-9


def test_stacks_name_each_overlap_with_a_source():
    for name in stack_names():
        stack = load_stack(name)
        for prop in ("param_gather_overlap", "grad_reduce_overlap", "grad_bucket_params", "tp_comm_overlap", "cp_comm_overlap"):
            assert getattr(stack, prop).source


def test_fp8_weights_are_held_as_the_stack_holds_them():
    layout = Layout(tp=2, cp=4, dp=64, zero=2, micro_batch=1, recompute="none")
    # Megatron-Core (fp8_param_gather): the weights are FP8, 1 byte a parameter instead of 2, with no copy
    bf16, fp8 = _metrics(layout).memory, _metrics(layout, "fp8").memory
    assert np.all(bf16.fp8_weight_copies == 0) and np.all(fp8.fp8_weight_copies == 0)
    assert fp8.weights[0] == pytest.approx(bf16.weights[0] / 2) and np.all(fp8.total < bf16.total)
    # BF16 weights with Transformer Engine's cached FP8 weight and transpose (the no-overlap stack): copies on top
    bf16, fp8 = _metrics(layout, stack="no-overlap").memory, _metrics(layout, "fp8", stack="no-overlap").memory
    assert np.all(bf16.fp8_weight_copies == 0) and np.all(fp8.fp8_weight_copies > 0) and np.all(fp8.weights == bf16.weights)


def test_a_gpu_without_kernel_tables_or_curves_is_refused():
    unknown = H100.model_copy(update={"name": "X1"})
    with pytest.raises(PlanInputError, match="no kernel benchmarks"):
        compute_rates(unknown, load_profile(H100.name), None, "bf16")
