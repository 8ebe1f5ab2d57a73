"""`plan profile`: measure the reference DiT over a grid of configs and hold the estimators to it.

For each config (width, depth, frames, resolution, text length, batch, recompute): median and spread of
the training step (forward, backward, AdamW), per-layer forward/backward times, fvcore FLOPs, achieved
FLOP/s, and the bytes each block keeps for backward. The estimators predict the same step with the
device profile from the microbenchmarks; a layer overhead and one compute scale are then fitted on the
calibration half of the grid, and errors are reported on the held-out half only. A distributed run
(gloo, DDP and FSDP2) compares bytes per collective with the estimators' collectives.
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd
import torch
from scipy.optimize import least_squares

from estimators.counts.problem import video_problem
from estimators.documents.reference import ProfileResult
from estimators.search.evaluate import evaluate
from estimators.specs.asymm_dit import AsymmDiTSpec
from estimators.specs.hardware import GPUSpec
from estimators.specs.layout import Layout
from estimators.specs.layout_arrays import LayoutArrays
from estimators.specs.models import VideoSystemSpec
from estimators.specs.profile import DeviceProfile
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.step import RunSettings
from reference_model.counting import analyse, flops_by_module
from reference_model.dit import AsymmDiT
from reference_model.microbench import measure_device
from reference_model.profiling import block_saved_bytes, time_blocks, time_step
from reference_model.system import load_config

FP32_BYTES = 4
FWD_BWD = 3  # forward + backward matmul FLOPs as a multiple of forward
REFERENCE_STACK = "no-overlap"  # gloo traffic on one host shares the cores with compute: nothing hides
AXES = {
    "visual_width": (64, 96, 128), "num_layers": (2, 4, 6), "frames": (13, 19, 25), "height": (32, 48),
    "text_tokens": (8, 16), "batch": (4, 8, 16), "recompute": ("none", "selective", "full"),
}
QUICK_CONFIGS, FULL_CONFIGS = 16, 36
DISTRIBUTED_RUNS = (("ddp", 2), ("fsdp", 2), ("ddp", 4), ("fsdp", 4))


def grid(count: int, seed: int = 0) -> list[dict]:
    """``count`` distinct configs drawn from the axes (seeded), every recompute mode present."""
    rng = np.random.default_rng(seed)
    rows, seen = [], set()
    while len(rows) < count:
        row = {k: v[rng.integers(len(v))] for k, v in AXES.items()}
        row["recompute"] = AXES["recompute"][len(rows) % 3]
        key = tuple(row.values())
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return rows


def dit_for(row: dict) -> AsymmDiTSpec:
    """The reference DiT with this row's width, depth and text length."""
    return load_config("default").dit.model_copy(update={"visual_width": row["visual_width"], "cond_width": row["visual_width"],
                                                         "num_layers": row["num_layers"], "max_text_tokens": row["text_tokens"]})


def system_for(row: dict) -> VideoSystemSpec:
    """The reference system with this row's DiT (its spec translated into the block vocabulary)."""
    cfg = load_config("default")
    return VideoSystemSpec(name="reference", source="reference_model/configs/default.yaml", exact=True, dit=dit_for(row),
                           text_encoder=cfg.text_encoder, vae=cfg.vae)


def measure(row: dict, repeats: int) -> tuple[dict, list[dict]]:
    """One config: step and per-layer measurements."""
    spec, vae = dit_for(row), load_config("default").vae
    latent = ((row["frames"] - 1) // vae.temporal_compression + 1, row["height"] // vae.spatial_compression, row["height"] // vae.spatial_compression)
    b, text = row["batch"], row["text_tokens"]
    torch.manual_seed(0)
    model = AsymmDiT(spec, recompute=row["recompute"])
    inputs = (torch.randn(b, spec.in_channels, *latent), torch.rand(b), torch.randn(b, text, spec.text_feature_dim), torch.ones(b, text, dtype=torch.bool))
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    timing = time_step(model, inputs, torch.randn(b, spec.in_channels, *latent), repeats, optimiser)
    saved = block_saved_bytes(model, inputs)
    by_module = flops_by_module(analyse(AsymmDiT(spec).eval(), tuple(t[:1] for t in inputs)))  # one sample
    flops = by_module[""]
    layers = time_blocks(model, inputs, repeats)
    step = {**row, **timing, "forward_flops_per_sample": flops, "achieved_flops_per_s": FWD_BWD * flops * b / timing["step_s"],
            "activation_bytes": sum(saved)}
    per_layer = []
    for i, (t, kept) in enumerate(zip(layers, saved)):
        layer_flops = by_module[f"blocks.{i}"]
        per_layer.append({**row, "layer": i, **t, "forward_flops_per_sample": layer_flops, "saved_bytes": kept,
                          "achieved_flops_per_s": FWD_BWD * layer_flops * b / (t["forward_s"] + t["backward_s"])})
    return step, per_layer


def predict(row: dict, gpu: GPUSpec, profile: DeviceProfile) -> dict:
    """The estimators' step time and kept activation bytes for one config on one process."""
    stage = TrainingStage(height=row["height"], width=row["height"], frames=row["frames"], text_tokens=row["text_tokens"], steps=1, global_batch=row["batch"])
    problem = video_problem(system_for(row), stage, Workload(stages=(stage,)), activation_bytes=FP32_BYTES, implementation="pytorch-reference")
    layout = LayoutArrays.from_layouts([Layout(dp=1, zero=0, micro_batch=row["batch"], recompute=row["recompute"])])
    settings = RunSettings.resolve(gpu, global_batch=row["batch"], precision="fp32", stack=REFERENCE_STACK, profile=profile)
    evaluation = evaluate(problem, layout, settings)
    activations = sum(s.tokens * s.saved_bytes_per_token[row["recompute"]] for s in problem.streams) * problem.num_layers * row["batch"]
    return {"predicted_step_s": float(evaluation.time.step_time_s[0]), "predicted_activation_bytes": float(activations)}


def calibrate(rows: list[dict], gpu: GPUSpec, profile: DeviceProfile) -> DeviceProfile:
    """Fit one scale of the compute efficiencies, the per-layer overhead and the selective-recompute
    overhead on the calibration rows (least squares on log step time)."""
    def adjusted(params) -> DeviceProfile:
        scale, overhead, selective = map(float, params)
        return profile.model_copy(update={
            "matmul_efficiency_max": min(profile.matmul_efficiency_max * scale, 1.0),
            "attention_efficiency_max": min(profile.attention_efficiency_max * scale, 1.0), "layer_overhead_s": overhead,
            "selective_recompute_overhead_s": selective,
        })

    def residuals(params):
        p = adjusted(params)
        return [np.log(predict(r, gpu, p)["predicted_step_s"] / r["step_s"]) for r in rows]

    fit = least_squares(residuals, x0=(1.0, 1e-3, 1e-3), bounds=([0.05, 0.0, 0.0], [2.0, 1.0, 1.0]))
    return adjusted(fit.x)


def distributed_collectives(config: str = "default", runs=None) -> list[dict]:
    """Bytes per collective a step, measured under torchrun (gloo) and predicted by the estimators."""
    from reference_model.distributed import BATCH_PER_RANK, distributed_spec

    cfg = load_config(config)
    system = VideoSystemSpec(name="reference", source="reference_model/distributed.py", exact=True, dit=distributed_spec(config), text_encoder=cfg.text_encoder, vae=cfg.vae)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode, world in runs or DISTRIBUTED_RUNS:
            record = Path(tmp) / f"{mode}-{world}.json"
            subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(world), "-m", "reference_model.distributed",
                            "--mode", mode, "--config", config, "--out", str(record)], check=True, capture_output=True, timeout=300)
            measured = json.loads(record.read_text())["steps"][-1]
            predicted = predicted_collectives(system, mode, world, BATCH_PER_RANK)
            for kind, value in measured.items():
                rows.append({"name": f"{mode} {kind} ({world} processes)", "measured_bytes": value, "predicted_bytes": predicted[kind]})
    return rows


def predicted_collectives(system: VideoSystemSpec, mode: str, world: int, batch_per_rank: int) -> dict:
    """Full-buffer bytes a step of each collective kind, from the estimators' collectives."""
    stage = TrainingStage(height=32, width=32, frames=19, text_tokens=system.dit.max_text_tokens, steps=1, global_batch=batch_per_rank * world)
    problem = video_problem(system, stage, Workload(stages=(stage,)), activation_bytes=FP32_BYTES, implementation="pytorch-reference")
    zero = 0 if mode == "ddp" else 3
    layout = LayoutArrays.from_layouts([Layout(dp=world, zero=zero, micro_batch=batch_per_rank, recompute="none")])
    gpu = GPUSpec.model_validate(measure_device_cached()["hardware"])
    profile = DeviceProfile.model_validate(measure_device_cached()["profile"])
    settings = RunSettings.resolve(gpu, global_batch=stage.global_batch, precision="fp32", stack=REFERENCE_STACK, profile=profile)
    out: dict = {"all_reduce": 0.0, "all_gather": 0.0, "reduce_scatter": 0.0}
    for cost in evaluate(problem, layout, settings).time.collectives:
        if cost.group == "dp":
            out[cost.kind] += float(cost.calls[0] * cost.buffer_bytes[0])
    return out


_DEVICE: dict = {}


def measure_device_cached() -> dict:
    """One microbenchmark run per process."""
    if not _DEVICE:
        _DEVICE.update(measure_device())
    return _DEVICE


def median_abs_error(predicted, measured) -> float:
    return float(np.median(np.abs(np.asarray(predicted) / np.asarray(measured) - 1)))


def run_profile(quick: bool, out: Path, progress: Optional[Callable[[int, int], None]] = None, distributed: bool = True,
                configs_count: Optional[int] = None) -> ProfileResult:
    """The whole profile: microbenchmarks, grid, calibration, held-out errors, collectives; files in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    device = measure_device_cached()
    gpu, profile = GPUSpec.model_validate(device["hardware"]), DeviceProfile.model_validate(device["profile"])
    configs = grid(configs_count or (QUICK_CONFIGS if quick else FULL_CONFIGS))
    repeats = 5 if quick else 9
    steps, layers = [], []
    for i, row in enumerate(configs):
        step, per_layer = measure(row, repeats)
        steps.append(step)
        layers.extend(per_layer)
        if progress:
            progress(i + 1, len(configs))
    calibration = steps[0::2]
    fitted = calibrate(calibration, gpu, profile)
    table = pd.DataFrame([{**s, **predict(s, gpu, fitted), "held_out": i % 2 == 1} for i, s in enumerate(steps)])
    held = table[table.held_out]
    collectives = distributed_collectives() if distributed else []
    machine = {"platform": platform.platform(), "processor": gpu.peak_flops_fp32.source, "threads": torch.get_num_threads(), "torch": torch.__version__}
    write_outputs(out, table, pd.DataFrame(layers), device, fitted, machine)
    return ProfileResult(
        step_time_median_abs_error=median_abs_error(held.predicted_step_s, held.step_s),
        activation_memory_median_abs_error=median_abs_error(held.predicted_activation_bytes, held.activation_bytes),
        calibration_step_time_median_abs_error=median_abs_error(table[~table.held_out].predicted_step_s, table[~table.held_out].step_s),
        held_out_configs=int(len(held)), collectives=collectives, device_profile=fitted, machine=machine,
        files=sorted(p.name for p in out.iterdir()),
    )


def write_outputs(out: Path, steps: pd.DataFrame, layers: pd.DataFrame, device: dict, fitted: DeviceProfile, machine: dict) -> None:
    """CSV tables, the device files (YAML) and the predicted-vs-measured plot."""
    import yaml

    steps.assign(**{f"machine_{k}": v for k, v in machine.items()}).to_csv(out / "steps.csv", index=False)
    layers.to_csv(out / "layers.csv", index=False)
    pd.DataFrame(device["points"]).to_csv(out / "microbenchmarks.csv", index=False)
    (out / "cpu-hardware.yaml").write_text(yaml.safe_dump(device["hardware"], sort_keys=False))
    (out / "cpu-profile.yaml").write_text(yaml.safe_dump(fitted.model_dump(), sort_keys=False))
    plot_predictions(steps, out / "predicted-vs-measured.png")


def plot_predictions(steps: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.5))
    for held, marker in ((False, "o"), (True, "s")):
        part = steps[steps.held_out == held]
        label = "held out" if held else "calibration"
        a.loglog(part.step_s, part.predicted_step_s, marker, label=label)
        b.loglog(part.activation_bytes, part.predicted_activation_bytes, marker, label=label)
    for ax, title in ((a, "step time, s"), (b, "activation bytes kept")):
        lo, hi = ax.get_xlim()
        ax.plot([lo, hi], [lo, hi], "k--", linewidth=0.8)
        ax.set(xlabel=f"measured {title}", ylabel=f"predicted {title}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
