"""Leave-one-out check of the profile fit: refit without each calibration row, predict that row.

Prints each held-out row's error and the held-out MAPE: the honest figure for runs the fit has not
seen (the in-sample MAPE of `plan backtest` is lower by construction).

Usage: python benchmarks/crossvalidate_profiles.py [CSV]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from benchmarks.fit_profiles import DEFAULT_CSV, fit, profiles_from
from estimators.backtest import predict_row, read_rows


def main() -> None:
    csv_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CSV
    rows = read_rows(csv_path)
    errors = []
    for i, held_out in enumerate(rows):
        training = rows[:i] + rows[i + 1:]
        values, _ = fit(training)
        error = predict_row(held_out, profiles_from(values, "cross-validation")) / held_out.measured_step_s - 1
        errors.append(error)
        print(f"{held_out.id:20s} held-out error {error:+.1%}", flush=True)
    errors = np.abs(errors)
    print(f"held-out MAPE {errors.mean():.2%}, worst {errors.max():.1%}")


if __name__ == "__main__":
    main()
