"""Leave-one-source-out check of the profile fit: refit without every row of a source, predict them.

Prints each held-out row's error and the cross-validated MAPE (the honest figure for runs the fit has
not seen; `plan backtest FILE --cv` prints the same). With --write, stores the held-out errors in
data/profiles/crossvalidation.yaml, from which plans derive their time ranges (estimators/time/uncertainty.py),
with the SHA-256 of the CSV (`plan report` shows the stored figure only for a file with those bytes).

Usage: python -m benchmarks.crossvalidate_profiles [CSV] [--write]
"""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import yaml

from benchmarks.fit_profiles import DEFAULT_CSV
from estimators.calibration.backtest import read_rows
from estimators.calibration.fit import FITTED, crossvalidate
from estimators.time.uncertainty import CROSSVALIDATION_FILE, file_sha256


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    csv_path = Path(args[0]) if args else DEFAULT_CSV
    rows = read_rows(csv_path)
    cv = crossvalidate(rows)
    for rid, error in cv["errors"].items():
        print(f"{rid:20s} held-out error {error:+.1%}")
    errors = np.abs(list(cv["errors"].values()))
    print(f"leave-one-source-out MAPE {cv['mape']:.2%}, worst {errors.max():.1%}")
    if "--write" in sys.argv:
        document = {
            "by": "source", "file": csv_path.name, "sha256": file_sha256(csv_path), "date": str(date.today()), "fitted": list(FITTED),
            "gpus": sorted({r.gpu_name for r in rows}),
            "mape": round(cv["mape"], 6), "errors": {k: round(float(v), 6) for k, v in cv["errors"].items()},
        }
        tmp = CROSSVALIDATION_FILE.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(document, sort_keys=False))
        tmp.replace(CROSSVALIDATION_FILE)
        print("written", CROSSVALIDATION_FILE)


if __name__ == "__main__":
    main()
