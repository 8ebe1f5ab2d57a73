"""The closed loop on the reference system: measure this CPU as a serving device, predict the reference
server's latency with the same serving model `plan serve` uses, drive the server, compare.

The device is measured by microbenchmarks at the server's thread count, none of which runs the served
model: matmul and attention curves and memory bandwidth (reference_model/microbench.py), the fixed cost of
a DiT layer (forwards of reference DiTs of other depths and widths at one token, a slope through the
origin), the efficiency and fixed cost of a 3D convolution, the container encoder's rate and fixed cost.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from estimators.catalog.serving import tf32_peak_per_bf16_peak
from estimators.errors import PlanInputError
from estimators.serving.forward import Placement
from estimators.serving.latency import clip_latency, serve_problem
from estimators.serving.machine import Machine
from estimators.serving.parallel import Split
from estimators.serving.queueing import MAX_UTILIZATION, fleet_percentiles
from estimators.serving.results import ClipLatency, LoadRate, LoadTestResult, MeasuredDevice
from estimators.specs.hardware import GPUSpec
from estimators.specs.models import VideoSystemSpec
from estimators.specs.profile import DeviceProfile
from estimators.specs.serving import ContainerEncoding, ServingClip, ServingDevice
from estimators.time.compute_rates import compute_rates
from reference_model.dit import AsymmDiT
from reference_model.loadtest import drive, loopback_url, reachable, unloaded_latency
from reference_model.microbench import measure_device
from reference_model.system import ReferenceConfig, load_config
from reference_model.video_io import write_video

THREADS = 1  # the server's model threads (reference_model/server.py)
REPEATS = 15
OVERHEAD_DEPTHS = (2, 3, 5, 6)
OVERHEAD_WIDTHS = (64, 128)
CONV_CHANNELS, CONV_VOLUME = 32, (8, 16, 16)
ENCODE_FRAMES, ENCODE_SIDE = 19, 64
GUIDANCE = "sequential-2"  # reference_model/sample.py: a conditional then an unconditional forward a step
VAE_PRECISION = "fp32"
STABLE_UTILIZATION = 0.9  # rates below it count for the p95 error: near saturation a short test has no steady state
TARGET = "p95 within 20% of the measured below saturation"
SERVER_START_S = 120


def _median_s(fn) -> float:
    fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def layer_overhead_s(config: ReferenceConfig) -> float:
    """Seconds a DiT layer costs at one token (its FLOPs negligible): forwards of depths 2, 3, 5 and 6 at
    widths 64 and 128, a slope through the origin (the served model's own depth and width left out)."""
    layers, seconds = [], []
    for width in OVERHEAD_WIDTHS:
        for depth in OVERHEAD_DEPTHS:
            spec = config.dit.model_copy(update={"num_layers": depth, "visual_width": width, "cond_width": width, "max_text_tokens": 1})
            model = AsymmDiT(spec).eval()
            inputs = (torch.randn(1, spec.in_channels, 1, 1, 1), torch.rand(1), torch.randn(1, 1, spec.text_feature_dim), torch.ones(1, 1, dtype=torch.bool))
            layers.append(depth)
            seconds.append(_median_s(lambda: model(*inputs)))
    layers, seconds = np.array(layers, dtype=float), np.array(seconds)
    return float(layers @ seconds / (layers @ layers))


@torch.no_grad()
def conv_figures(peak_flops: float) -> tuple[float, float]:
    """(efficiency of a 3x3x3 convolution of 32 channels over 8x16x16, fixed seconds of a 1x1x1 one)."""
    conv = torch.nn.Conv3d(CONV_CHANNELS, CONV_CHANNELS, 3, padding=1)
    x = torch.randn(1, CONV_CHANNELS, *CONV_VOLUME)
    flops = 2 * CONV_CHANNELS * CONV_CHANNELS * 27 * int(np.prod(CONV_VOLUME))
    efficiency = flops / _median_s(lambda: conv(x)) / peak_flops
    tiny = torch.nn.Conv3d(8, 8, 1)
    point = torch.randn(1, 8, 1, 1, 1)
    return min(efficiency, 1.0), _median_s(lambda: tiny(point))


def container_figures() -> tuple[float, float]:
    """(pixel-frames a second, fixed seconds a clip) of writing an MP4 here."""
    rng = np.random.default_rng(0)
    video = rng.integers(0, 255, (ENCODE_FRAMES, ENCODE_SIDE, ENCODE_SIDE, 3), dtype=np.uint8)
    one = video[:1, :16, :16]
    with tempfile.TemporaryDirectory() as tmp:
        full = _median_s(lambda: write_video(video, Path(tmp) / "a.mp4", 8))
        fixed = _median_s(lambda: write_video(one, Path(tmp) / "b.mp4", 8))
    return ENCODE_FRAMES * ENCODE_SIDE * ENCODE_SIDE / max(full - fixed, 1e-6), fixed


def measure_machine(config: ReferenceConfig) -> tuple[Machine, MeasuredDevice]:
    """This CPU as a serving device (at THREADS threads) and the measured figures as plain data."""
    torch.set_num_threads(THREADS)
    device = measure_device()
    today = device["profile"]["date"]
    overhead = layer_overhead_s(config)
    gpu = GPUSpec.model_validate(device["hardware"])
    peak = gpu.peak_flops("fp32")
    conv_efficiency, conv_overhead = conv_figures(peak)
    rate, per_clip = container_figures()
    profile = DeviceProfile.model_validate({**device["profile"], "layer_overhead_s": overhead,
                                            "provenance": "microbenchmarks of reference_model/serving_check.py at one thread"})
    serving = ServingDevice(name=gpu.name, host_link=None, conv_efficiency=conv_efficiency,
                            conv_source=f"Conv3d {CONV_CHANNELS}->{CONV_CHANNELS} 3x3x3 over {CONV_VOLUME}, measured {today}",
                            conv_layer_overhead_s=conv_overhead, host_cores_per_gpu=1.0, host_source="the server's one core")
    encoding = ContainerEncoding(pixel_frames_per_s_per_core=rate, per_clip_s=per_clip, source=f"write_video here, measured {today}", date=today)
    machine = Machine(rates=compute_rates(gpu, profile, None, "fp32"), device=serving, encoding=encoding, tf32_ratio=tf32_peak_per_bf16_peak())
    figures = MeasuredDevice(
        peak_flops_fp32=peak, matmul_efficiency_max=profile.matmul_efficiency_max, matmul_half_dim=profile.matmul_half_dim,
        attention_efficiency_max=profile.attention_efficiency_max, attention_half_seq=profile.attention_half_seq,
        memory_bytes_per_s=gpu.hbm_bandwidth_bytes_per_s.value, layer_overhead_s=overhead, conv_efficiency=conv_efficiency,
        conv_layer_overhead_s=conv_overhead, container_pixel_frames_per_s=rate, container_per_clip_s=per_clip, date=today,
    )
    return machine, figures


def predicted_latency(config: ReferenceConfig, machine: Machine, frames: int) -> ClipLatency:
    """One request to the reference server, as the serving model times it on ``machine``."""
    system = VideoSystemSpec(name="reference", source="reference_model config", exact=True, dit=config.dit,
                             text_encoder=config.text_encoder, vae=config.vae)
    clip = ServingClip(frames=frames, height=config.clip.height, width=config.clip.width, fps=config.clip.fps,
                       text_tokens=config.dit.max_text_tokens)
    sp = serve_problem(system, clip, config.sampling.steps, GUIDANCE, VAE_PRECISION, None, machine.activation_bytes)
    return clip_latency(sp, machine, Split(), Placement("resident"), 1)


def _rate_row(measured, service_s: float) -> LoadRate:
    utilization = measured.rate_per_s * service_s
    stable = utilization < MAX_UTILIZATION  # beyond it the queue has no steady state the formula describes
    predicted = fleet_percentiles(measured.rate_per_s, 1, 1, service_s) if stable else {}
    p95 = predicted.get(0.95)
    queue = measured.rate_per_s * measured.median_generation_s < MAX_UTILIZATION
    queue_p95 = fleet_percentiles(measured.rate_per_s, 1, 1, measured.median_generation_s)[0.95] if queue else None
    return LoadRate(rate_per_s=measured.rate_per_s, predicted_utilization=utilization, requests=measured.requests,
                    completed=measured.completed, rejected=measured.rejected, measured_p50_s=measured.p50_s,
                    measured_p95_s=measured.p95_s, measured_throughput_per_s=measured.throughput_per_s,
                    measured_service_s=measured.median_generation_s,
                    predicted_p50_s=predicted.get(0.5), predicted_p95_s=p95,
                    predicted_throughput_per_s=min(measured.rate_per_s, 1 / service_s),
                    p95_error=None if p95 is None else p95 / measured.p95_s - 1, queue_p95_s=queue_p95)


class SpawnedServer:
    """`plan reference serve` in a child process on a free loopback port; stopped (that process only) on exit."""

    def __init__(self, run: Path, queue: int):
        command = [sys.executable, "-m", "plan_cli.main", "reference", "serve", "--out", str(run), "--port", "0", "--queue", str(queue)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("serving on "):
            self.close()
            raise PlanInputError(f"the reference server did not start: {(line + self.process.stderr.read()).strip()[:300]}")
        self.url = line.split()[2]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_loadtest(run: Path, url: Optional[str], rates: Optional[list[float]], loads: tuple[float, ...], requests: int,
                 unloaded: int, limit_s: float, seed: int = 0) -> LoadTestResult:
    """Measure the device, start (or reach) the server, drive it at each rate, compare with the prediction."""
    config = load_config(str(run / "config.yaml"))
    frames = config.clip.frames
    if url:
        reachable(loopback_url(url))
    machine, figures = measure_machine(config)
    predicted = predicted_latency(config, machine, frames)
    server = None if url else SpawnedServer(run, queue=max(requests, 16))
    base = loopback_url(url or server.url)
    try:
        measured_s = unloaded_latency(base, frames, unloaded)
        asked = rates or [load / measured_s for load in loads]  # shares of the capacity measured just before
        rows = [_rate_row(drive(base, rate, requests, seed + i, frames, limit_s), predicted.total_s) for i, rate in enumerate(asked)]
    finally:
        if server is not None:
            server.close()
    stable = [abs(r.p95_error) for r in rows if r.p95_error is not None and r.predicted_utilization < STABLE_UTILIZATION]
    return LoadTestResult(
        server="spawned" if url is None else base, config=str(run), frames=frames, steps=config.sampling.steps, guidance=GUIDANCE,
        threads=THREADS, measured_service_s=measured_s, predicted_service_s=predicted.total_s,
        service_error=predicted.total_s / measured_s - 1, predicted=predicted, device=figures, rates=rows,
        p95_mape_below_saturation=float(np.mean(stable)) if stable else None, target=TARGET,
    )
