"""One validation layer for what a user types: numbers, bounds, conflicting options, input files.

Every check raises PlanInputError with one line naming the option or field, what was expected and
the value given. Bounds keep every command answering within seconds: each is far beyond any real
training plan, and the search, the Monte Carlo and the per-layer counts grow with them.
"""
from __future__ import annotations

import math
import re
import typing
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import typer
import typer.core
from pydantic import BaseModel
from typer._click.core import ParameterSource
from typer._click.globals import get_current_context

from estimators.documents.docdiff import flatten
from estimators.errors import PlanInputError
from estimators.search.layout_search import MAX_GPUS
from estimators.specs.workload import TrainingStage, Workload

MAX_MODEL_WHOLE_NUMBER = 1_000_000  # widths, heads, vocabularies, channels of a model file
MAX_MODEL_DEPTH = 10_000  # layers, blocks, a block kind's count: the counts walk them one by one
MAX_INPUT_FILE_BYTES = 16 * 2**20  # model, workload, JSON and CSV inputs are kilobytes; /dev/zero is endless
MAX_DOCUMENT_NODES = 1_000_000  # values in a document to compare (a YAML alias bomb expands without end)
BOUND_REASON = "a bound of this planner that keeps every command answering within seconds"


@dataclass(frozen=True)
class Bound:
    """Allowed range of a number; ``above`` makes the low end exclusive (a positive real)."""

    low: float
    high: float
    above: bool = False
    hint: str = ""  # said when the value is too low
    why: str = BOUND_REASON  # said when it is too high

    def check(self, name: str, value, sep: str = " ") -> None:
        """Raise a one-line PlanInputError '{name}{sep}{value}: ...' when ``value`` is out of range."""
        if value is None:
            return
        given_as = f"{name}{sep}{value}"
        if isinstance(value, float) and not math.isfinite(value):
            raise PlanInputError(f"{given_as}: expected a finite number")
        too_low = value <= self.low if self.above else value < self.low
        if too_low:
            relation = "more than" if self.above else "at least"
            raise PlanInputError(f"{given_as}: must be {relation} {self.low:,g}{self.hint}")
        if value > self.high:
            raise PlanInputError(f"{given_as}: at most {self.high:,.0f} ({self.why})")


# Training-stage fields, wherever they come from (options, --stage, a workload file).
STAGE_BOUNDS = {
    "height": Bound(1, 16_384),
    "width": Bound(1, 16_384),
    "frames": Bound(1, 100_000),  # 55 minutes at 30 fps
    "fps": Bound(0.01, 1_000),  # below, clip seconds and raw-video bytes grow past any real dataset
    "text_tokens": Bound(1, 100_000),
    "num_clips": Bound(1, 1e12),
    "epochs": Bound(0, 1e6, above=True),
    "steps": Bound(1, 1e12),
    "global_batch": Bound(1, 65_536),
}
# Options by parameter name (as typer passes them); a float option not listed here must still be finite.
OPTION_BOUNDS = {
    **STAGE_BOUNDS,
    "clips": STAGE_BOUNDS["num_clips"],
    "top": Bound(0, 1_000),
    "runs": Bound(1, 20_000),
    "seed": Bound(0, 2**32 - 1, why="a 32-bit seed"),
    "restart_min": Bound(0, 100_000, above=True),
    "storage_write_gbps": Bound(0, 1e6, above=True),
    "storage_read_gbps": Bound(0, 1e6, above=True),
    "failures_per_gpu_hour": Bound(0, 10),
    "checkpoint_interval_min": Bound(0, 1e7, above=True, hint=" (leave the option out for Young/Daly's interval)"),
    "raw_bitrate_mbps": Bound(0, 1e5, above=True),
    "tolerance": Bound(0, 1e6),
    "deadline_days": Bound(0, 36_500, above=True),  # a century
    "budget_usd": Bound(0, 1e12, above=True),
    "max_gpus": Bound(1, 16_384),  # the deadline/budget search plans every kind at each size: 16,384 takes about 7 s here
}
MAX_STAGES = 8  # each stage is planned (and searched) on its own
MAX_WHOLE_OPTION = 2**53  # a whole-number option without a bound of its own


def option_label(name: str) -> str:
    """How the user spelled option ``name`` on the command line (e.g. '--runs', '-o')."""
    ctx = get_current_context(silent=True)
    for param in ctx.command.params if ctx else ():
        if param.name == name and param.opts:
            return max(param.opts, key=len)
    return "--" + name.replace("_", "-")


def check_options(values: dict) -> None:
    """Every numeric option: in its bound when it has one, finite when a real, not astronomically large."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if name in OPTION_BOUNDS:
            OPTION_BOUNDS[name].check(option_label(name), value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise PlanInputError(f"{option_label(name)} {value}: expected a finite number")
        elif abs(value) > MAX_WHOLE_OPTION:
            raise PlanInputError(f"{option_label(name)} {value}: at most {MAX_WHOLE_OPTION:,}")


def given(names: Iterable[str]) -> list[str]:
    """The options among ``names`` the user typed (not left at their defaults)."""
    ctx = get_current_context(silent=True)
    if ctx is None:
        return []
    defaults = (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)
    return [n for n in names if ctx.get_parameter_source(n) not in defaults]


def refuse_together(first: str, others: Iterable[str], why: str) -> None:
    """One line naming both options when ``first`` and any of ``others`` were typed together."""
    if not given([first]):
        return
    clash = given(others)
    if clash:
        raise PlanInputError(f"{option_label(first)} and {option_label(clash[0])} cannot be combined: {why}")


STAGE_OPTIONS = ("height", "width", "frames", "fps", "text_tokens", "clips", "epochs", "steps", "global_batch")


def check_plan_conflicts() -> None:
    """Options of the planning commands that contradict each other."""
    refuse_together("steps", ("clips", "epochs"), "give either --clips and --epochs, or --steps")
    refuse_together("workload_file", ("stage", "online_text", "online_latents", *STAGE_OPTIONS),
                     "the workload file describes the stages and encoders; put these settings in it")


_GPUS = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*?)x(?P<count>[0-9]+)$")


def check_gpus(text: str) -> None:
    """--gpus NAMExCOUNT with an ASCII whole count within MAX_GPUS (a huge count hangs the search)."""
    match = _GPUS.match(text.strip())
    if match and int(match["count"]) > MAX_GPUS:
        raise PlanInputError(f"--gpus '{text}': at most {MAX_GPUS:,} GPUs ({BOUND_REASON})")


def check_stage(stage: TrainingStage, where: str) -> None:
    """Every number of a training stage within STAGE_BOUNDS; ``where`` prefixes the field's name."""
    for field, bound in STAGE_BOUNDS.items():
        bound.check(f"{where}{field}", getattr(stage, field), sep="=")


def check_stage_count(count: int, origin: str) -> None:
    if count > MAX_STAGES:
        raise PlanInputError(f"{origin}: {count} stages, at most {MAX_STAGES} ({BOUND_REASON})")


def check_workload(workload: Workload, origin: str) -> None:
    """Each stage of a workload within bounds, named by its place (file: stages.1.frames)."""
    check_stage_count(len(workload.stages), origin)
    for i, stage in enumerate(workload.stages):
        check_stage(stage, f"{origin}: stages.{i}." if origin else "")


def check_model_sizes(spec: BaseModel, origin: str, path: str = "") -> None:
    """Every whole number of a model file within bounds and no empty list of stages, before any count
    walks it (num_layers: 1e12 would loop for hours; an empty stage list crashes the VAE counts)."""
    for name, value in spec:
        where = f"{path}{name}"
        if isinstance(value, BaseModel):
            check_model_sizes(value, origin, f"{where}.")
        elif isinstance(value, tuple) and type(spec).model_fields[name].annotation is not None:
            if not value and _holds_specs(type(spec).model_fields[name].annotation):
                raise PlanInputError(f"{origin}: {where}: empty; expected at least one entry")
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    check_model_sizes(item, origin, f"{where}.{i}.")
        elif isinstance(value, int) and not isinstance(value, bool):
            deep = name == "count" or (name.startswith("num_") and name.endswith(("layers", "blocks")))
            bound = MAX_MODEL_DEPTH if deep else MAX_MODEL_WHOLE_NUMBER
            if value > bound:
                raise PlanInputError(f"{origin}: {where}: {value:,} is more than this planner's bound of {bound:,}")


def _holds_specs(annotation) -> bool:
    return any(isinstance(a, type) and issubclass(a, BaseModel) for a in typing.get_args(annotation))


def check_input_file(path: Path, what: str) -> None:
    """A file to read: a regular file of sane size (not a device, a pipe or a folder), before it is read."""
    if not path.exists():
        return  # the reader says "not found" in its own words
    if not path.is_file():
        raise PlanInputError(f"{what} {path}: not a regular file")
    size = path.stat().st_size
    if size > MAX_INPUT_FILE_BYTES:
        raise PlanInputError(f"{what} {path}: {size:,} bytes, more than the {MAX_INPUT_FILE_BYTES:,} an input file may have")


def check_text_file(path: Path, what: str) -> None:
    """check_input_file, and the bytes must be UTF-8 text (a binary file is refused in one line)."""
    check_input_file(path, what)
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PlanInputError(f"{what} {path}: not a text file (not UTF-8)") from None
    except OSError as exc:
        raise PlanInputError(f"{what} {path}: cannot read: {exc.strerror}") from None


def check_document_size(document, what: str) -> None:
    """At most MAX_DOCUMENT_NODES values, counted without expanding shared (aliased) parts more than needed."""
    pending, seen = [document], 0
    while pending:
        node = pending.pop()
        seen += 1
        if seen > MAX_DOCUMENT_NODES:
            raise PlanInputError(f"{what}: more than {MAX_DOCUMENT_NODES:,} values")
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def non_finite_keys(document) -> list[str]:
    """Flattened keys (a.b.0) of the NaN and infinite numbers in a document."""
    return [key for key, value in flatten(document).items() if isinstance(value, float) and not math.isfinite(value)]


def non_ascii_digits(args: Iterable[str]) -> str | None:
    """The first argument holding a digit outside 0-9 (full-width '５１２' reads as 512 in Python)."""
    for arg in args:
        if any(unicodedata.category(ch) == "Nd" and not ch.isascii() for ch in arg):
            return arg
    return None


class CheckedGroup(typer.core.TyperGroup):
    """The `plan` command group: refuses non-ASCII digits anywhere on the command line, before parsing."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        bad = non_ascii_digits(args)
        if bad is not None:
            typer.echo(f"error: '{bad}': write numbers with the digits 0-9", err=True)
            raise typer.Exit(2)
        return super().parse_args(ctx, args)
