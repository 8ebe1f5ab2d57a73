"""Writing an output file safely: the one helper every writer (PDF, PNG, trace, golden files) uses.

A target is checked before any work: not a folder, not a device or other special file, not under a
kernel file system (/proc, /sys, /dev), in a folder that exists. A symlink is followed, so its target
is written and the link stays. The bytes go to a temporary file in the target's folder, which is
renamed onto the target only when complete: a failure never leaves a half-written file. The new file
gets the mode the umask gives (0644 for umask 022), or keeps the mode of the file it replaces.
"""
from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from estimators.errors import PlanInputError

SPECIAL_FILE_SYSTEMS = (Path("/proc"), Path("/sys"), Path("/dev"))
DEFAULT_FILE_MODE = 0o666  # what open() asks for; the umask takes bits away


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def resolve_target(path: Path, what: str) -> Path:
    """The file to write for ``path`` (a symlink's target), or a one-line PlanInputError saying why not."""
    given = Path(path).expanduser()
    target = Path(os.path.realpath(given))
    if any(target == root or root in target.parents for root in SPECIAL_FILE_SYSTEMS):
        raise PlanInputError(f"{what} {given}: under {target.parts[0]}{target.parts[1]}, a system folder; write elsewhere")
    if target.exists():
        kind = target.stat().st_mode
        if stat.S_ISDIR(kind):
            raise PlanInputError(f"{what} {given}: is a folder; give a file name")
        if not stat.S_ISREG(kind):
            raise PlanInputError(f"{what} {given}: is a device or other special file, not a regular file")
    folder = target.parent
    if not folder.is_dir():
        raise PlanInputError(f"{what} {given}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PlanInputError(f"{what} {given}: cannot write into folder {folder} (permission denied)")
    return target


def check_output(path: Path, what: str, kind: str, suffixes: tuple[str, ...], inputs: Mapping[str, Path] = {}) -> Path:
    """resolve_target, and: the name ends in one of ``suffixes`` (the format written: a PDF is never written into
    'plan.docx'), and the file is none of the command's ``inputs`` (label -> path; compared after symlinks and
    by inode, so a link or a hard link to the model file is caught too)."""
    target = resolve_target(path, what)
    if Path(path).suffix.lower() not in suffixes:
        raise PlanInputError(f"{what} {path}: {kind}; give a file name ending in {' or '.join(suffixes)}")
    for label, source in inputs.items():
        if _same_file(Path(source), target):
            raise PlanInputError(f"{what} {path}: that is the {label} input file; writing there would replace it: give another name")
    return target


def _same_file(source: Path, target: Path) -> bool:
    try:
        return Path(os.path.realpath(source)) == target or (target.exists() and os.path.samefile(source, target))
    except OSError:
        return False


def check_output_folder(path: Path, what: str) -> Path:
    """A folder that outputs go into: it must exist (or be creatable), outside the system folders."""
    folder = Path(os.path.realpath(Path(path).expanduser()))
    if any(folder == root or root in folder.parents for root in SPECIAL_FILE_SYSTEMS):
        raise PlanInputError(f"{what} {path}: under {folder.parts[0]}{folder.parts[1]}, a system folder; write elsewhere")
    if folder.exists() and not folder.is_dir():
        raise PlanInputError(f"{what} {path}: not a folder")
    return folder


@contextmanager
def output_file(path: Path, what: str = "output") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces the resolved target, else it is removed."""
    target = resolve_target(path, what)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else DEFAULT_FILE_MODE & ~_current_umask()
    try:
        handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix)
    except OSError as exc:
        raise PlanInputError(f"{what} {path}: cannot create a file in {target.parent}: {exc.strerror}") from None
    os.close(handle)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        os.unlink(tmp)
        if isinstance(exc, OSError):
            raise PlanInputError(f"{what} {path}: writing failed: {exc.strerror or exc}") from None
        raise


def write_bytes(path: Path, data: bytes, what: str = "output") -> None:
    """Write ``data`` to ``path`` through output_file."""
    with output_file(path, what) as tmp:
        tmp.write_bytes(data)
