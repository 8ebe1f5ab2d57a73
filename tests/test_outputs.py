"""Output files (estimators.outputs): folders, devices and system folders refused, symlinks followed,
the umask honoured, nothing half-written; and the CLI's writers going through it."""
import os
import stat

import pytest
from typer.testing import CliRunner

from estimators.documents.outputs import output_file, resolve_target, write_bytes
from estimators.errors import PlanInputError
from plan_cli.main import app

runner = CliRunner()


def test_a_new_file_gets_the_mode_the_umask_allows(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes(tmp_path / "a.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644  # 0666 & ~022
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    target.chmod(0o600)
    write_bytes(target, b"new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    target, link = tmp_path / "target.pdf", tmp_path / "link.pdf"
    target.write_text("old")
    link.symlink_to(target)
    write_bytes(link, b"new")
    assert link.is_symlink() and target.read_text() == "new"


def test_a_dangling_symlink_writes_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "later.json")
    write_bytes(link, b"{}")
    assert link.is_symlink() and (tmp_path / "later.json").read_text() == "{}"


@pytest.mark.parametrize("name, fragment", [
    ("", "is a folder"),
    ("missing/plan.pdf", "does not exist"),
])
def test_a_folder_or_a_missing_folder_is_refused(tmp_path, name, fragment):
    with pytest.raises(PlanInputError, match=fragment):
        resolve_target(tmp_path / name, "-o")


def test_a_path_under_a_system_folder_is_refused_without_touching_it():
    with pytest.raises(PlanInputError, match="system folder"):
        resolve_target("/proc/videoplan-test.pdf", "-o")


def test_a_fifo_is_refused_as_a_special_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(PlanInputError, match="special file"):
        resolve_target(fifo, "-o")


def test_a_read_only_folder_is_refused_unless_the_user_may_write_there(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    if os.access(folder, os.W_OK):  # root ignores the folder's mode: the write must then simply work
        write_bytes(folder / "plan.pdf", b"%PDF")
        assert (folder / "plan.pdf").read_bytes() == b"%PDF"
    else:
        with pytest.raises(PlanInputError, match="permission denied"):
            resolve_target(folder / "plan.pdf", "-o")


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), output_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.parametrize("option, name, fragment", [
    ("--trace", "", "is a folder"),
    ("--trace", "missing/t.json", "does not exist"),
    ("--timeline", "", "is a folder"),
])
def test_simulate_refuses_a_bad_target_before_simulating(tmp_path, option, name, fragment):
    result = runner.invoke(app, ["simulate", "--runs", "2", option, str(tmp_path / name)])
    assert result.exit_code == 2 and fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_simulate_trace_through_a_symlink_keeps_the_link(tmp_path):
    target, link = tmp_path / "trace.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    result = runner.invoke(app, ["simulate", "--runs", "2", "--trace", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and target.read_text().startswith('{"traceEvents"')


@pytest.mark.parametrize("target, fragment", [("", "is a folder"), ("/proc/videoplan-test.pdf", "system folder")])
def test_report_refuses_a_bad_target_at_once(tmp_path, target, fragment):
    result = runner.invoke(app, ["report", "-o", target or str(tmp_path), "--runs", "2"])
    assert result.exit_code == 2 and fragment in result.stderr


def test_long_commands_print_progress_lines_when_not_on_a_terminal(capsys):
    from plan_cli.progress import PLAIN_LINES_PER_PHASE, phase_progress

    total = 100
    with phase_progress() as report:
        for step in range(1, total + 1):
            report("dit training", step, total, f"loss {1 / step:.3f}")
    lines = capsys.readouterr().err.splitlines()
    # one line when the phase starts, then one per tenth of it
    assert len(lines) == PLAIN_LINES_PER_PHASE + 1 and lines[-1] == "dit training, loss 0.010: 100/100"
