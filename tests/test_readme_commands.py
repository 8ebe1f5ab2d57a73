"""Every example the README shows is run, so none can drift: each `plan` command on the README's core install
(python3 -m pip install -e .): the analytic commands answer without torch, scipy or the other test extras
(conftest.core_install makes them unimportable), the commands that need torch answer with one line saying
what to install, and the bad-input examples are refused with one line; the reference model's commands run for
real on a small trained run (test_reference_model.py); every `python3 benchmarks/...` and `python3 -m tools...`
command runs to its end.

The commands are read from the README itself, so a command added there is run here.
"""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from estimators.catalog.files import DATA_DIR
from plan_cli.main import app
from plan_cli.reference_cmds import NEEDS_TEST_EXTRAS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
runner = CliRunner()
TORCH_COMMANDS = ("reference", "profile")
# README commands not run here, and where they are.
COVERED_ELSEWHERE = {
    "plan backtest ../shared/reference/calibration-runs.csv --cv": "test_backtest.py::test_cross_validation_by_source_meets_the_target",
    "plan backtest FILE.csv --cv": "the same command (FILE.csv is the calibration file here)",
    "plan golden --update": "rewrites the package's expected.json; `plan golden` runs here",
    "python3 benchmarks/reference_train.py": "7 minutes of training; test_reference_model.py trains the same pipeline on a tiny config",
    "python3 -m pytest": "the suite this test is part of",
}
REFUSED_MARK = "# each is refused"  # the first line of the README's bash block of refused examples
SCRIPT_TIMEOUT_S = 600


def _expand(command: str) -> list[str]:
    """An optional part '[--cv]' or '[a|b|c]' gives the command without it and with each choice."""
    part = re.search(r" \[([^\]]+)\]", command)
    if part is None:
        return [command]
    choices = ["", *(f" {choice}" for choice in part[1].replace("\\|", "|").split("|"))]
    return [full for choice in choices for full in _expand(command[:part.start()] + choice + command[part.end():])]


def readme_commands(text: str, program: str = "plan ") -> list[str]:
    """Every command of ``text`` that starts with ``program``: inline code and the lines of the bash blocks (after '&&')."""
    lines = [line for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines()]
    commands = re.findall(rf"`({re.escape(program)}[^`\n]+)`", text)
    commands += [part.strip() for line in lines for part in line.split("&&") if part.strip().startswith(program)]
    return list(dict.fromkeys(full for command in commands for full in _expand(command)))


README_TEXT = README.read_text()
REFUSED = [line.strip() for block in re.findall(r"```bash\n(.*?)```", README_TEXT, re.S) if block.startswith(REFUSED_MARK)
           for line in block.splitlines()[1:] if line.strip()]
COMMANDS = readme_commands(README_TEXT)
ANALYTIC = [c for c in COMMANDS if c.split()[1] not in TORCH_COMMANDS and c not in COVERED_ELSEWHERE and c not in REFUSED]
NEEDING_TORCH = [c for c in COMMANDS if c.split()[1] in TORCH_COMMANDS]
SCRIPTS = [c for c in readme_commands(README_TEXT, "python3 ") if c.split()[1] != "-m" or c.split()[2] != "pip"]


def _argv(command: str, folder: Path, calibration_csv: Path) -> list[str]:
    """The command's arguments with its placeholders and files pointed at real ones (outputs in ``folder``)."""
    replace = {"FILE.csv": str(calibration_csv), "../shared/reference/calibration-runs.csv": str(calibration_csv),
               "estimators/data/calibration/memory-peaks.csv": str(DATA_DIR / "calibration" / "memory-peaks.csv"),
               "estimators/data/calibration/serving-latencies.csv": str(DATA_DIR / "calibration" / "serving-latencies.csv"),
               "PRESET": "mochi-10b", "A.json": str(folder / "a.json"), "B.json": str(folder / "b.json")}
    return [replace.get(arg, arg) for arg in shlex.split(command)[1:]]


@pytest.fixture()
def folder(tmp_path, monkeypatch, core_install):
    """A working folder with the files the README's commands name (two documents to diff, a folder for pages)."""
    (tmp_path / "a.json").write_text('{"step_time_s": 10.0}')
    (tmp_path / "b.json").write_text('{"step_time_s": 11.0}')
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_shows_the_commands_this_file_runs():
    assert {"plan estimate --gpus H100x512", "plan report --gpus H100x512 -o plan.pdf", "plan schema simulate"} <= set(ANALYTIC)
    multi_stage = [c for c in ANALYTIC if c.count("--stage") == 2]
    assert multi_stage and "width=432" in multi_stage[0]  # the multi-stage example is run (width=424 was refused)
    assert {"plan profile --quick", "plan reference evaluate --json"} <= set(NEEDING_TORCH)
    assert "plan estimate --max-gpus 64" in REFUSED and "python3 benchmarks/search_speed.py" in SCRIPTS
    assert set(COVERED_ELSEWHERE) <= set(COMMANDS) | set(SCRIPTS)  # no stale exemption


@pytest.mark.parametrize("command", ANALYTIC)
def test_analytic_readme_command_runs_on_the_core_install(folder, calibration_csv, command):
    result = runner.invoke(app, _argv(command, folder, calibration_csv))
    assert result.exception is None or isinstance(result.exception, SystemExit), f"{command}: {result.exception!r}"
    assert result.exit_code == 0, f"{command}: {result.output[-500:]}"


@pytest.mark.parametrize("command", NEEDING_TORCH)
def test_torch_readme_command_says_what_to_install(folder, calibration_csv, command):
    # before anything else (a missing run folder, a progress line): what to install
    result = runner.invoke(app, _argv(command, folder, calibration_csv))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, f"{command}: {result.output[-500:]}"
    assert lines[0].startswith(f"error: {NEEDS_TEST_EXTRAS}") and "torch" in lines[0], lines[0]



@pytest.mark.parametrize("command", REFUSED)
def test_bad_input_readme_example_is_refused_in_one_line(folder, calibration_csv, command):
    result = runner.invoke(app, _argv(command, folder, calibration_csv))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:"), f"{command}: {result.output[-500:]}"


@pytest.mark.parametrize("command", [c for c in SCRIPTS if c not in COVERED_ELSEWHERE])
def test_readme_script_runs_to_its_end(tmp_path, command):
    # from the checkout, as the README runs it; a folder it writes into is a temporary one
    argv = [sys.executable] + [str(tmp_path) if arg == "docs" else arg for arg in shlex.split(command)[1:]]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
    assert result.returncode == 0, f"{command}: {result.stderr[-800:]}"
    assert result.stdout.strip(), command  # each prints what it measured or wrote
