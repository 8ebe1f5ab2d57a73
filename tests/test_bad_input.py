"""Every kind of bad input issue 12 lists: one line naming the option or field, exit code 2, at once.

Also: data found independently of the working folder, and the no-layout message naming the constraint.
"""
import copy
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from estimators.catalog.files import DATA_DIR
from plan_cli.locations import PACKAGED_CALIBRATION
from plan_cli.main import app

runner = CliRunner()
ANSWER_BOUND_S = 10  # "within a few seconds" on a busy 2-core machine


def refused(args: list[str], fragment: str) -> str:
    start = time.monotonic()
    result = runner.invoke(app, args)
    assert time.monotonic() - start < ANSWER_BOUND_S, args
    assert result.exit_code == 2, (args, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args, fragment", [
    # bounded up front instead of hanging
    (["estimate", "--gpus", "H100x99999999999999999999"], "at most 1,048,576 GPUs"),
    (["simulate", "--failures-per-gpu-hour", "1"], "failure simulation would march"),
    (["simulate", "--checkpoint-interval-min", "-5"], "must be more than 0"),
    (["simulate", "--restart-min", "nan"], "expected a finite number"),
    (["simulate", "--runs", "1000000000"], "at most 20,000"),
    (["simulate", "--steps", "1000000000"], "failure simulation would march"),
    (["simulate", "--seed", "-1"], "at least 0"),
    (["estimate", "--gpus", "H100x720720"], "layouts to search"),
    # tracebacks before
    (["estimate", "--epochs", "inf"], "--epochs inf: expected a finite number"),
    (["report", "--runs", "0"], "--runs 0: must be at least 1"),
    # silent nonsense before
    (["estimate", "--fps", "inf"], "--fps inf: expected a finite number"),
    (["estimate", "--gpus", "H100x５１２"], "digits 0-9"),
    (["estimate", "--height", "４８０"], "digits 0-9"),
    (["estimate", "--steps", "100", "--clips", "1000"], "--steps and --clips cannot be combined"),
    (["estimate", "--steps", "100", "--epochs", "2"], "--steps and --epochs cannot be combined"),
    (["estimate", "--layout", "tp=2,tp=4"], "tp given twice"),
    (["estimate", "--stage", "height=240,height=256"], "height given twice"),
    (["estimate", "--stage", ""], "--stage '': empty"),
    (["estimate", "--stage", "steps=5,num_clips=4"], "steps and num_clips cannot be combined"),
    (["simulate", "--checkpoint-interval-min", "0"], "leave the option out for Young/Daly"),
    (["estimate", "--stage", "frames=1000003"], "--stage: frames=1000003: at most 100,000"),
    # plain words, not pydantic's
    (["estimate", "--stage", "foo=1"], "foo: unknown field (known: name, height"),
    (["estimate", "--fps", "nan"], "--fps nan: expected a finite number"),
    (["estimate", "--layout", "tp=0"], "--layout: tp: expected a number more than 0, got 0"),
    (["estimate", "--layout", "recompute=some"], "expected 'none', 'selective' or 'full'"),
    # the constraint that excluded the most candidates
    (["estimate", "--layout", "tp=16"], "tp=16 larger than one NVLink domain (8 GPUs)"),
    (["estimate", "--layout", "cp=16,cp_kind=ulysses"], "24 heads do not divide by tp x cp = 16"),
    (["estimate", "--gpus", "H100x1"], "does not fit in memory (the smallest needs"),
    (["estimate", "--layout", "tp=1,pp=1,cp=16,dp=32,zero=3,micro_batch=1,recompute=full"], "24 heads do not divide by tp x cp = 16"),
])
def test_bad_option_is_one_line(args, fragment):
    refused(args, fragment)


@pytest.fixture()
def workload(tmp_path):
    path = tmp_path / "workload.yaml"
    stage = {"height": 480, "width": 848, "frames": 163, "text_tokens": 256, "steps": 100, "global_batch": 512}
    path.write_text(yaml.safe_dump({"stages": [stage]}))
    return path


@pytest.mark.parametrize("extra, other", [
    (["--stage", "height=240"], "--stage"), (["--online-text"], "--online-text"), (["--online-latents"], "--online-latents"),
    (["--height", "240"], "--height"), (["--steps", "5"], "--steps"), (["--global-batch", "64"], "--global-batch"),
])
def test_workload_file_with_stage_options_is_refused(workload, extra, other):
    refused(["estimate", "--workload", str(workload), *extra], f"--workload and {other} cannot be combined")


def test_workload_file_alone_is_used(workload):
    result = runner.invoke(app, ["estimate", "--workload", str(workload), "--json"])
    assert result.exit_code == 0, result.output


LEGACY_MOCHI = Path(__file__).parents[1] / "examples" / "models" / "asymm-dit.yaml"


def _mochi_with(tmp_path, part: str, model: Path = DATA_DIR / "models" / "mochi-10b.yaml", **fields) -> str:
    """The model file with ``fields`` set in ``part`` (a dotted path: 'dit', 'dit.blocks.0')."""
    data = yaml.safe_load(model.read_text())
    data["vae"] = yaml.safe_load((DATA_DIR / "components" / "mochi-vae.yaml").read_text())
    target = data
    for key in part.split("."):
        target = target[int(key)] if isinstance(target, list) else target[key]
    target.update(copy.deepcopy(fields))
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize("part, fields, fragment", [
    ("dit.blocks.0", {"count": 1e12}, "dit.blocks[0].count: 1,000,000,000,000 is more than this planner's bound of 10,000"),
    ("dit", {"num_heads": 10**9}, "dit.num_heads: 1,000,000,000 is more than this planner's bound of 1,000,000"),
    ("dit.blocks.0.mlp", {"hidden": float("inf")}, "hidden: expected a finite number, got inf"),
    ("dit", {"num_heads": True}, "num_heads: expected a number, got true"),
    ("vae", {"encoder_stages": []}, "vae.encoder_stages: empty"),  # one mistake: a model file gets a line per mistake
])
def test_model_file_values_that_hung_or_crashed(tmp_path, part, fields, fragment):
    refused(["estimate", "--model", _mochi_with(tmp_path, part, **fields)], fragment)


@pytest.mark.parametrize("fields, fragment", [
    # a legacy file is bounded on its own fields, before its translation into block groups
    ({"num_layers": 1e12}, "dit.num_layers: 1,000,000,000,000 is more than this planner's bound of 10,000"),
    ({"mlp_ratio": float("inf")}, "mlp_ratio: expected a finite number, got inf"),
    ({"num_layers": True}, "num_layers: expected a number, got true"),
])
def test_legacy_asymm_dit_file_values_that_hung_or_crashed(tmp_path, fields, fragment):
    refused(["estimate", "--model", _mochi_with(tmp_path, "dit", LEGACY_MOCHI, **fields)], fragment)


def test_workload_file_stage_beyond_a_bound_is_named(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump({"stages": [{"height": 480, "width": 848, "frames": 163, "text_tokens": 256, "steps": 10**13, "global_batch": 512}]}))
    refused(["estimate", "--workload", str(path)], "stages.0.steps=10000000000000: at most")


def test_report_on_a_fixed_layout_writes_a_layouts_page(tmp_path):
    pdf = tmp_path / "fixed.pdf"
    result = runner.invoke(app, ["report", "--gpus", "H100x8", "--layout", "tp=1,pp=1,cp=1,dp=8,zero=3,micro_batch=1,recompute=full",
                                 "--runs", "3", "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    assert pdf.stat().st_size > 0


def test_report_and_golden_do_not_depend_on_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIDEOPLAN_CALIBRATION_CSV", raising=False)
    monkeypatch.delenv("VIDEOPLAN_GOLDEN_DIR", raising=False)
    result = runner.invoke(app, ["report", "--gpus", "H100x8", "--runs", "3", "-o", "plan.pdf"])
    assert result.exit_code == 0, result.output
    from pypdf import PdfReader

    validation_page = " ".join(PdfReader("plan.pdf").pages[-1].extract_text().split())
    assert "Validation: published runs" in validation_page
    from estimators.time.uncertainty import crossvalidation

    # the package's copy is the file the stored cross-validation was computed from
    assert f"Leave-one-source-out MAPE {crossvalidation()['mape']:.1%}" in validation_page
    result = runner.invoke(app, ["golden"])
    assert result.exit_code == 0, result.output


def test_missing_data_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOPLAN_GOLDEN_DIR", str(tmp_path / "nowhere"))
    refused(["golden"], f"$VIDEOPLAN_GOLDEN_DIR={tmp_path / 'nowhere'}: not found")
    refused(["report", "--calibration", str(tmp_path / "none.csv")], "--calibration")


def test_packaged_calibration_runs_equal_the_shared_reference(calibration_csv):
    assert PACKAGED_CALIBRATION.read_bytes() == calibration_csv.read_bytes()


def test_input_files_that_are_not_regular_or_are_huge_are_refused_before_reading(tmp_path):
    import os

    fifo = tmp_path / "model.yaml"
    os.mkfifo(fifo)  # reading it would block forever, as /dev/zero would never end
    refused(["estimate", "--model", str(fifo)], "not a regular file")
    huge = tmp_path / "a.json"
    with open(huge, "wb") as out:
        out.truncate(17 * 2**20)  # sparse: 17 MiB of zeros without writing them
    refused(["diff", str(huge), str(huge)], "more than the 16,777,216 an input file may have")


def test_a_document_that_expands_without_end_is_refused(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")  # 10^9 values when expanded
    refused(["diff", str(bomb), str(bomb)], "more than 100,000 values")


def test_a_block_count_beyond_the_bound_is_refused(tmp_path):
    data = yaml.safe_load((DATA_DIR / "models" / "cogvideox-5b.yaml").read_text())
    data["dit"]["blocks"][0]["count"] = 10**12  # counts walk blocks one by one: this would run for hours
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(data))
    refused(["estimate", "--model", str(path)], "dit.blocks[0].count: 1,000,000,000,000 is more than this planner's bound of 10,000")
