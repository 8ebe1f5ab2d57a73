"""What the command line itself must hold before the specs are built: options that contradict each other,
input files that are not regular text files of sane size, outputs that would replace an input, options typed
twice or idle in their mode, digits outside 0-9 (documents that expand without end are the reader's:
estimators/catalog/files.py). Numbers and their bounds are the specs' (estimators/specs/bounds.py); their errors are worded
by estimators/specs/messages.py, told here how each option is spelled.
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Optional

import typer
import typer.core

from estimators.documents.docdiff import flatten
from estimators.errors import PlanInputError
from estimators.specs.messages import Spelled, Spelling

MAX_INPUT_FILE_BYTES = 16 * 2**20  # model, workload, JSON and CSV inputs are kilobytes; /dev/zero is endless
UNTYPED_SOURCES = ("DEFAULT", "DEFAULT_MAP")  # click's ParameterSource names of a value the user did not type
# The running command's context (typer passes it to a parameter annotated typer.Context; common.friendly_errors sets it).
COMMAND_CONTEXT: ContextVar[Optional[typer.Context]] = ContextVar("plan_command_context", default=None)


def option_label(name: str) -> str:
    """How the user spelled option ``name`` on the command line (e.g. '--runs', '-o')."""
    ctx = COMMAND_CONTEXT.get()
    for param in ctx.command.params if ctx else ():
        if param.name == name and param.opts:
            return max(param.opts, key=len)
    return "--" + name.replace("_", "-")


def option_spelling() -> Spelling:
    """How the running command's options are typed, for the translator: '--top 2000', '--runs 0'."""
    ctx = COMMAND_CONTEXT.get()
    return Spelling(fields={param.name: Spelled(option_label(param.name)) for param in (ctx.command.params if ctx else ())})


def spelled_as(renamed: dict[str, tuple[str, float]]) -> Spelling:
    """option_spelling for a spec whose fields the command fills from options of other names and units:
    field -> (option, the field's value per unit typed), e.g. restart_s -> ('restart_min', 60)."""
    fields = {**option_spelling().fields}
    for field, (option, per_unit) in renamed.items():
        fields[field] = Spelled(option_label(option), per_unit=per_unit)
    return Spelling(fields=fields)


def given(names: Iterable[str]) -> list[str]:
    """The options among ``names`` the user typed (not left at their defaults)."""
    ctx = COMMAND_CONTEXT.get()
    if ctx is None:
        return []
    sources = {n: ctx.get_parameter_source(n) for n in names}
    return [n for n, source in sources.items() if source is not None and source.name not in UNTYPED_SOURCES]


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


# Parameters of the commands that name files they read (model: when it names a file, not a preset).
INPUT_PARAMS = ("model", "workload_file", "calibration", "file", "old", "new", "config")


def input_files() -> dict[str, Path]:
    """The running command's input files that exist, by the option (or argument) that named them."""
    ctx = COMMAND_CONTEXT.get()
    params = ctx.params if ctx else {}
    found = {}
    for name in INPUT_PARAMS:
        value = params.get(name)
        if value and Path(value).is_file():
            found[option_label(name) if name not in ("file", "old", "new") else name.upper()] = Path(value)
    return found


def check_fleet_mode(searched: bool, fixed_layout: bool) -> None:
    """Options of plan estimate that would do nothing in the mode the others choose."""
    if not searched and given(["max_gpus"]):
        raise PlanInputError(f"{option_label('max_gpus')} bounds the deadline/budget search: give --deadline-days or --budget-usd "
                             "(with --gpus as kinds, e.g. H100,H200,B200), or leave it out")
    if fixed_layout and given(["top"]):
        raise PlanInputError(f"{option_label('top')} lists searched layouts, and a --layout with dp is not searched: leave one out")


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


def non_finite_keys(document) -> list[str]:
    """Flattened keys (a.b.0) of the NaN and infinite numbers in a document."""
    return [key for key, value in flatten(document).items() if isinstance(value, float) and not math.isfinite(value)]


def non_ascii_digits(args: Iterable[str]) -> str | None:
    """The first argument holding a digit outside 0-9 (full-width '５１２' reads as 512 in Python)."""
    for arg in args:
        if any(unicodedata.category(ch) == "Nd" and not ch.isascii() for ch in arg):
            return arg
    return None


def _subcommand(group, ctx, args: list[str]) -> tuple:
    """The command the arguments name (through nested groups such as `plan reference`) and its own arguments
    (typer's commands and groups, read through their public attributes)."""
    command = group
    while hasattr(command, "get_command") and args:
        command, args = command.get_command(ctx, args[0]), args[1:]
    return command, args


def repeated_option(command, args: list[str]) -> Optional[str]:
    """The first option that takes one value and is typed twice with different values (click keeps the last one
    silently), as a message; a flag and its --no- form count as one option. Repeatable options are not checked
    here (--stage adds a stage; --price checks its own kinds)."""
    single = {opt: param for param in command.params if param.param_type_name == "option" and not param.multiple
              and not getattr(param, "count", False) for opt in (*param.opts, *param.secondary_opts)}
    seen: dict[str, tuple[str, str]] = {}
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            break
        name, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
        param = single.get(name)
        if param is None:
            continue
        if param.is_flag:
            value = name
        elif not equals:
            value = next(tokens, "")
        first = seen.setdefault(param.name, (name, value))
        if first[1] != value:
            if param.is_flag:
                return f"{first[0]} and {name} contradict each other: give one"
            return f"{name} given twice ({first[1]}, then {value}): give it once"
    return None


class CheckedGroup(typer.core.TyperGroup):
    """The `plan` command group: refuses, before parsing, non-ASCII digits anywhere on the command line and an
    option typed twice with different values."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        bad = non_ascii_digits(args)
        if bad is not None:
            typer.echo(f"error: '{bad}': write numbers with the digits 0-9", err=True)
            raise typer.Exit(2)
        command, own = _subcommand(self, ctx, args)
        repeated = repeated_option(command, own) if command is not None else None
        if repeated is not None:
            typer.echo(f"error: {repeated}", err=True)
            raise typer.Exit(2)
        return super().parse_args(ctx, args)
