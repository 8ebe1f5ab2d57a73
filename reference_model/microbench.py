"""Microbenchmarks of the machine the reference model runs on: matmuls by width, attention by length,
element-wise bandwidth, and the ISA peak they are measured against. Produces a hardware spec and a
device profile in the estimators' formats (data, with provenance)."""
from __future__ import annotations

import datetime
import os
import platform
import statistics
import time

import numpy as np
import torch
from scipy.optimize import curve_fit

from estimators.counts.flops import attention_flops, matmul_flops

MATMUL_ROWS = 512  # tokens x batch of a reference layer
MATMUL_DIMS = (32, 64, 96, 128, 192, 256, 384, 512, 768)
ATTENTION_SEQS = (16, 32, 64, 128, 256, 512)
ATTENTION_SHAPE = (8, 4, 24)  # batch, heads, head_dim of the reference DiT
STREAM_ELEMENTS = 16 * 2**20  # 64 MiB of fp32 per operand, far beyond the caches
ADD_TRAFFIC = 3  # c = a + b reads two operands and writes one
REPEATS = 7
FP32_FLOPS_PER_FMA = 2
FMA_PIPES = 2  # AVX-512 and AVX2 cores of this class issue two FMAs a cycle


def _median_seconds(fn, repeats: int = REPEATS) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def isa_peak_flops() -> tuple[float, str]:
    """FP32 peak: threads x clock x SIMD lanes x FMA pipes x 2, read from /proc/cpuinfo."""
    info = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "")
    lanes = 16 if " avx512f" in flags else 8 if " avx2" in flags else 4
    mhz_lines = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    mhz = max(mhz_lines) if mhz_lines else 2000.0
    threads = torch.get_num_threads()
    peak = threads * mhz * 1e6 * lanes * FMA_PIPES * FP32_FLOPS_PER_FMA
    model = next((line.split(":")[1].strip() for line in info.splitlines() if line.startswith("model name")), platform.processor())
    source = f"ISA peak of {model}: {threads} threads x {mhz:.0f} MHz x {lanes} fp32 lanes x {FMA_PIPES} FMA pipes x 2 (/proc/cpuinfo)"
    return peak, source


def matmul_rates() -> list[tuple[int, float]]:
    """(width, FLOP/s) of (rows x d) @ (d x d) in fp32."""
    out = []
    for d in MATMUL_DIMS:
        a, b = torch.randn(MATMUL_ROWS, d), torch.randn(d, d)
        out.append((d, matmul_flops(MATMUL_ROWS, d, d) / _median_seconds(lambda: a @ b)))
    return out


def attention_rates() -> list[tuple[int, float]]:
    """(sequence length, FLOP/s) of bidirectional SDPA forward at the reference's heads and width."""
    batch, heads, dim = ATTENTION_SHAPE
    out = []
    for s in ATTENTION_SEQS:
        q, k, v = (torch.randn(batch, heads, s, dim) for _ in range(3))
        seconds = _median_seconds(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
        out.append((s, attention_flops(s, s, heads * dim, batch) / seconds))
    return out


def memory_bandwidth() -> float:
    """Bytes/s of c = a + b on large fp32 tensors."""
    a, b, c = torch.randn(STREAM_ELEMENTS), torch.randn(STREAM_ELEMENTS), torch.empty(STREAM_ELEMENTS)
    return ADD_TRAFFIC * STREAM_ELEMENTS * 4 / _median_seconds(lambda: torch.add(a, b, out=c))


def saturating(x, eff_max, half):
    return eff_max * x / (x + half)


def fit_efficiency(points: list[tuple[int, float]], peak: float) -> tuple[float, float]:
    """eff_max and half-size of eff(x) = eff_max x / (x + half) through the measured points."""
    xs = np.array([p[0] for p in points], dtype=float)
    effs = np.array([p[1] for p in points]) / peak
    (eff_max, half), _ = curve_fit(saturating, xs, effs, p0=(effs.max(), xs.mean()), bounds=([1e-4, 0.0], [1.0, 1e6]))
    return float(eff_max), float(half)


def measure_device() -> dict:
    """Hardware spec, device profile and the raw points, as plain data."""
    today = datetime.date.today().isoformat()
    peak, peak_source = isa_peak_flops()
    matmuls, attentions, bandwidth = matmul_rates(), attention_rates(), memory_bandwidth()
    best = max(rate for _, rate in matmuls + attentions)
    if best > peak:
        # /proc/cpuinfo gives the base clock; under turbo the measured rate can pass the ISA figure, and
        # efficiencies are fractions of what the machine can do, so the best measured rate is the peak.
        peak, peak_source = best, f"best measured matmul rate ({peak_source} is exceeded: turbo clock)"
    mm_max, mm_half = fit_efficiency(matmuls, peak)
    at_max, at_half = fit_efficiency(attentions, peak)
    host = f"{platform.node() or 'cpu'}-{torch.get_num_threads()}t"
    measured = f"measured by `plan profile` (reference_model/microbench.py) on {today}"
    figure = lambda value, source: {"value": value, "source": source, "date": today}  # noqa: E731
    hardware = {
        "name": "CPU-host", "aliases": [host], "description": f"this machine's CPU, {torch.get_num_threads()} threads, fp32",
        "peak_flops_bf16": figure(None, "not used: the reference model trains in fp32 here"),
        "peak_flops_fp8": figure(None, "no fp8"), "peak_flops_fp32": figure(peak, peak_source),
        "hbm_bytes": figure(float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")), "physical memory (sysconf)"),
        "hbm_bandwidth_bytes_per_s": figure(bandwidth, f"c = a + b on 64 MiB fp32 tensors, {measured}"),
        "nvlink_bytes_per_s_per_direction": figure(bandwidth, "processes on one host exchange through memory: the measured bandwidth"),
        "nic_bytes_per_s": figure(bandwidth, "single host: the measured memory bandwidth"),
        "gpus_per_node": figure(float(os.cpu_count() or 1), "processes on this host"),
        "board_power_w": figure(None, "not measured"),
        "price_usd_per_gpu_hour": figure(0.0, "not priced"),
    }
    profile = {
        "gpu": "CPU-host", "provenance": f"matmul/attention curves and bandwidth {measured}; layer overheads and the "
        "compute scale fitted on the calibration half of the profile grid", "date": today,
        "matmul_efficiency_max": mm_max, "matmul_half_dim": mm_half, "attention_efficiency_max": at_max,
        "attention_half_seq": at_half, "memory_efficiency": 1.0, "nvlink_efficiency": 1.0, "nic_efficiency": 1.0,
        "nvlink_latency_s": 1e-5, "nic_latency_s": 1e-5, "layer_overhead_s": 0.0, "selective_recompute_overhead_s": 0.0,
    }
    points = [{"kind": "matmul", "size": d, "flops_per_s": r, "efficiency": r / peak} for d, r in matmuls]
    points += [{"kind": "attention", "size": s, "flops_per_s": r, "efficiency": r / peak} for s, r in attentions]
    points.append({"kind": "memory", "size": STREAM_ELEMENTS, "flops_per_s": float("nan"), "efficiency": float("nan"), "bytes_per_s": bandwidth})
    return {"hardware": hardware, "profile": profile, "points": points}
