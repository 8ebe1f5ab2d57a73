"""What a plan's time figures rest on, and when to distrust them: kernel, stack, dominant part, warnings.

MFU is always against the BF16 dense peak (MFU_PRECISION), also for FP8 plans, so plans compare; the
share of the step FP8 can touch is the GEMM seconds' share (attention too where the kernel runs FP8).
"""
from __future__ import annotations

from estimators.time.kernels import kernel_description
from estimators.time.results import Dominant, StepBreakdown, TimeModel
from estimators.time.step import RunSettings

MFU_PRECISION = "bf16"
LOW_MFU = 0.15  # below this a plan is more likely mis-specified than slow
IDLE_SHARE = 0.5  # GPUs waiting (bubble, exposed communication) more than half the step
OVERLAPS = ("param_gather_overlap", "grad_reduce_overlap", "grad_bucket_params", "tp_comm_overlap", "cp_comm_overlap")
WAITING_PARTS = ("bubble", "tensor_parallel", "context_parallel", "pipeline_p2p", "data_parallel_exposed")
DIRECTIONS = ("forward", "backward")


def time_model_assumptions(settings: RunSettings) -> list[str]:
    """Assumption lines naming the kernel, the stack and the FP8 treatment."""
    kernel, stack = settings.rates.kernel, settings.stack
    description = f"{kernel.name}: {kernel_description(kernel.name)}" if kernel else "none: the profile's measured curves"
    overlaps = ", ".join(f"{name} {getattr(stack, name).value}" for name in OVERLAPS)
    lines = [
        f"attention kernel {description} (published benchmarks, data/kernels/attention.yaml)",
        f"training stack {stack.name}: {stack.description}; {overlaps} (data/stacks/stacks.yaml)",
        f"MFU against the {MFU_PRECISION.upper()} dense peak, also under FP8",
    ]
    if settings.precision == "fp8":
        lines.append("FP8 (Transformer Engine recipe): block GEMMs in FP8 with cast traffic and FP8 weight copies; attention in "
                     "BF16 unless the kernel has an FP8 pass; embedders, head and frozen encoders in BF16")
    return lines


def dominant(breakdown: StepBreakdown, step_time_s: float) -> Dominant:
    """The largest part of a step and its share."""
    parts = breakdown.parts()
    part = max(parts, key=parts.get)
    return Dominant(part=part, share=parts[part] / step_time_s)


def stage_warnings(name: str, mfu: float, breakdown: StepBreakdown, step_time_s: float) -> list[str]:
    """Lines for a stage that is more likely mis-specified than slow."""
    out = []
    if mfu < LOW_MFU:
        out.append(f"stage {name}: MFU {mfu:.0%} is under {LOW_MFU:.0%}: check the layout and the batch")
    parts = breakdown.parts()
    idle = sum(parts[p] for p in WAITING_PARTS) / step_time_s
    if idle > IDLE_SHARE:
        out.append(f"stage {name}: GPUs wait {idle:.0%} of the step (pipeline bubble and exposed communication)")
    return out


def time_model(settings: RunSettings, breakdown: StepBreakdown, step_time_s: float, attention_backward_s: float) -> TimeModel:
    """The kernel, stack and precisions a step was timed with, and the shares FP8 and GEMMs take of it."""
    rates = settings.rates
    fp8_s = breakdown.matmul_s
    if rates.attention_precision("forward") == "fp8":
        fp8_s += breakdown.attention_s - attention_backward_s
    return TimeModel(
        kernel=rates.kernel.name if rates.kernel else None,
        stack=settings.stack.name,
        mfu_peak_precision=MFU_PRECISION,
        attention_precision={d: rates.attention_precision(d) for d in DIRECTIONS},
        fp8_share_of_step=fp8_s / step_time_s if settings.precision == "fp8" else 0.0,
        gemm_share_of_step=breakdown.matmul_s / step_time_s,
    )
