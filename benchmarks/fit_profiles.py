"""Fit the few figures kernels and datasheets cannot give, on shared/reference/calibration-runs.csv.

What is fitted and how: estimators/calibration/fit.py (compute_derate and memory_efficiency, one value for
every GPU). With --write, every bundled GPU profile gets the fitted values, the rows they were fitted
to, and where collectives come from; a GPU kind without calibration rows says so.

Usage: python -m benchmarks.fit_profiles [CSV] [--write]
"""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import yaml

from estimators.calibration.backtest import read_rows
from estimators.calibration.fit import FITTED, FIXED_SOURCES, fit, profiles_from
from estimators.catalog.files import DATA_DIR
from estimators.catalog.gpus import gpu_catalogue

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT.parent / "shared" / "reference" / "calibration-runs.csv"


def profiled_gpus() -> list[str]:
    """Every bundled GPU kind."""
    return sorted({gpu.name for gpu in gpu_catalogue().values()})


def write_profiles(values: dict, csv_path: Path, ids: list[str], score: float, rows_gpus: set[str]) -> None:
    """Write every GPU's profile atomically."""
    for gpu in profiled_gpus():
        own = "" if gpu in rows_gpus else f" {gpu} has no calibration rows: the shared values apply unchanged."
        provenance = (
            f"{', '.join(FITTED)} fitted by benchmarks/fit_profiles.py to {csv_path.name} (in-sample MAPE {score:.1%}; "
            f"leave-one-source-out in data/profiles/crossvalidation.yaml), one value for all GPUs.{own} "
            f"Fixed, not fitted: {FIXED_SOURCES}. Compute otherwise from data/kernels (published benchmarks)."
        )
        profile = profiles_from(values, [gpu], provenance, str(date.today()), tuple(ids))[gpu]
        path = DATA_DIR / "profiles" / f"{gpu}.yaml"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(profile.model_dump(exclude_none=True), sort_keys=False))
        tmp.replace(path)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    csv_path = Path(args[0]) if args else DEFAULT_CSV
    rows = read_rows(csv_path)
    values, score = fit(rows)
    for name in FITTED:
        print(f"{name:24s} {values[name]:.4f}")
    print(f"back-test MAPE after fit (in-sample): {score:.2%}")
    if "--write" in sys.argv:
        write_profiles(values, csv_path, [r.id for r in rows], score, {r.gpu_name for r in rows})
        print("profiles written to", DATA_DIR / "profiles")


if __name__ == "__main__":
    main()
