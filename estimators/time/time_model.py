"""What a plan's time figures rest on, and when to distrust them: kernel, stack, dominant part, warnings.

MFU is always against the BF16 dense peak (MFU_PRECISION), also for FP8 plans, so plans compare; the
share of the step FP8 can touch is the GEMM seconds' share (attention too where the kernel runs FP8).
"""
from __future__ import annotations

from estimators.catalog.profiles import load_profile
from estimators.catalog.stacks import default_stack, load_stack
from estimators.time.compute_rates import compute_rates
from estimators.time.kernels import default_kernel, kernel_description
from estimators.time.uncertainty import plan_uncertainty

MFU_PRECISION = "bf16"
LOW_MFU = 0.15  # below this a plan is more likely mis-specified than slow
IDLE_SHARE = 0.5  # GPUs waiting (bubble, exposed communication) more than half the step
OVERLAPS = ("param_gather_overlap", "grad_reduce_overlap", "grad_bucket_params", "tp_comm_overlap", "cp_comm_overlap")
STEP_PARTS = (
    "matmul", "attention", "elementwise", "overhead", "frozen_encoders", "tensor_parallel", "context_parallel",
    "pipeline_p2p", "bubble", "data_parallel_exposed", "optimizer",
)
WAITING_PARTS = ("bubble", "tensor_parallel", "context_parallel", "pipeline_p2p", "data_parallel_exposed")


def time_model_assumptions(gpu_name: str, kernel: str | None, stack: str | None, precision: str) -> list[str]:
    """Assumption lines naming the kernel, the stack and the FP8 treatment."""
    kernel = kernel or default_kernel(gpu_name)
    stack_spec = load_stack(stack or default_stack())
    description = kernel_description(kernel) if kernel else "the profile's measured curves"
    overlaps = ", ".join(f"{name} {getattr(stack_spec, name).value}" for name in OVERLAPS)
    lines = [
        f"attention kernel {kernel}: {description} (published benchmarks, data/kernels/attention.yaml)",
        f"training stack {stack_spec.name}: {stack_spec.description}; {overlaps} (data/stacks/stacks.yaml)",
        f"MFU against the {MFU_PRECISION.upper()} dense peak, also under FP8",
    ]
    if precision == "fp8":
        lines.append("FP8 (Transformer Engine recipe): block GEMMs in FP8 with cast traffic and FP8 weight copies; attention in "
                     "BF16 unless the kernel has an FP8 pass; embedders, head and frozen encoders in BF16")
    return lines


def _stage_parts(stage: dict) -> dict:
    return {part: stage["metrics"][f"{part}_s"] for part in STEP_PARTS}


def dominant(stage: dict) -> dict:
    """The largest part of a stage's step and its share."""
    parts = _stage_parts(stage)
    part = max(parts, key=parts.get)
    return {"part": part, "share": parts[part] / stage["step_time_s"]}


def warnings(result: dict) -> list[str]:
    """Lines for plans that are more likely mis-specified than slow."""
    out = []
    for stage in result["stages"]:
        name = stage["stage"].name
        if stage["mfu"] < LOW_MFU:
            out.append(f"stage {name}: MFU {stage['mfu']:.0%} is under {LOW_MFU:.0%}: check the layout and the batch")
        parts = _stage_parts(stage)
        idle = sum(parts[p] for p in WAITING_PARTS) / stage["step_time_s"]
        if idle > IDLE_SHARE:
            out.append(f"stage {name}: GPUs wait {idle:.0%} of the step (pipeline bubble and exposed communication)")
    return out


def diagnose(result: dict) -> dict:
    """time_model, dominant, warnings and uncertainty blocks of a plan."""
    request = result["request"]
    gpu = request.cluster.gpu
    last = result["stages"][-1]
    rates = compute_rates(gpu, load_profile(gpu.name), request.kernel, request.precision)
    metrics = last["metrics"]
    fp8_s = metrics["matmul_s"]
    if rates.attention_precision("forward") == "fp8":
        fp8_s += metrics["attention_s"] - metrics["attention_backward_s"]
    fp8_share = fp8_s / last["step_time_s"] if request.precision == "fp8" else 0.0
    return {
        "time_model": {
            "kernel": rates.kernel.name if rates.kernel else None,
            "stack": request.stack or default_stack(),
            "mfu_peak_precision": MFU_PRECISION,
            "attention_precision": {d: rates.attention_precision(d) for d in ("forward", "backward")},
            "fp8_share_of_step": fp8_share,
            "gemm_share_of_step": last["metrics"]["matmul_s"] / last["step_time_s"],
        },
        "dominant": dominant(last),
        "warnings": warnings(result),
        "uncertainty": plan_uncertainty(result),
    }
