"""`plan`: capacity planning for Mochi-class text-to-video training."""
from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Optional

import typer
from pydantic import ValidationError
from rich.console import Console

from estimators.alternatives import explain
from estimators.backtest import backtest as run_backtest
from estimators.document import plan_document
from estimators.errors import PlanInputError
from estimators.estimate import PlanRequest, plan
from estimators.presets import load_model, parse_cluster
from estimators.specs.models import VideoSystemSpec
from plan_cli.inputs import build_workload, parse_layout
from plan_cli.render import print_backtest, print_plan

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
EXIT_BAD_INPUT = 2


@app.callback()
def main() -> None:
    """Capacity planning for Mochi-class text-to-video training."""


def friendly_errors(command):
    """Bad input: one line on stderr and exit code 2, never a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PlanInputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except ValidationError as exc:
            err = exc.errors()[0]
            typer.echo(f"error: {'.'.join(map(str, err['loc']))}: {err['msg']}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


def emit_json(document: dict) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=float) + "\n")


@app.command()
@friendly_errors
def estimate(
    gpus: str = typer.Option("H100x512", help="Cluster as NAMExCOUNT, e.g. H100x512, A100x1024, B200x64."),
    model: str = typer.Option("mochi-10b", help="Preset name or a YAML/JSON model file."),
    height: int = typer.Option(480, help="Clip height in pixels."),
    width: int = typer.Option(848, help="Clip width in pixels."),
    frames: int = typer.Option(163, help="Frames a clip (6k+1 for Mochi's VAE)."),
    fps: float = typer.Option(30.0, help="Frames per second."),
    text_tokens: int = typer.Option(256, help="Valid caption tokens a clip."),
    clips: int = typer.Option(10_000_000, help="Distinct clips in the dataset."),
    epochs: float = typer.Option(1.0, help="Passes over the dataset."),
    steps: Optional[int] = typer.Option(None, help="Optimizer steps (overrides clips x epochs)."),
    global_batch: int = typer.Option(512, help="Clips per optimizer step."),
    precision: str = typer.Option("bf16", help="Compute precision: bf16 or fp8."),
    layout: Optional[str] = typer.Option(None, help="Fixed layout 'tp=1,pp=1,cp=1,dp=512,zero=3,micro_batch=1,recompute=full'; without dp, the given knobs are pinned and the rest searched."),
    stage: list[str] = typer.Option([], help="A training stage as key=value pairs overriding the options above, e.g. 'height=240,width=432,steps=20000'; repeat for several stages."),
    workload_file: Optional[Path] = typer.Option(None, "--workload", help="YAML/JSON workload file with stages (replaces the clip options)."),
    online_text: bool = typer.Option(False, help="Run T5 every step instead of precomputing embeddings."),
    online_latents: bool = typer.Option(False, help="Run the VAE encoder every step instead of precomputing latents."),
    objective: str = typer.Option("time", help="Rank searched layouts by 'time' or 'cost' (GPU-seconds x price; on one fixed cluster the same order as time)."),
    top: int = typer.Option(5, help="Best layouts to list."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of tables."),
):
    """Estimate FLOPs, memory, layout, step time, days, GPU-hours, cost and energy of a training plan."""
    if precision not in ("bf16", "fp8"):
        raise PlanInputError(f"--precision {precision}: expected bf16 or fp8")
    if objective not in ("time", "cost"):
        raise PlanInputError(f"--objective {objective}: expected time or cost")
    cluster = parse_cluster(gpus)
    system = load_model(model)
    if not isinstance(system, VideoSystemSpec):
        raise PlanInputError(f"--model {model}: estimate plans video systems; GPT files are for 'plan backtest'")
    fixed_layout, pinned = parse_layout(layout, cluster.num_gpus)
    base = dict(height=height, width=width, frames=frames, fps=fps, text_tokens=text_tokens, num_clips=clips, epochs=epochs, steps=steps, global_batch=global_batch)
    workload = build_workload(base, stage, not online_text, not online_latents, workload_file)
    _check_text_tokens(system, workload)
    request = PlanRequest(system, workload, cluster, precision, fixed_layout, pinned, objective)
    result = plan(request)
    doc = plan_document(result)
    search = result["last"]["search"]
    rows = explain(search, cluster.gpu.hbm_bytes.value, top) if search is not None else []
    if search is not None:
        doc["search"] = {"layouts_evaluated": len(search), "layouts_valid_and_fitting": int(len(search.ranked)), "ranking": rows}
    if as_json:
        emit_json(doc)
    else:
        print_plan(doc, Console(width=140), rows)


@app.command()
@friendly_errors
def backtest(
    file: Path = typer.Argument(..., help="CSV with the columns of shared/reference/calibration-runs.csv."),
    as_json: bool = typer.Option(False, "--json", help="Print {rows: [{id, predicted_step_s, measured_step_s, error}], mape}."),
):
    """Predict each published run's step time on its layout and compare with the measurement."""
    result = run_backtest(file)
    if as_json:
        emit_json(result)
    else:
        print_backtest(result, Console(width=120))


def _check_text_tokens(system: VideoSystemSpec, workload) -> None:
    for st in workload.stages:
        if st.text_tokens > system.dit.max_text_tokens:
            raise PlanInputError(f"text_tokens={st.text_tokens} exceeds the model's {system.dit.max_text_tokens}")


if __name__ == "__main__":
    app()
