"""Progress of long commands: rich bars on a terminal; elsewhere (CI logs, pipes) plain lines on stderr,
one per tenth of each phase, so a command that runs for minutes never sits silent."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.progress import Progress

PLAIN_LINES_PER_PHASE = 10


@contextmanager
def phase_progress(quiet: bool = False) -> Iterator[Callable[[str, int, int, str], None]]:
    """Yield ``report(phase, done, total, detail)``; ``quiet`` (e.g. --json) silences it."""
    interactive = sys.stderr.isatty()
    printed: dict[str, int] = {}
    with Progress(transient=True, disable=quiet or not interactive) as bars:
        tasks: dict[str, int] = {}

        def report(phase: str, done: int, total: int, detail: str = "") -> None:
            label = f"{phase}{', ' + detail if detail else ''}"
            if interactive:
                if phase not in tasks:
                    tasks[phase] = bars.add_task(phase, total=total)
                bars.update(tasks[phase], completed=done, total=total, description=label)
                return
            tenth = done * PLAIN_LINES_PER_PHASE // max(total, 1)
            if not quiet and (phase not in printed or tenth > printed[phase]):
                printed[phase] = tenth
                typer.echo(f"{label}: {done}/{total}", err=True)

        yield report
