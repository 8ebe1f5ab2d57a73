"""How plan diff and plan golden print what moved: headline figures first, figures rounded for reading."""
from __future__ import annotations

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from estimators.documents.docdiff import DiffResult, FigureChange
from plan_cli.render import table

DIFF_ROWS_SHOWN = 25  # other moved figures listed unless --all


def figure_text(value) -> str:
    """A figure rounded for reading: 4 significant digits, thousands separated; words as they are."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        size = abs(value)
        if value == 0 or 1e-3 <= size < 1e3:
            return f"{value:.4g}"
        return f"{value:,.0f}" if 1e3 <= size < 1e9 else f"{value:.4g}"
    return str(value)


def change_text(change) -> str:
    """A relative change as a percentage rounded to what it says ('+5.1%', '+0.04%'), or the word."""
    if not isinstance(change, float):
        return change
    size = abs(change)
    if size >= 0.1:
        return f"{change:+,.1%}"
    return f"{change:+.2%}" if size >= 1e-4 else f"{change * 100:+.1e}%"


LONG_TEXT = 24  # a text figure longer than this (a plan's answer) is printed on its own lines, not in a table cell


def _is_long(row: FigureChange) -> bool:
    return any(isinstance(value, str) and len(value) > LONG_TEXT for value in (row.old, row.new))


def _changes_table(title: str, rows: list[FigureChange]) -> Table:
    t = table(title, "item", "old", "new", "change")
    for row in rows:
        t.add_row(row.key, figure_text(row.old), figure_text(row.new), change_text(row.change))
    return t


def _long_changes(console: Console, rows: list[FigureChange]) -> None:
    """Text figures too long for a cell: the key, then old and new under it."""
    for row in rows:
        console.print(Text(f"{row.key} ({change_text(row.change)})", style="bold"))
        for side, value in (("old", row.old), ("new", row.new)):
            console.print(Padding(Text(f"{side}: {figure_text(value)}"), (0, 0, 0, 2)))


def print_diff(rows: list[FigureChange], console: Console, title: str) -> None:
    """Moved figures (docdiff.FigureChange): key, old, new and relative change."""
    console.print(_changes_table(title, rows))


def print_diff_result(result: DiffResult, console: Console, every_row: bool) -> None:
    """Headline figures first, then the other moved figures, largest relative change first."""
    kind = f"{result.documents_kind} documents" if result.documents_kind else "JSON documents"
    tolerance = f" beyond {result.tolerance:.2%}" if result.tolerance else ""
    console.print(f"{result.old_document} -> {result.new_document}: {kind}, {len(result.moved)} figures moved{tolerance}",
                  style="bold", markup=False)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    _long_changes(console, [row for row in result.headline if _is_long(row)])
    if result.headline:
        console.print(_changes_table("Headline figures", [row for row in result.headline if not _is_long(row)]))
    others = [row for row in result.moved if not row.headline]
    shown = others if every_row else others[:DIFF_ROWS_SHOWN]
    if shown:
        console.print(_changes_table("Other figures that moved, largest change first", [row for row in shown if not _is_long(row)]))
        _long_changes(console, [row for row in shown if _is_long(row)])
    if len(shown) < len(others):
        console.print(f"... and {len(others) - len(shown):,} more: --all lists them, --json has every one")
