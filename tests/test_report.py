"""The PDF report: written atomically, the expected pages, headline figures equal to plan estimate --json,
every stage and the ranges on its pages, every page for fixed layouts and multi-stage plans."""
import json

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from estimators.planning.sweeps import plan_for
from plan_cli.main import app
from reports.pdf import headline_lines

runner = CliRunner()
# summary, stages/time/cost, workload/assumptions, FLOPs+memory, layouts, scaling, goodput, validation
EXPECTED_PAGES = 8
TWO_STAGES = ("--stage", "name=240p,height=240,width=432,frames=85,steps=2000", "--stage", "name=480p,steps=500")


def pages_text(pdf) -> list[str]:
    """Each page's text with line breaks folded (the PDF wraps long lines at spaces)."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(str(pdf)).pages]


def write(tmp_path, calibration_csv, *args):
    pdf = tmp_path / "plan.pdf"
    result = runner.invoke(app, ["report", *args, "-o", str(pdf), "--runs", "20", "--calibration", str(calibration_csv)])
    assert result.exit_code == 0, result.output
    return pdf


def test_report_pages_and_headline_match_estimate(tmp_path, calibration_csv):
    pdf = write(tmp_path, calibration_csv, "--gpus", "H100x512")
    pages = pages_text(pdf)
    assert len(pages) == EXPECTED_PAGES
    for line in headline_lines(plan_for(gpus="H100x512"), None):  # the plan `plan estimate --gpus H100x512` prints
        assert line in pages[0], line
    assert "Three largest risks" in pages[0] and "fits" in pages[0]
    assert "in-sample" in pages[-1] and "22 published training runs" in pages[-1]
    assert [p.name for p in tmp_path.iterdir()] == ["plan.pdf"]  # no temporary file left behind


@pytest.mark.parametrize("args", [
    ("--gpus", "H100x64", *TWO_STAGES),
    ("--gpus", "H100x64", "--layout", "tp=1,pp=1,cp=8,dp=8,zero=2,micro_batch=1,recompute=none"),
])
def test_report_carries_every_stage_and_the_ranges(tmp_path, calibration_csv, args):
    pdf = write(tmp_path, calibration_csv, *args)
    text = " ".join(pages_text(pdf))
    doc = json.loads(runner.invoke(app, ["estimate", *args, "--json"]).stdout)
    for stage in doc["stages"]:
        assert f"{stage['name']}:" in text
        low, high = stage["cost_usd_range"]
        assert f"${low:,.0f} - ${high:,.0f}" in text
    cost = doc["uncertainty"]["cost_usd"]  # time range x price range (issue 10)
    assert f"range ${cost['low']:,.0f} - ${cost['high']:,.0f}" in text
    assert f"${doc['cost_usd']:,.0f}" in text


def test_report_to_a_missing_folder_is_one_line_error(tmp_path):
    result = runner.invoke(app, ["report", "-o", str(tmp_path / "no" / "plan.pdf")])
    assert result.exit_code == 2 and result.stderr.startswith("error:")


def test_headline_shows_the_time_model_ranges():
    result = plan_for(gpus="H100x64")
    doc = json.loads(runner.invoke(app, ["estimate", "--gpus", "H100x64", "--json"]).stdout)
    ranged = doc["uncertainty"]["train_time_days"]
    assert f"(range {ranged['low']:.2f} - {ranged['high']:.2f})" in headline_lines(result, None)[1]
