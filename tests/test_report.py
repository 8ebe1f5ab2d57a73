"""The PDF report: written atomically, the expected pages, headline figures equal to plan estimate --json,
every stage and the ranges on its pages, every page for fixed layouts and multi-stage plans."""
import json
import re

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from estimators.planning.sweeps import plan_for
from plan_cli.main import app
from reports.pdf import headline_lines

runner = CliRunner()
# summary; stages/time/cost, workload/assumptions and layouts flowing over two pages; FLOPs+memory; scaling; goodput;
# validation
EXPECTED_PAGES = 7
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


# Issue 20: no near-empty page, values on bars and no bar too short to see, legends off the data, one set of
# figures across pages, the memory headline of a multi-stage plan is its most demanding stage.
NEAR_EMPTY = 0.4  # a page whose ink ends above 40% of its height is near-empty (the goodput page was at 15%)
INK_LEVEL = 200  # grey level below which a pixel is ink (white paper is 255)
README_STAGES = ("--stage", "name=240p,height=240,width=432,frames=85,steps=20000", "--stage", "name=480p,steps=10000")
REPORTS = {"default": ("--gpus", "H100x512"), "two stages": ("--gpus", "H100x512", *README_STAGES),
           "fixed layout": ("--gpus", "H100x64", "--layout", "tp=1,pp=1,cp=8,dp=8,zero=2,micro_batch=1,recompute=none"),
           # one layout for both stages, the larger clip first: the first stage needs the most memory
           "largest stage first": ("--gpus", "H100x64", "--layout", "tp=1,pp=1,cp=8,dp=8,zero=2,micro_batch=1,recompute=full",
                                   "--stage", "name=480p,steps=100", "--stage", "name=240p,height=240,width=432,frames=85,steps=100")}


@pytest.fixture(scope="module")
def reports(tmp_path_factory, calibration_csv) -> dict:
    """Each report of REPORTS written once: (each page's text, each page's picture in grey levels)."""
    from PIL import Image

    written = {}
    for name, args in REPORTS.items():
        folder = tmp_path_factory.mktemp("report")
        pngs = folder / "pages"
        pngs.mkdir()
        pdf = write(folder, calibration_csv, *args, "--pages-png", str(pngs))
        count = len(PdfReader(str(pdf)).pages)
        written[name] = pages_text(pdf), [Image.open(pngs / f"report-page-{i}.png").convert("L") for i in range(1, count + 1)]
    return written


@pytest.mark.parametrize("name", REPORTS)
def test_no_page_is_near_empty(reports, name):
    import numpy as np

    for number, picture in enumerate(reports[name][1], 1):
        pixels = np.asarray(picture)
        last_ink_row = np.flatnonzero((pixels < INK_LEVEL).any(axis=1))[-1]
        assert last_ink_row / pixels.shape[0] >= NEAR_EMPTY, f"page {number} ends at {last_ink_row / pixels.shape[0]:.0%}"


def test_every_bar_carries_its_value_and_small_parts_are_said_in_words(reports):
    from reports.pdf import drawn_parts

    bars = next(page for page in reports["default"][0] if "Where a clip's FLOPs go" in page)
    flops = {k: v / 1e15 for k, v in plan_for(gpus="H100x512").flops_per_sample.dit_forward_breakdown.items()}
    drawn, small = drawn_parts(flops)
    assert set(drawn) == {"attention", "linear_visual"} and "cross_attention" not in bars  # zero parts are left out
    for name, value in drawn.items():
        assert name in bars and f"{value:.3g}" in bars
    assert "Too small to draw (PFLOPs per clip (DiT forward)):" in bars and all(f"{k} {v:.3g}" in bars for k, v in small.items())


def test_the_scaling_legend_is_off_the_data():
    from estimators.planning.sweeps import sweep
    from reports.pdf import scaling_figure

    scaling = sweep(gpus=["H100x64", "H100x128", "B200x64", "B200x128"])
    scaling["gpu_type"] = scaling["gpus"].str.split("x").str[0]
    scaling["num_gpus"] = scaling["gpus"].str.split("x").str[1].astype(int)
    figure = scaling_figure(scaling, plan_for(gpus="H100x64"))
    figure.canvas.draw()
    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None]
    assert len(legends) == 1
    for ax in figure.axes:
        assert not legends[0].get_window_extent().overlaps(ax.get_window_extent()), "the legend covers a chart"


def test_the_pages_quote_one_set_of_figures(reports):
    text = reports["default"][0]
    goodput = next(page for page in text if "Goodput, failures and data" in page)
    headline = next(line for line in goodput.split("- ") if line.startswith("Training wall clock with failures"))
    assert " ".join(headline.split()) in text[0]  # failure-free days, P10/P50/P90 and goodput: the same words on page 1
    failure_free = headline.split("failure-free ")[1].split(" days")[0]
    # every failure-free figure page 1 quotes (the headline, and the failures risk when it is among the three largest) is that one
    assert set(re.findall(r"failure-free ([0-9.]+) days", text[0])) == {failure_free}


def test_a_multi_stage_headline_names_the_stage_that_needs_the_most_memory(reports):
    stages = json.loads(runner.invoke(app, ["estimate", *REPORTS["largest stage first"], "--json"]).stdout)["stages"]
    memory = {s["name"]: s["memory_per_gpu_bytes"]["total"] for s in stages}
    assert memory["480p"] > memory["240p"]  # the first stage needs more than the last
    expected = f"Memory per GPU: {memory['480p'] / 2**30:.1f} GiB of 80 GiB in stage 480p, the stage that needs the most"
    assert expected in reports["largest stage first"][0][0]
