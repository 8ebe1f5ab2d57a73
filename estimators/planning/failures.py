"""Failures, restarts and checkpoints over a whole run, in closed form.

The model is the one `plan simulate` draws from (sim/run_sim.py, which takes its defaults from here):
failures arrive as a Poisson process at rate lambda = GPUs x per-GPU rate while the job trains; work runs
in segments of tau seconds, each but the last ended by a checkpoint that stalls delta seconds; a failure
loses the segment in progress and costs R = restart + checkpoint read, during which no failure is drawn.

A segment exposed for T seconds (tau + delta) succeeds with p = exp(-lambda T); until it does, each failed
attempt costs X = t + R with t ~ Exp(lambda) truncated to [0, T]. The number of failed attempts K is
geometric, so the segment takes T + sum of K draws of X, with (Daly 2006, FGCS 22(3), eq. 5 without
failures during the restart)

    mean = (exp(lambda T) - 1) (1 / lambda + R)
    var  = E[K] var[t] + var[K] E[X]^2,   E[K] = (1 - p) / p,  var[K] = (1 - p) / p^2,
           E[t] = 1 / lambda - T p / (1 - p),  var[t] = 1 / lambda^2 - T^2 p / (1 - p)^2.

Segments are independent: the run's wall clock has the sum of their means and variances, and its P90 is
taken from the normal distribution of that sum. Mean and variance are exact for the simulated process;
the normal P90 is close once a few failures are expected and errs high, by at most about one failure's
cost, when fewer than one is (the simulated P90 is then often failure-free). The checkpoint interval is
Young/Daly's unless given. Defaults: Llama 3's failure rate (419 unexpected interruptions in 54 days on
16,384 H100s, Dubey et al. 2024, sec. 3.3.4), a 10-minute restart, checkpoints of the trained DiT's bf16
weights and fp32 master weights and Adam moments (14 bytes a parameter) written at 20 GB/s and read at
40 GB/s (planning assumptions, said with every figure).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Optional

from pydantic import Field

from estimators.results import Result
from estimators.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

LLAMA3_INTERRUPTIONS = 419
LLAMA3_DAYS = 54
LLAMA3_GPUS = 16_384
HOURS_PER_DAY = 24
LLAMA3_FAILURES_PER_GPU_HOUR = LLAMA3_INTERRUPTIONS / (LLAMA3_DAYS * HOURS_PER_DAY * LLAMA3_GPUS)
DEFAULT_RESTART_S = 600.0  # detect the failure and restart the job (planning assumption)
DEFAULT_STORAGE_WRITE_BYTES_PER_S = 20e9  # aggregate checkpoint write bandwidth (planning assumption)
DEFAULT_STORAGE_READ_BYTES_PER_S = 40e9  # aggregate read bandwidth (planning assumption)
CHECKPOINT_BYTES_PER_PARAM = 2 + 12  # bf16 weights + fp32 master, momentum, variance (gradients are not saved)
P90 = 0.9
Z90 = NormalDist().inv_cdf(P90)


def young_daly_interval_s(stall_s: float, mtbf_s: float) -> float:
    """Daly's first-order optimum sqrt(2 delta M) - delta (Young's sqrt(2 delta M) when delta << M)."""
    if math.isinf(mtbf_s):
        return math.inf
    young = math.sqrt(2 * stall_s * mtbf_s)
    return young - stall_s if stall_s < 2 * mtbf_s else mtbf_s


@dataclass(frozen=True)
class FailureModel:
    """Failure rate, restart and checkpoint costs of a run on ``num_gpus`` GPUs (times in seconds)."""

    num_gpus: int
    checkpoint_bytes: float
    failures_per_gpu_hour: float = LLAMA3_FAILURES_PER_GPU_HOUR
    restart_s: float = DEFAULT_RESTART_S
    write_bytes_per_s: float = DEFAULT_STORAGE_WRITE_BYTES_PER_S
    read_bytes_per_s: float = DEFAULT_STORAGE_READ_BYTES_PER_S
    interval_s: Optional[float] = None  # None: Young/Daly's

    @property
    def rate_per_s(self) -> float:
        return self.num_gpus * self.failures_per_gpu_hour / SECONDS_PER_HOUR

    @property
    def stall_s(self) -> float:
        return self.checkpoint_bytes / self.write_bytes_per_s

    @property
    def lost_per_failure_s(self) -> float:
        """Restart and checkpoint read: R."""
        return self.restart_s + self.checkpoint_bytes / self.read_bytes_per_s

    def interval(self, work_s: float) -> float:
        mtbf = math.inf if self.rate_per_s == 0 else 1 / self.rate_per_s
        return min(self.interval_s or young_daly_interval_s(self.stall_s, mtbf), work_s)


def segment_moments(exposed_s: float, rate_per_s: float, lost_s: float) -> tuple[float, float]:
    """(mean, variance) of the wall-clock seconds one segment exposed for ``exposed_s`` takes (module docstring)."""
    x = rate_per_s * exposed_s
    if x == 0:
        return exposed_s, 0.0
    p = math.exp(-x)
    failed = -math.expm1(-x)  # 1 - p, exact for small x
    mean = math.expm1(x) * (1 / rate_per_s + lost_s)
    t_mean = 1 / rate_per_s - exposed_s * p / failed
    t_var = max(1 / rate_per_s**2 - exposed_s**2 * p / failed**2, 0.0)
    attempts_mean, attempts_var = failed / p, failed / p**2
    return mean, attempts_mean * t_var + attempts_var * (t_mean + lost_s) ** 2


class FailureOutlook(Result):
    """Training wall clock with failures and checkpoints, in closed form (plan simulate draws the same model)."""

    failures_per_gpu_hour: float
    job_mtbf_hours: Optional[float] = Field(description="None when no failures are expected (rate 0).")
    checkpoint_interval_s: float
    expected_failures: float
    mean_days: float = Field(description="Expected training wall clock (no preprocessing).")
    p90_days: float = Field(description="90th percentile of the training wall clock (normal approximation, errs high).")
    basis: str


def outlook(model: FailureModel, work_s: float) -> FailureOutlook:
    """Mean and P90 wall clock of ``work_s`` failure-free training seconds."""
    interval = model.interval(work_s) if work_s > 0 else 0.0
    full = max(math.ceil(work_s / interval) - 1, 0) if interval > 0 else 0
    segments = [(interval + model.stall_s, full), (work_s - full * interval, 1)] if work_s > 0 else []
    rate, lost = model.rate_per_s, model.lost_per_failure_s
    mean = var = 0.0
    for exposed, count in segments:
        m, v = segment_moments(exposed, rate, lost)
        mean, var = mean + count * m, var + count * v
    mtbf_h = math.inf if rate == 0 else 1 / rate / SECONDS_PER_HOUR
    return FailureOutlook(
        failures_per_gpu_hour=model.failures_per_gpu_hour, job_mtbf_hours=mtbf_h if math.isfinite(mtbf_h) else None,
        checkpoint_interval_s=interval, expected_failures=sum(c * math.expm1(rate * e) for e, c in segments),
        mean_days=mean / SECONDS_PER_DAY, p90_days=(mean + Z90 * math.sqrt(var)) / SECONDS_PER_DAY,
        basis=(f"{model.failures_per_gpu_hour:.3g} failures per GPU-hour (Llama 3's rate unless given), {model.restart_s / 60:g}-minute "
               f"restart, {model.checkpoint_bytes / 1e9:,.0f} GB checkpoints every {interval / 60:,.1f} min (Young/Daly) at "
               f"{model.write_bytes_per_s / 1e9:g} GB/s write, {model.read_bytes_per_s / 1e9:g} GB/s read; closed form of the "
               "plan simulate Monte Carlo"),
    )
