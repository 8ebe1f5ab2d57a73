"""Fit the A100 and H100 device profiles to shared/reference/calibration-runs.csv and write them.

Fitted (by minimising the back-test MAPE with Nelder-Mead, bounded by a logistic transform):
  per GPU (A100-80G, H100-SXM): matmul_efficiency_max, attention_efficiency_max, tp_overlap
  shared by both: matmul_half_dim, attention_half_seq, memory_efficiency, nvlink_efficiency,
                  nic_efficiency, dp_overlap
Fixed (not fitted): ring-step latencies, 10 us in a node and 20 us across nodes (NCCL's order of
magnitude; they matter only for tiny messages). H200 and B200 have no calibration runs: their profiles
copy the H100 fit and say so.

Usage: python benchmarks/fit_profiles.py [CSV] [--write]
"""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import minimize

from estimators.backtest import predict_row, read_rows
from estimators.presets import DATA_DIR
from estimators.profiles import DeviceProfile

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT.parent / "shared" / "reference" / "calibration-runs.csv"
FITTED_GPUS = ("A100-80G", "H100-SXM")
PER_GPU = ("matmul_efficiency_max", "attention_efficiency_max", "tp_overlap")
SHARED = ("matmul_half_dim", "attention_half_seq", "memory_efficiency", "nvlink_efficiency", "nic_efficiency", "dp_overlap")
BOUNDS = {
    "matmul_efficiency_max": (0.3, 0.95), "attention_efficiency_max": (0.2, 0.95), "tp_overlap": (0.0, 0.95),
    "matmul_half_dim": (1.0, 4096.0), "attention_half_seq": (1.0, 16384.0), "memory_efficiency": (0.3, 0.95),
    "nvlink_efficiency": (0.3, 0.95), "nic_efficiency": (0.3, 0.95), "dp_overlap": (0.0, 1.0),
}
FIXED = {"nvlink_latency_s": 1.0e-5, "nic_latency_s": 2.0e-5}
NAMES = [f"{g}:{p}" for g in FITTED_GPUS for p in PER_GPU] + list(SHARED)


def to_values(z: np.ndarray) -> dict:
    """Unbounded vector -> bounded parameter values (logistic)."""
    out = {}
    for name, zi in zip(NAMES, z):
        low, high = BOUNDS[name.split(":")[-1]]
        out[name] = low + (high - low) / (1 + np.exp(-zi))
    return out


def profiles_from(values: dict, provenance: str) -> dict[str, DeviceProfile]:
    """DeviceProfile per fitted GPU from a parameter dict."""
    shared = {k: float(values[k]) for k in SHARED}
    return {
        g: DeviceProfile(
            gpu=g, provenance=provenance, date=str(date.today()),
            **{p: float(values[f"{g}:{p}"]) for p in PER_GPU}, **shared, **FIXED,
        )
        for g in FITTED_GPUS
    }


def mape(rows, profiles) -> float:
    errors = [predict_row(r, profiles) / r.measured_step_s - 1 for r in rows]
    return float(np.mean(np.abs(errors)))


def fit(rows, start: np.ndarray | None = None) -> tuple[dict, float]:
    """Best parameters and their MAPE."""
    z0 = np.zeros(len(NAMES)) if start is None else start

    def objective(z):
        return mape(rows, profiles_from(to_values(z), "fit"))

    result = minimize(objective, z0, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-3, "fatol": 1e-6, "adaptive": True})
    return to_values(result.x), float(result.fun)


def write_profiles(values: dict, csv_path: Path, ids: list[str], score: float) -> None:
    """Write the fitted profiles (and the H100 copies for H200/B200) atomically."""
    provenance = (
        f"fitted by benchmarks/fit_profiles.py to {csv_path.name} rows {', '.join(ids)} "
        f"(back-test MAPE {score:.1%}); latencies fixed, not fitted"
    )
    fitted = profiles_from(values, provenance)
    fitted["H200"] = fitted["H100-SXM"].model_copy(update={"gpu": "H200", "provenance": "assumed equal to the H100-SXM fit (no calibration runs on H200): " + provenance})
    fitted["B200"] = fitted["H100-SXM"].model_copy(update={"gpu": "B200", "provenance": "assumed equal to the H100-SXM fit (no calibration runs on B200): " + provenance})
    for name, profile in fitted.items():
        path = DATA_DIR / "profiles" / f"{name}.yaml"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(profile.model_dump(), sort_keys=False))
        tmp.replace(path)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    csv_path = Path(args[0]) if args else DEFAULT_CSV
    rows = read_rows(csv_path)
    values, score = fit(rows)
    for name in NAMES:
        print(f"{name:40s} {values[name]:.4f}")
    print(f"back-test MAPE after fit: {score:.2%}")
    if "--write" in sys.argv:
        write_profiles(values, csv_path, [r.id for r in rows], score)
        print("profiles written to", DATA_DIR / "profiles")


if __name__ == "__main__":
    main()
