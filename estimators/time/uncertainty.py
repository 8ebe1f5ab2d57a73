"""Low-high ranges on every time figure, from the cross-validated errors of the step-time model.

Basis: the leave-one-source-out errors e = predicted / measured - 1 on the calibration file
(data/profiles/crossvalidation.yaml, written by benchmarks/crossvalidate_profiles.py). A true step time
consistent with those errors lies in [predicted / (1 + max e), predicted / (1 - |min e|)]. For a plan
outside the calibration set (every video DiT: the calibration runs are LLMs whose attention is a small
share of the step, while a DiT's long-sequence attention can dominate it) the errors are widened by
EXTRAPOLATION_WIDENING: the kernel tables ground attention, but no calibration row has tested that part
of the model at this weight.

Training days scale with the step; GPU-hours and energy scale the training part (preprocessing is kept
at its point value); cost combines the GPU-hour range with the GPU's price range (low with low, high
with high).
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml

from estimators.catalog.files import DATA_DIR

CROSSVALIDATION_FILE = DATA_DIR / "profiles" / "crossvalidation.yaml"
EXTRAPOLATION_WIDENING = 2.0
SECONDS_PER_HOUR = 3_600
WATTS_PER_KILOWATT = 1_000


@lru_cache(maxsize=None)
def crossvalidation() -> dict:
    """The stored leave-one-source-out result."""
    return yaml.safe_load(CROSSVALIDATION_FILE.read_text())


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (how the stored result names the calibration file it was computed from)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_crossvalidation(csv_path: Path) -> Optional[dict]:
    """The stored result when ``csv_path`` holds exactly the bytes it was computed from; None for any other file,
    whatever its name."""
    stored = crossvalidation()
    return stored if stored.get("sha256") == file_sha256(csv_path) else None


def step_factors(extrapolating: bool) -> tuple[float, float, str]:
    """(low, high) multipliers of a predicted step time, and how they were derived."""
    cv = crossvalidation()
    errors = list(cv["errors"].values())
    widen = EXTRAPOLATION_WIDENING if extrapolating else 1.0
    over, under = max(max(errors), 0.0) * widen, min(min(errors), 0.0) * widen
    low, high = 1 / (1 + over), 1 / max(1 + under, 0.05)
    basis = (
        f"leave-one-source-out errors of the step-time model on {cv['file']} span {min(errors):+.1%} to {max(errors):+.1%} "
        f"(CV MAPE {cv['mape']:.1%})"
        + (f", widened x{widen:g} for a workload outside the calibration set (LLM runs; here a video DiT)" if extrapolating else "")
    )
    return low, high, basis


def _span(point: float, low_factor: float, high_factor: float, basis: str) -> dict:
    return {"low": point * low_factor, "high": point * high_factor, "basis": basis}


def plan_uncertainty(result: dict, extrapolating: bool = True) -> dict:
    """The ``uncertainty`` block of a plan: ranges on step time, days, GPU-hours, cost and energy."""
    low, high, basis = step_factors(extrapolating)
    request = result["request"]
    gpu, n = request.cluster.gpu, request.cluster.num_gpus
    train_s = sum(s["train_s"] for s in result["stages"])
    pre_s = sum(s["preprocess_s"] for s in result["stages"])
    hours = {k: (train_s * f + pre_s) * n / SECONDS_PER_HOUR for k, f in (("low", low), ("high", high))}
    price = gpu.price_usd_per_gpu_hour
    power_kw = gpu.board_power_w.value / WATTS_PER_KILOWATT
    price_basis = f"GPU-hour range x price range ${price.low or price.value}-{price.high or price.value}/GPU-hour"
    return {
        "step_time_s": _span(result["last"]["step_time_s"], low, high, basis),
        "train_time_days": _span(result["train_time_days"], low, high, basis),
        "gpu_hours": {"low": hours["low"], "high": hours["high"], "basis": basis + "; preprocessing at its point value"},
        "cost_usd": {"low": hours["low"] * (price.low or price.value), "high": hours["high"] * (price.high or price.value), "basis": price_basis},
        "energy_kwh": {"low": hours["low"] * power_kw, "high": hours["high"] * power_kw, "basis": "GPU-hour range x board power"},
    }
