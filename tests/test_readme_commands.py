"""Every `plan` command the README shows runs on the README's core install (python3 -m pip install -e .):
the analytic commands answer without torch, scipy or the other test extras (conftest.core_install makes
them unimportable), and the commands that need torch answer with one line saying what to install.

The commands are read from the README itself, so a command added there is run here.
"""
import re
import shlex
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
}


def _expand(command: str) -> list[str]:
    """An optional part '[--cv]' or '[a|b|c]' gives the command without it and with each choice."""
    part = re.search(r" \[([^\]]+)\]", command)
    if part is None:
        return [command]
    choices = ["", *(f" {choice}" for choice in part[1].replace("\\|", "|").split("|"))]
    return [full for choice in choices for full in _expand(command[:part.start()] + choice + command[part.end():])]


def readme_commands() -> list[str]:
    """Every `plan ...` command of the README: inline code and the lines of the bash blocks (after '&&')."""
    text = README.read_text()
    lines = [line for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines()]
    commands = re.findall(r"`(plan [^`\n]+)`", text)
    commands += [part.strip() for line in lines for part in line.split("&&") if part.strip().startswith("plan ")]
    return list(dict.fromkeys(full for command in commands for full in _expand(command)))


COMMANDS = readme_commands()
ANALYTIC = [c for c in COMMANDS if c.split()[1] not in TORCH_COMMANDS and c not in COVERED_ELSEWHERE]
NEEDING_TORCH = [c for c in COMMANDS if c.split()[1] in TORCH_COMMANDS]


def _argv(command: str, folder: Path, calibration_csv: Path) -> list[str]:
    """The command's arguments with its placeholders and files pointed at real ones (outputs in ``folder``)."""
    replace = {"FILE.csv": str(calibration_csv), "../shared/reference/calibration-runs.csv": str(calibration_csv),
               "estimators/data/calibration/memory-peaks.csv": str(DATA_DIR / "calibration" / "memory-peaks.csv"),
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
    assert {"plan profile --quick", "plan reference evaluate --json"} <= set(NEEDING_TORCH)
    assert set(COVERED_ELSEWHERE) <= set(COMMANDS)  # no stale exemption


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

