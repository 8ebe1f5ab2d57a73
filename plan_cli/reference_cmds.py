"""`plan profile` and `plan reference ...`: the commands that need torch (imported lazily)."""
from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from estimators.documents.outputs import check_output, check_output_folder
from estimators.documents.schema import emitted
from estimators.errors import PlanInputError
from estimators.specs.messages import Spelling
from plan_cli.common import AsJson, emit_json, friendly_errors, input_errors
from plan_cli.inputs import build
from plan_cli.progress import phase_progress
from plan_cli.render import print_profile, terminal
from plan_cli.validation import option_label
from reference_model.prompts import VIDEO_FORMATS, GenerateRequest, parse_request

reference_app = typer.Typer(no_args_is_help=True, help="The runnable scaled-down Mochi-like reference system (needs torch).")
DEFAULT_RUN = Path("runs/reference")
NEEDS_TEST_EXTRAS = "this command needs torch and the other test extras: python3 -m pip install -e '.[test]'"


def _torch_module(name: str):
    """A reference_model module, or a one-line error saying what to install when torch (the test extras) is not."""
    try:
        return importlib.import_module(f"reference_model.{name}")
    except ImportError as exc:
        raise PlanInputError(f"{NEEDS_TEST_EXTRAS} ({exc})") from None


@reference_app.command("train")
@friendly_errors
def reference_train(
    quick: Annotated[bool, typer.Option("--quick", help="The quick budget (under 2 minutes here).")] = False,
    config: Annotated[Optional[str], typer.Option(help="Config name (default, quick) or YAML file.")] = None,
    out: Annotated[Path, typer.Option(help="Run folder (resumes from its checkpoint).")] = DEFAULT_RUN,
):
    """Train the reference VAE, then the DiT (rectified flow), with checkpoints that resume exactly."""
    name = config or ("quick" if quick else "default")
    if Path(name).suffix and not Path(name).is_file():
        raise PlanInputError(f"--config {name}: file not found")
    check_output_folder(out, "--out")
    pipeline = _torch_module("pipeline")
    typer.echo(f"training the reference model ({name}) into {out}: VAE, latent cache, then DiT", err=True)
    with phase_progress() as progress:

        def report(phase, step, total, loss):
            if math.isnan(loss):  # a phase without a loss (encoding the clip cache)
                progress(phase, step, total)
            else:
                progress(f"{phase} training", step, total, f"loss {loss:.4f}")

        with input_errors(ValueError, FileNotFoundError):
            result = pipeline.train(name, out, report)
    typer.echo(f"trained {name} into {out}: VAE loss {result['vae_losses'][-1]:.4f}, DiT loss {result['dit_losses'][-1]:.4f} at step {result['dit_step']}")


@reference_app.command("generate")
@friendly_errors
def reference_generate(
    prompt: Annotated[str, typer.Argument(help='Plain text, or JSON {"prompt", "frames", "fps", "seed", "format"}.')],
    output: Annotated[Path, typer.Option("-o", "--output", help="Video file: .mp4, .webm or .avi.")],
    out: Annotated[Path, typer.Option(help="Run folder with the trained model.")] = DEFAULT_RUN,
):
    """Generate a clip from a prompt with the trained reference model."""
    pipeline = _torch_module("pipeline")
    request = build(GenerateRequest, parse_request(prompt), Spelling(origin="prompt JSON" if prompt.strip().startswith("{") else "prompt"))
    # a symlink's target is written; the link stays
    target = check_output(output, option_label("output"), "a clip is MP4, WebM or AVI", tuple(f".{f}" for f in VIDEO_FORMATS))
    written_as = target.suffix.lower().lstrip(".")
    if request.format is not None and request.format != Path(output).suffix.lower().lstrip("."):
        raise PlanInputError(f"prompt JSON: format {request.format} but {option_label('output')} {output} ends in .{written_as}: "
                             "give one (the file's extension decides the container)")
    with input_errors(ValueError, FileNotFoundError):
        written = pipeline.generate_file(out, request, target)
    typer.echo(f"wrote {written['path']}: {written['frames']} frames {written['width']}x{written['height']} at {written['fps']:g} fps ({written['format']})")


@reference_app.command("evaluate")
@friendly_errors
def reference_evaluate(
    out: Annotated[Path, typer.Option(help="Run folder with the trained model.")] = DEFAULT_RUN,
    as_json: AsJson = False,
):
    """Prompt adherence and temporal consistency on held-out prompts, against an untrained model."""
    pipeline = _torch_module("pipeline")
    if not out.is_dir():
        raise PlanInputError(f"--out {out}: no such run folder; run `plan reference train` first")
    if not as_json:
        typer.echo(f"generating the held-out prompts with the trained and an untrained DiT ({out})", err=True)
    with input_errors(FileNotFoundError):
        result = pipeline.evaluate_run(out)
    if as_json:
        emit_json(emitted(result))
    else:
        typer.echo(
            f"adherence {result.adherence:.2f} (untrained {result.baseline_adherence:.2f}); colour {result.colour:.2f}, "
            f"direction {result.direction:.2f}; temporal consistency {result.temporal_consistency:.2f} on {result.prompts} held-out prompts"
        )




@friendly_errors
def profile(
    quick: Annotated[bool, typer.Option("--quick", help="16 configs and 5 repeats (under 5 minutes here) instead of 36 and 9.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for the tables, device files and plot.")] = Path("runs/profile"),
    as_json: AsJson = False,
):
    """Profile the reference model over a grid and hold the estimators to it (held-out errors, collectives)."""
    check_output_folder(out, "--out")
    run_profile = _torch_module("profile_grid").run_profile
    with phase_progress(quiet=as_json) as progress:
        result = run_profile(quick, out, lambda done, total: progress("profiling configs", done, total))
    if as_json:
        emit_json(emitted(result))
    else:
        print_profile(result, terminal(), out)


def register(app: typer.Typer) -> None:
    """Add these commands to the main app."""
    from plan_cli.reference_serving import register as register_serving

    register_serving(reference_app)
    app.add_typer(reference_app, name="reference")
    app.command()(profile)
