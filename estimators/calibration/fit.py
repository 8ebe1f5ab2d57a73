"""The few figures fitted to calibration runs, and their leave-one-source-out cross-validation.

Fitted (one value for every GPU, so a GPU without rows of its own is still predicted): compute_derate
(what a kernel keeps of its published benchmark inside a training step) and memory_efficiency (the
HBM fraction element-wise ops reach). Everything else comes from kernel benchmarks, datasheets, stack
properties and the link efficiencies below. The fit minimises the back-test MAPE with Nelder-Mead
(calibration/nelder_mead.py, numpy only) over a logistic transform of the bounds (two parameters, each
evaluation one vectorised step model per row; a few seconds). Cross-validation leaves out every row of one
source at once (rows of a source share a cluster and a software stack), refits on the rest and predicts
the held-out rows.
"""
from __future__ import annotations

import numpy as np

from estimators.calibration.backtest import BacktestRow, predict_row
from estimators.calibration.nelder_mead import minimize
from estimators.errors import PlanInputError
from estimators.specs.profile import DeviceProfile

FITTED = ("compute_derate", "memory_efficiency")
BOUNDS = {name: (0.3, 1.0) for name in FITTED}
START = {"compute_derate": 0.9, "memory_efficiency": 0.6}
# Collectives are not fitted and not in the profile: each GPU kind's published bus bandwidths
# (data/hardware) and NCCL's tuning model (data/collectives/algorithms.yaml) time them.
FIXED_SOURCES = (
    "collectives from the GPU kind's published bus bandwidths (data/hardware) through NCCL's / RCCL's algorithm "
    "model (data/collectives/algorithms.yaml)"
)
MAX_ITERATIONS = 400
TOLERANCE = 1e-3


def _to_values(z: np.ndarray) -> dict:
    """Unbounded vector -> bounded parameter values (logistic)."""
    return {name: low + (high - low) / (1 + np.exp(-zi)) for (name, (low, high)), zi in zip(BOUNDS.items(), z)}


def _to_z(values: dict) -> np.ndarray:
    out = []
    for name, (low, high) in BOUNDS.items():
        fraction = (values[name] - low) / (high - low)
        out.append(np.log(fraction / (1 - fraction)))
    return np.array(out)


def profiles_from(values: dict, gpus, provenance: str = "fit", date: str = "", rows: tuple[str, ...] = ()) -> dict[str, DeviceProfile]:
    """A DeviceProfile for each GPU name from fitted values."""
    return {
        g: DeviceProfile(gpu=g, provenance=provenance, date=date, fitted=FITTED, fitted_rows=rows,
                         **{k: float(values[k]) for k in FITTED})
        for g in gpus
    }


def mape(rows: list[BacktestRow], profiles: dict[str, DeviceProfile]) -> float:
    """Mean absolute percentage error of the rows' predictions."""
    return float(np.mean([abs(predict_row(r, profiles) / r.measured_step_s - 1) for r in rows]))


def timed(rows: list[BacktestRow]) -> list[BacktestRow]:
    """The rows that measure a step time (the only ones the fit and its cross-validation use)."""
    return [r for r in rows if r.measured_step_s is not None]


def fit(rows: list[BacktestRow]) -> tuple[dict, float]:
    """Best values of FITTED on these rows (those timed) and their in-sample MAPE."""
    rows = timed(rows)
    gpus = sorted({r.gpu_name for r in rows})

    def objective(z):
        return mape(rows, profiles_from(_to_values(z), gpus))

    result = minimize(objective, _to_z(START), MAX_ITERATIONS, x_tolerance=TOLERANCE, f_tolerance=TOLERANCE / 10)
    return {k: float(v) for k, v in _to_values(result.x).items()}, float(result.fun)


def crossvalidate(rows: list[BacktestRow]) -> dict:
    """Leave-one-source-out: refit without each source, predict its rows; errors per row and the MAPE. Rows of one
    source only leave nothing to fit on: a one-line error says so."""
    rows = timed(rows)
    sources = sorted({r.source for r in rows})
    if len(sources) < 2:
        raise PlanInputError(
            f"--cv leaves each source out and refits on the others, but every row comes from one source ({sources[0] if sources else 'none'}): "
            "nothing is left to fit on. Give rows of two or more sources (the 'source' column; a blank source makes each row its own)")
    errors = {}
    folds = {}
    for source in dict.fromkeys(r.source for r in rows):
        training = [r for r in rows if r.source != source]
        held_out = [r for r in rows if r.source == source]
        if not training:
            continue
        values, _ = fit(training)
        folds[source] = values
        profiles = profiles_from(values, sorted({r.gpu_name for r in rows}))
        for r in held_out:
            errors[r.id] = predict_row(r, profiles) / r.measured_step_s - 1
    spread = np.array(list(errors.values()))
    return {
        "by": "source",
        "mape": float(np.mean(np.abs(spread))) if len(spread) else float("nan"),
        "errors": errors,
        "folds": folds,
    }
