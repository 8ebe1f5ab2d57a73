"""The step-time model against the published calibration runs (issue: parallel layouts)."""
from pathlib import Path

from estimators.backtest import backtest

MAPE_TARGET = 0.06
WORST_ROW_TARGET = 0.15
BASELINE_MARGIN = 3


def test_backtest_meets_targets_and_beats_constant_mfu(calibration_csv):
    result = backtest(calibration_csv)
    assert result["mape"] <= MAPE_TARGET
    assert result["max_abs_error"] <= WORST_ROW_TARGET
    assert result["baseline"]["mape"] >= BASELINE_MARGIN * result["mape"]
    for row in result["rows"]:
        assert row["error"] == row["predicted_step_s"] / row["measured_step_s"] - 1


def test_backtest_reads_any_file_with_the_columns(calibration_csv, tmp_path: Path):
    lines = calibration_csv.read_text().splitlines()
    # header, one A100 row with a blank micro-batch, one H100 row; measured times doubled
    subset = [lines[0], lines[1], lines[-3]]
    rows = [subset[0]] + [r.replace(",3.528,", ",7.056,") for r in subset[1:]]
    path = tmp_path / "two.csv"
    path.write_text("\n".join(rows) + "\n")
    result = backtest(path)
    assert [r["id"] for r in result["rows"]] == ["nar-1.7b", "dgxc-llama3-8b"]
    assert result["rows"][0]["measured_step_s"] == 7.056
