"""What the search chooses for the published runs when their recompute and interleaving are not given (issue 19
item 4): the calibration file with its ``recompute`` and ``vpp`` columns blanked (in a temporary copy), each row's
choice and error against the published layout's, and the MAPE of both.

    PYTHONPATH=$PWD python3 -m benchmarks.searched_recompute_check
"""
from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from estimators.calibration.backtest import backtest
from estimators.catalog.files import DATA_DIR

BLANKED = ("recompute", "vpp")
CALIBRATION = DATA_DIR / "calibration" / "calibration-runs.csv"  # byte-equal to shared/reference/calibration-runs.csv (a test)


def blanked_copy(source: Path, folder: Path) -> Path:
    """``source`` with the BLANKED columns emptied, written in ``folder``."""
    rows = list(csv.DictReader(io.StringIO(source.read_text())))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({**row, **{column: "" for column in BLANKED}} for row in rows)
    path = folder / "calibration-runs-blanked.csv"
    path.write_text(out.getvalue())
    return path


def main() -> None:
    published = backtest(CALIBRATION)
    with tempfile.TemporaryDirectory() as folder:
        searched = backtest(blanked_copy(CALIBRATION, Path(folder)))
    given = {r.id: r for r in published.rows}
    print(f"{'run':18s} {'published layout':>26s} {'error':>7s}   {'searched: recompute, vpp':>26s} {'error':>7s}")
    for row in searched.rows:
        was = given[row.id]
        print(f"{row.id:18s} {was.layout.recompute + ', vpp ' + str(was.layout.vpp):>26s} {was.error:+7.1%}   "
              f"{row.layout.recompute + ', vpp ' + str(row.layout.vpp):>26s} {row.error:+7.1%}")
    print(f"MAPE: published layouts {published.mape:.2%}, recompute and vpp searched {searched.mape:.2%}")


if __name__ == "__main__":
    main()
