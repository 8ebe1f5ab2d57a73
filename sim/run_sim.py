"""Monte Carlo of a whole training run with failures, restarts and checkpoints.

Work is done in segments of ``interval`` seconds of training, each ended by a checkpoint. Failures
arrive as a Poisson process at rate num_gpus x per-GPU rate; a failure loses the work since the last
completed checkpoint, then costs detection + restart time and a checkpoint read. A synchronous
checkpoint stalls training for its write; an asynchronous one stalls only for the snapshot to host
memory and writes in the background (a failure during the background write loses that checkpoint).

Young (1974) / Daly (2006): the interval minimising expected waste is about sqrt(2 delta M) for
checkpoint cost delta and mean time between failures M (Daly: sqrt(2 delta M) - delta when delta < 2M).
Default failure rate: Llama 3 pre-training, 419 unexpected interruptions in 54 days on 16,384 H100s
(Dubey et al. 2024, sec. 3.3.4) = 419 / (54 x 24 x 16,384) per GPU-hour. The rate, the restart and the
interval come from estimators/planning/failures.py, whose closed form gives this process's mean and P90
for plans that are not simulated (the deadline search, the one-line answer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from estimators.errors import PlanInputError
from estimators.planning.failures import DEFAULT_RESTART_S, LLAMA3_FAILURES_PER_GPU_HOUR, young_daly_interval_s
from estimators.units import SECONDS_PER_HOUR

# Segment attempts a command's Monte Carlo may march through: about 1.2 microseconds each here, so a few
# seconds (the default plan, 1,000 runs, takes 74,000).
MAX_SEGMENT_ATTEMPTS = 3_000_000


@dataclass(frozen=True)
class RunInputs:
    """A run to simulate; times in seconds."""

    work_s: float  # failure-free training time (steps x step time)
    num_gpus: int
    failures_per_gpu_hour: float = LLAMA3_FAILURES_PER_GPU_HOUR
    restart_s: float = DEFAULT_RESTART_S  # detection + job restart (planning assumption)
    checkpoint_write_s: float = 60.0  # full checkpoint to storage
    checkpoint_read_s: float = 60.0
    snapshot_s: float = 5.0  # async: copy of the state to host memory (the only stall)
    asynchronous: bool = False
    interval_s: Optional[float] = None  # None: Young/Daly

    @property
    def mtbf_s(self) -> float:
        """Job mean time between failures."""
        rate = self.num_gpus * self.failures_per_gpu_hour / SECONDS_PER_HOUR
        return math.inf if rate == 0 else 1 / rate

    @property
    def effective_interval_s(self) -> float:
        """The interval the run uses: the given one, else Young/Daly's, at most the whole run."""
        return min(self.interval_s or young_daly_interval_s(self.stall_s, self.mtbf_s), self.work_s)

    @property
    def stall_s(self) -> float:
        """Training time lost to one checkpoint (delta in Young/Daly)."""
        return self.snapshot_s if self.asynchronous else self.checkpoint_write_s


def expected_segment_attempts(inp: RunInputs) -> float:
    """Mean loop iterations of one run: segments x attempts each.

    A segment and its checkpoint (exposure e) survive with probability exp(-e / MTBF) (Poisson
    failures), so each takes exp(e / MTBF) attempts on average; the exponent is capped to stay finite.
    """
    interval = inp.effective_interval_s
    if not (interval > 0 and math.isfinite(inp.work_s / interval)):  # a subnormal interval overflows the segment count
        return math.inf
    exposure = interval + inp.stall_s + (inp.checkpoint_write_s - inp.snapshot_s if inp.asynchronous else 0.0)
    return math.ceil(inp.work_s / interval) * math.exp(min(exposure / inp.mtbf_s, 700.0))


def check_simulation_size(inp: RunInputs, runs: int, budget: float = MAX_SEGMENT_ATTEMPTS) -> None:
    """Refuse up front a Monte Carlo that would run for minutes (failures far more often than checkpoints)."""
    attempts = runs * expected_segment_attempts(inp)
    if attempts > budget:
        raise PlanInputError(
            f"the failure simulation would march through about {attempts:.2g} checkpoint segments ({runs:,} runs; job MTBF "
            f"{inp.mtbf_s:,.0f} s against {inp.effective_interval_s:,.0f} s between checkpoints and a {inp.restart_s:,.0f} s restart), "
            f"more than {budget:,.0f}: lower --runs or --failures-per-gpu-hour, or plan a shorter run"
        )


def simulate_runs(inp: RunInputs, runs: int, seed: int, progress: Optional[Callable[[int], None]] = None) -> np.ndarray:
    """Wall-clock seconds of ``runs`` independent runs (failures drawn with ``seed``)."""
    interval = inp.effective_interval_s
    rng = np.random.default_rng(seed)
    walls = np.empty(runs)
    for r in range(runs):
        walls[r] = _one_run(inp, interval, rng)
        if progress:
            progress(r + 1)
    return walls


def _one_run(inp: RunInputs, interval: float, rng: np.random.Generator) -> float:
    """One run: march segment by segment, drawing the time to the next failure as needed."""
    wall, saved, next_failure = 0.0, 0.0, rng.exponential(inp.mtbf_s)
    background = inp.checkpoint_write_s - inp.snapshot_s if inp.asynchronous else 0.0
    while saved < inp.work_s:
        segment = min(interval, inp.work_s - saved)
        last = saved + segment >= inp.work_s
        stall = 0.0 if last else inp.stall_s
        # an async checkpoint is safe only once its background write has finished
        exposure = segment + stall + (background if not last else 0.0)
        if wall + exposure <= next_failure or math.isinf(next_failure):
            wall += segment + stall
            saved += segment
            continue
        # failed before this segment's checkpoint was safely written: its work is lost
        wall = next_failure + inp.restart_s + inp.checkpoint_read_s
        next_failure = wall + rng.exponential(inp.mtbf_s)
    return wall


def goodput(work_s: float, walls: np.ndarray) -> np.ndarray:
    """Useful training time over wall-clock time, per run."""
    return work_s / walls


def fitted_optimal_interval_s(inp: RunInputs, intervals: np.ndarray, runs: int, seed: int) -> float:
    """The interval minimising simulated wall-clock time.

    Each interval is simulated with the same seed (common random numbers); the mean waste is fitted
    with Young's form a / tau + b tau + c (checkpoint cost per interval, half an interval lost per
    failure) and minimised at sqrt(a / b): a sweep's raw argmin is too noisy where the curve is flat.
    """
    waste = np.array([simulate_runs(RunInputs(**{**inp.__dict__, "interval_s": float(tau)}), runs, seed).mean() - inp.work_s for tau in intervals])
    design = np.column_stack([1 / intervals, intervals, np.ones_like(intervals)])
    (a, b, _), *_ = np.linalg.lstsq(design, waste, rcond=None)
    return float(np.sqrt(a / b))
