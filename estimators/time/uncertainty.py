"""Low-high ranges on every time figure, from the cross-validated errors of the step-time model.

Basis: the leave-one-source-out errors e = predicted / measured - 1 on the calibration file
(data/profiles/crossvalidation.yaml, written by benchmarks/crossvalidate_profiles.py). A true step time
consistent with those errors lies in [predicted / (1 + max e), predicted / (1 - |min e|)]. For a plan
outside the calibration set (every video DiT: the calibration runs are LLMs whose attention is a small
share of the step, while a DiT's long-sequence attention can dominate it) the errors are widened by
EXTRAPOLATION_WIDENING: the kernel tables ground attention, but no calibration row has tested that part
of the model at this weight. A GPU kind no calibration row ran on (data/profiles/crossvalidation.yaml lists
the kinds that did) is widened again by UNCALIBRATED_GPU_WIDENING: its fitted derate and HBM fraction are
carried over from other GPUs untested; one whose kernel tables are transferred from a sibling's benchmarks
(data/kernels: H20, L40S, MI325X, GB200's GEMMs, B200's non-causal attention) by TRANSFERRED_KERNELS_WIDENING on top. Both are
judgements, not measurements, and the range's basis says which applied.

Training days scale with the step; GPU-hours and energy scale the training part (preprocessing is kept
at its point value); cost combines the GPU-hour range with the GPU's price range (low with low, high
with high).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

from estimators.catalog.files import DATA_DIR, read_data
from estimators.results import Range
from estimators.specs.hardware import Cluster
from estimators.time.kernels import kernel_transfer
from estimators.time.results import Uncertainty
from estimators.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, WATTS_PER_KILOWATT

CROSSVALIDATION_PARTS = ("profiles", "crossvalidation.yaml")
CROSSVALIDATION_FILE = DATA_DIR.joinpath(*CROSSVALIDATION_PARTS)  # benchmarks/crossvalidate_profiles.py writes it
EXTRAPOLATION_WIDENING = 2.0
UNCALIBRATED_GPU_WIDENING = 1.5
TRANSFERRED_KERNELS_WIDENING = 1.5


@lru_cache(maxsize=None)
def crossvalidation() -> dict:
    """The stored leave-one-source-out result."""
    return read_data(*CROSSVALIDATION_PARTS)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (how the stored result names the calibration file it was computed from)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_crossvalidation(csv_path: Path) -> Optional[dict]:
    """The stored result when ``csv_path`` holds exactly the bytes it was computed from; None for any other file,
    whatever its name."""
    stored = crossvalidation()
    return stored if stored.get("sha256") == file_sha256(csv_path) else None


@dataclass(frozen=True)
class StepFactors:
    """Multipliers of a predicted step time that bound the true one, and how they were derived."""

    low: float
    high: float
    basis: str

    def span(self, point: float) -> Range:
        return Range(low=point * self.low, high=point * self.high, basis=self.basis)


def gpu_widening(gpu_name: str | None) -> tuple[float, list[str]]:
    """Extra widening of the range for a GPU kind (1 for one the calibration runs used) and why."""
    if gpu_name is None:
        return 1.0, []
    widen, why = 1.0, []
    calibrated = crossvalidation().get("gpus", [])
    if gpu_name not in calibrated:
        widen *= UNCALIBRATED_GPU_WIDENING
        why.append(f"x{UNCALIBRATED_GPU_WIDENING:g} as no calibration run used {gpu_name} (runs: {', '.join(calibrated)})")
    transfer = kernel_transfer(gpu_name)
    if transfer:
        widen *= TRANSFERRED_KERNELS_WIDENING
        why.append(f"x{TRANSFERRED_KERNELS_WIDENING:g} as its kernel tables are transferred ({transfer})")
    return widen, why


def step_factors(extrapolating: bool, gpu_name: str | None = None) -> StepFactors:
    """(low, high) multipliers of a predicted step time from the cross-validated errors, for a GPU kind."""
    cv = crossvalidation()
    errors = list(cv["errors"].values())
    widen = EXTRAPOLATION_WIDENING if extrapolating else 1.0
    gpu_widen, why = gpu_widening(gpu_name)
    # widened in log space: the measured / predicted ratio of the worst row each way, 1 / (1 + error), raised to the
    # widening, so compounded widenings stay positive and equal in both directions (a linear widening of a -16% error
    # by x4.5 would say 3.4x slow where the log-space one says 2.2x)
    exponent = widen * gpu_widen
    slow_ratio, fast_ratio = 1 / (1 + min(min(errors), 0.0)), 1 / (1 + max(max(errors), 0.0))
    basis = (
        f"leave-one-source-out errors of the step-time model on {cv['file']} span {min(errors):+.1%} to {max(errors):+.1%} "
        f"(CV MAPE {cv['mape']:.1%})"
        + (f", widened x{widen:g} for a workload outside the calibration set (LLM runs; here a video DiT)" if extrapolating else "")
        + "".join(f", {reason}" for reason in why)
    )
    return StepFactors(low=fast_ratio ** exponent, high=slow_ratio ** exponent, basis=basis + " (widenings in log space)")


def plan_uncertainty(cluster: Cluster, step_time_s: float, train_s: float, preprocess_s: float,
                     extrapolating: bool = True) -> Uncertainty:
    """Ranges on step time, days, GPU-hours, cost and energy of a plan (``step_time_s``: its last stage)."""
    factors = step_factors(extrapolating, cluster.gpu.name)
    gpu, n = cluster.gpu, cluster.num_gpus
    hours_low, hours_high = ((train_s * f + preprocess_s) * n / SECONDS_PER_HOUR for f in (factors.low, factors.high))
    price = gpu.price_usd_per_gpu_hour
    power_kw = gpu.board_power_w.value / WATTS_PER_KILOWATT
    price_low, price_high = price.low or price.value, price.high or price.value
    return Uncertainty(
        step_time_s=factors.span(step_time_s),
        train_time_days=factors.span(train_s / SECONDS_PER_DAY),
        gpu_hours=Range(low=hours_low, high=hours_high, basis=factors.basis + "; preprocessing at its point value"),
        cost_usd=Range(low=hours_low * price_low, high=hours_high * price_high,
                       basis=f"GPU-hour range x price range ${price_low}-{price_high}/GPU-hour"),
        energy_kwh=Range(low=hours_low * power_kw, high=hours_high * power_kw, basis="GPU-hour range x board power"),
    )
