"""The PDF report: written atomically, the expected pages, headline figures equal to plan estimate --json."""
import json

from pypdf import PdfReader
from typer.testing import CliRunner

from plan_cli.main import app
from reports.pdf import headline_lines

runner = CliRunner()
# summary, workload/assumptions, FLOPs+memory, layouts, scaling, goodput, validation
EXPECTED_PAGES = 7


def test_report_pages_and_headline_match_estimate(tmp_path, calibration_csv):
    pdf = tmp_path / "plan.pdf"
    result = runner.invoke(app, ["report", "--gpus", "H100x512", "-o", str(pdf), "--runs", "20", "--calibration", str(calibration_csv)])
    assert result.exit_code == 0, result.output
    reader = PdfReader(str(pdf))
    assert len(reader.pages) == EXPECTED_PAGES
    summary = reader.pages[0].extract_text()
    doc = json.loads(runner.invoke(app, ["estimate", "--gpus", "H100x512", "--json"]).stdout)
    for line in headline_lines(doc, None):
        assert line in summary, line
    assert [p.name for p in tmp_path.iterdir()] == ["plan.pdf"]  # no temporary file left behind


def test_report_to_a_missing_folder_is_one_line_error(tmp_path):
    result = runner.invoke(app, ["report", "-o", str(tmp_path / "no" / "plan.pdf")])
    assert result.exit_code == 2 and result.stderr.startswith("error:")
