"""The next ring of bad input (issue 20): files that expand, nest or repeat keys; outputs that are the command's own
inputs or the wrong format; a broken data folder; devices and FIFOs as files; repeated and idle options; bad
prompts to the reference model. Each answers exit 2 and one line naming the input and the rule, within
seconds, and no input file is touched."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from estimators.catalog.files import DATA_DIR, MAX_DEPTH, MAX_VALUES, MAX_YAML_NODES
from plan_cli.main import app

runner = CliRunner()
ANSWER_BOUND_S = 10  # "within seconds" on a busy 2-core machine
MOCHI = DATA_DIR / "models" / "mochi-10b.yaml"


def refused(args: list[str], *fragments: str, env: dict | None = None) -> str:
    start = time.monotonic()
    result = runner.invoke(app, args, env=env)
    assert time.monotonic() - start < ANSWER_BOUND_S, args
    assert result.exit_code == 2, (args, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def alias_bomb(levels: int = 7) -> str:
    """10^levels values from a few lines: each anchor repeats the one before ten times."""
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text, fragment", [
    (alias_bomb(), f"expands to more than {MAX_VALUES:,} values"),
    ("dit: &d {blocks: [*d]}\n", "recursive alias"),
    ("family: video_dit\nfamily: gpt\n", "line 2: key 'family' appears twice"),
    ("dit:\n  num_heads: 24\n  num_heads: 48\n", "key 'num_heads' appears twice"),
    ("a: " + "[" * 200 + "]" * 200 + "\n", f"nested deeper than {MAX_DEPTH} levels"),
    ("a: [1, 2\n", "not valid YAML: line"),
])
def test_a_yaml_model_or_workload_file_that_expands_nests_or_repeats_keys(tmp_path, text, fragment):
    path = tmp_path / "model.yaml"
    path.write_text(text)
    refused(["estimate", "--model", str(path)], str(path), fragment)
    refused(["estimate", "--workload", str(path)], str(path), fragment)


@pytest.mark.parametrize("text, fragment", [
    ('{"a":' * 100_000 + "1" + "}" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),  # Python's parser would overflow
    ('{"dit": ' + "[" * 100 + "]" * 100 + "}", f"nested deeper than {MAX_DEPTH} levels"),
    ('{"family": "gpt", "family": "video_dit"}', "key 'family' appears twice"),
])
def test_json_that_nests_deeply_or_repeats_keys(tmp_path, text, fragment):
    path = tmp_path / "model.json"
    path.write_text(text)
    refused(["estimate", "--model", str(path)], str(path), fragment)
    refused(["diff", str(path), str(path)], str(path), fragment)


def test_a_long_flat_document_is_refused_at_the_bound_not_read_for_minutes(tmp_path):
    flat_yaml, flat_json = tmp_path / "flat.yaml", tmp_path / "flat.json"
    flat_yaml.write_text("dit: [" + "1, " * (2 * MAX_YAML_NODES) + "1]\n")  # composing 3 million nodes took minutes
    flat_json.write_text(json.dumps({"a": [1.5] * (MAX_VALUES + 1)}))
    refused(["estimate", "--model", str(flat_yaml)], str(flat_yaml), f"more than {MAX_YAML_NODES:,} YAML nodes")
    refused(["diff", str(flat_json), str(flat_json)], str(flat_json), f"more than {MAX_VALUES:,} values")


@pytest.fixture()
def model_file(tmp_path):
    path = tmp_path / "mochi.yaml"
    path.write_text(MOCHI.read_text())
    return path


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, model_file, calibration_csv):
    before = model_file.read_bytes()
    link = tmp_path / "link.pdf"
    link.symlink_to(model_file)
    refused(["report", "--gpus", "H100x8", "--model", str(model_file), "-o", str(link)], "is the --model input file")
    hard = tmp_path / "hard.pdf"
    os.link(model_file, hard)
    refused(["report", "--gpus", "H100x8", "--model", str(model_file), "-o", str(hard)], "is the --model input file")
    pdf_named = tmp_path / "runs.pdf"
    pdf_named.write_bytes(calibration_csv.read_bytes())
    refused(["report", "--gpus", "H100x8", "--calibration", str(pdf_named), "-o", str(pdf_named)], "is the --calibration input file")
    json_model = tmp_path / "mochi.json"
    json_model.write_text(json.dumps(yaml.safe_load(before)))
    refused(["simulate", "--gpus", "H100x8", "--model", str(json_model), "--trace", str(json_model)], "is the --model input file")
    assert model_file.read_bytes() == before and yaml.safe_load(json_model.read_text()) == yaml.safe_load(before)


@pytest.mark.parametrize("args, fragment", [
    (["report", "--gpus", "H100x8", "-o", "{tmp}/plan.docx"], "the report is a PDF; give a file name ending in .pdf"),
    (["simulate", "--gpus", "H100x8", "--timeline", "{tmp}/t.gif"], "a timeline is a PNG picture"),
    (["simulate", "--gpus", "H100x8", "--trace", "{tmp}/t.png"], "a trace is Chrome/Perfetto JSON"),
    (["simulate", "--gpus", "H100x8", "--trace", "{tmp}/same.json", "--timeline", "{tmp}/same.json"], "ending in .png"),
    (["reference", "generate", "a red circle", "-o", "{tmp}/clip.gif"], "a clip is MP4, WebM or AVI"),
    (["reference", "generate", '{"prompt": "a red circle", "format": "webm"}', "-o", "{tmp}/clip.mp4"], "format webm but"),
])
def test_an_output_whose_extension_is_not_the_format_written(tmp_path, args, fragment):
    refused([a.replace("{tmp}", str(tmp_path)) for a in args], fragment)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("prompt, fragment", [
    ('{"prompt": "a red circle", "frames": "25"}', "frames: expected a whole number"),
    ('{"prompt": 7}', "prompt: expected text"),
    ('{"prompt": "a red circle", "seed": 1e400}', "seed=inf: expected a finite number"),  # JSON reads 1e400 as infinity
    ('{"prompt": "a red circle", "frames": 1000001}', "frames=1000001: at most 241"),
    ('{"prompt": "a red circle", "fps": 0}', "fps=0: must be more than 0"),
    ('{"prompt": "a red circle", "fps": -8}', "fps=-8: must be more than 0"),
    ('{"prompt": "a red circle", "frames": 25', "prompt JSON: not valid JSON"),
    ('{"prompt": "a", "prompt": "b"}', "key 'prompt' appears twice"),
    ('{"prompt": "a red circle", "style": "noir"}', "style: unknown field"),
])
def test_a_bad_prompt_is_named_before_anything_is_generated(tmp_path, prompt, fragment):
    refused(["reference", "generate", prompt, "-o", str(tmp_path / "clip.mp4"), "--out", str(tmp_path / "none")], fragment)


@pytest.mark.parametrize("args, fragment", [
    (["estimate", "--price", "H100=2", "--price", "H100=3"], "--price H100-SXM given twice (2, then 3)"),
    (["estimate", "--price", "H100=2", "--price", "h100-sxm=3"], "given twice"),
    (["estimate", "--gpus", "H100x8", "--gpus", "H100x16"], "--gpus given twice (H100x8, then H100x16)"),
    (["estimate", "--gpus=H100x8", "--gpus", "H100x16"], "--gpus given twice"),
    (["estimate", "--online-text", "--no-online-text"], "--online-text and --no-online-text contradict each other"),
    (["simulate", "--runs", "5", "--runs", "6"], "--runs given twice (5, then 6)"),
    (["estimate", "--max-gpus", "64"], "--max-gpus bounds the deadline/budget search"),
    (["estimate", "--gpus", "H100x8", "--layout", "tp=1,pp=1,cp=1,dp=8", "--top", "3"], "--top lists searched layouts"),
])
def test_repeated_and_idle_options(args, fragment):
    refused(args, fragment)


def test_the_same_value_twice_is_not_a_contradiction():
    assert runner.invoke(app, ["estimate", "--gpus", "H100x8", "--gpus", "H100x8", "--json"]).exit_code == 0


def test_duplicate_csv_columns_are_named(tmp_path, calibration_csv):
    header, *rows = calibration_csv.read_text().splitlines()
    path = tmp_path / "runs.csv"
    path.write_text("\n".join([header + ",tp", *(row + ",4" for row in rows)]) + "\n")
    refused(["backtest", str(path)], str(path), "column tp appears twice")


@pytest.mark.parametrize("option", ["backtest", "--calibration"])
def test_a_device_or_fifo_given_as_a_calibration_file(tmp_path, option):
    fifo = tmp_path / "runs.csv"
    os.mkfifo(fifo)  # reading it would block forever
    for path in (fifo, Path("/dev/zero")):
        args = ["backtest", str(path)] if option == "backtest" else ["report", "--calibration", str(path), "-o", str(tmp_path / "p.pdf")]
        refused(args, str(path), "not a regular file")


def _plan_with_data(folder: Path) -> subprocess.CompletedProcess:
    """plan estimate in a fresh process (the data folder is read when the package is imported)."""
    env = {**os.environ, "VIDEOPLAN_DATA_DIR": str(folder)}
    return subprocess.run([sys.executable, "-m", "plan_cli.main", "estimate", "--gpus", "H100x8"], env=env, capture_output=True,
                          text=True, timeout=60)


def test_a_missing_malformed_or_negatively_priced_data_folder_names_the_variable(tmp_path):
    import shutil

    missing = _plan_with_data(tmp_path / "nowhere")
    assert missing.returncode == 2 and missing.stderr.startswith(f"error: $VIDEOPLAN_DATA_DIR={tmp_path / 'nowhere'}: no such folder")
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    h100 = data / "hardware" / "H100-SXM.yaml"
    h100.write_text(h100.read_text().replace("{value: 3.00,", "{value: -3.00,"))
    priced = _plan_with_data(data)
    assert priced.returncode == 2 and "$VIDEOPLAN_DATA_DIR" in priced.stderr and "price_usd_per_gpu_hour.value" in priced.stderr
    assert "$-" not in priced.stdout
    h100.write_text(h100.read_text().replace("{value: -3.00,", "{value: 3.00,"))
    (data / "kernels" / "gemm.yaml").write_text("tables: {}\n")
    malformed = _plan_with_data(data)
    assert malformed.returncode == 2 and "Traceback" not in malformed.stderr, malformed.stderr
    assert malformed.stderr.startswith(f"error: $VIDEOPLAN_DATA_DIR={data}: its data do not have the shape"), malformed.stderr
    (data / "stacks" / "stacks.yaml").unlink()
    gone = _plan_with_data(data)
    assert gone.returncode == 2 and "stacks/stacks.yaml: missing from the data folder" in gone.stderr, gone.stderr
