"""`plan`: capacity planning for Mochi-class text-to-video training."""
from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress

from estimators.alternatives import explain
from estimators.backtest import backtest as run_backtest
from estimators.document import plan_document
from estimators.errors import PlanInputError
from estimators.estimate import PlanRequest, plan
from estimators.presets import load_model, parse_cluster
from estimators.specs.models import VideoSystemSpec
from plan_cli.inputs import build_workload, parse_layout
from plan_cli.render import print_backtest, print_diff, print_plan, print_profile, print_simulation

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
EXIT_BAD_INPUT = 2
GB = 1e9

# Options shared by every command that plans a run (estimate, simulate).
Gpus = Annotated[str, typer.Option(help="Cluster as NAMExCOUNT, e.g. H100x512, A100x1024, B200x64.")]
Model = Annotated[str, typer.Option(help="Preset name or a YAML/JSON model file.")]
Height = Annotated[int, typer.Option(help="Clip height in pixels.")]
Width = Annotated[int, typer.Option(help="Clip width in pixels.")]
Frames = Annotated[int, typer.Option(help="Frames a clip (6k+1 for Mochi's VAE).")]
Fps = Annotated[float, typer.Option(help="Frames per second.")]
TextTokens = Annotated[int, typer.Option(help="Valid caption tokens a clip.")]
Clips = Annotated[int, typer.Option(help="Distinct clips in the dataset.")]
Epochs = Annotated[float, typer.Option(help="Passes over the dataset.")]
Steps = Annotated[Optional[int], typer.Option(help="Optimizer steps (overrides clips x epochs).")]
GlobalBatch = Annotated[int, typer.Option(help="Clips per optimizer step.")]
Precision = Annotated[str, typer.Option(help="Compute precision: bf16 or fp8.")]
LayoutText = Annotated[Optional[str], typer.Option("--layout", help="Fixed layout 'tp=1,pp=1,cp=1,dp=512,zero=3,micro_batch=1,recompute=full'; without dp, the given knobs are pinned and the rest searched.")]
Stages = Annotated[list[str], typer.Option("--stage", help="A training stage as key=value pairs overriding the clip options, e.g. 'height=240,width=432,steps=20000'; repeat for several stages.")]
WorkloadFile = Annotated[Optional[Path], typer.Option("--workload", help="YAML/JSON workload file with stages (replaces the clip options).")]
OnlineText = Annotated[bool, typer.Option(help="Run T5 every step instead of precomputing embeddings.")]
OnlineLatents = Annotated[bool, typer.Option(help="Run the VAE encoder every step instead of precomputing latents.")]
Objective = Annotated[str, typer.Option(help="Rank searched layouts by 'time' or 'cost' (GPU-seconds x price; on one fixed cluster the same order as time).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]


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


def make_request(gpus, model, height, width, frames, fps, text_tokens, clips, epochs, steps, global_batch, precision,
                 layout, stage, workload_file, online_text, online_latents, objective) -> PlanRequest:
    """Validate the shared options and build the plan request."""
    if precision not in ("bf16", "fp8"):
        raise PlanInputError(f"--precision {precision}: expected bf16 or fp8")
    if objective not in ("time", "cost"):
        raise PlanInputError(f"--objective {objective}: expected time or cost")
    cluster = parse_cluster(gpus)
    system = load_model(model)
    if not isinstance(system, VideoSystemSpec):
        raise PlanInputError(f"--model {model}: this command plans video systems; GPT files are for 'plan backtest'")
    fixed_layout, pinned = parse_layout(layout, cluster.num_gpus)
    base = dict(height=height, width=width, frames=frames, fps=fps, text_tokens=text_tokens, num_clips=clips,
                epochs=epochs, steps=steps, global_batch=global_batch)
    workload = build_workload(base, stage, not online_text, not online_latents, workload_file)
    for st in workload.stages:
        if st.text_tokens > system.dit.max_text_tokens:
            raise PlanInputError(f"text_tokens={st.text_tokens} exceeds the model's {system.dit.max_text_tokens}")
    return PlanRequest(system, workload, cluster, precision, fixed_layout, pinned, objective)


@app.command()
@friendly_errors
def estimate(
    gpus: Gpus = "H100x512", model: Model = "mochi-10b", height: Height = 480, width: Width = 848, frames: Frames = 163,
    fps: Fps = 30.0, text_tokens: TextTokens = 256, clips: Clips = 10_000_000, epochs: Epochs = 1.0, steps: Steps = None,
    global_batch: GlobalBatch = 512, precision: Precision = "bf16", layout: LayoutText = None, stage: Stages = [],
    workload_file: WorkloadFile = None, online_text: OnlineText = False, online_latents: OnlineLatents = False,
    objective: Objective = "time",
    top: Annotated[int, typer.Option(help="Best layouts to list.")] = 5,
    as_json: AsJson = False,
):
    """Estimate FLOPs, memory, layout, step time, days, GPU-hours, cost and energy of a training plan."""
    request = make_request(gpus, model, height, width, frames, fps, text_tokens, clips, epochs, steps, global_batch,
                           precision, layout, stage, workload_file, online_text, online_latents, objective)
    result = plan(request)
    doc = plan_document(result)
    search = result["last"]["search"]
    rows = explain(search, request.cluster.gpu.hbm_bytes.value, top) if search is not None else []
    if search is not None:
        doc["search"] = {"layouts_evaluated": len(search), "layouts_valid_and_fitting": int(len(search.ranked)), "ranking": rows}
    if as_json:
        emit_json(doc)
    else:
        print_plan(doc, Console(width=140), rows)


@app.command()
@friendly_errors
def simulate(
    gpus: Gpus = "H100x512", model: Model = "mochi-10b", height: Height = 480, width: Width = 848, frames: Frames = 163,
    fps: Fps = 30.0, text_tokens: TextTokens = 256, clips: Clips = 10_000_000, epochs: Epochs = 1.0, steps: Steps = None,
    global_batch: GlobalBatch = 512, precision: Precision = "bf16", layout: LayoutText = None, stage: Stages = [],
    workload_file: WorkloadFile = None, online_text: OnlineText = False, online_latents: OnlineLatents = False,
    objective: Objective = "time",
    runs: Annotated[int, typer.Option(help="Monte Carlo runs.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same answer).")] = 0,
    schedule: Annotated[Optional[str], typer.Option(help="Pipeline schedule: gpipe, 1f1b or interleaved (default: 1f1b, interleaved when vpp > 1).")] = None,
    failures_per_gpu_hour: Annotated[Optional[float], typer.Option(help="Failure rate per GPU-hour (default: Llama 3's 419 in 54 days on 16,384 GPUs).")] = None,
    restart_min: Annotated[float, typer.Option(help="Minutes to detect a failure and restart the job.")] = 10.0,
    storage_write_gbps: Annotated[float, typer.Option(help="Aggregate checkpoint write bandwidth, GB/s.")] = 20.0,
    storage_read_gbps: Annotated[float, typer.Option(help="Aggregate storage read bandwidth, GB/s.")] = 40.0,
    async_checkpoints: Annotated[bool, typer.Option(help="Asynchronous checkpoints (stall only for the copy to host memory).")] = False,
    checkpoint_interval_min: Annotated[Optional[float], typer.Option(help="Checkpoint interval in minutes (default: Young/Daly).")] = None,
    raw_bitrate_mbps: Annotated[float, typer.Option(help="Bitrate of the raw source clips, Mbit/s.")] = 8.0,
    trace: Annotated[Optional[Path], typer.Option(help="Write a Chrome/Perfetto trace of one step here (JSON).")] = None,
    timeline: Annotated[Optional[Path], typer.Option(help="Write a timeline picture of one step here (PNG).")] = None,
    as_json: AsJson = False,
):
    """Simulate one step (pipeline schedule, overlap), the whole run with failures and checkpoints, and the data pipeline."""
    from sim.plan_sim import SimOptions, simulate_plan

    if runs < 1:
        raise PlanInputError("--runs must be at least 1")
    request = make_request(gpus, model, height, width, frames, fps, text_tokens, clips, epochs, steps, global_batch,
                           precision, layout, stage, workload_file, online_text, online_latents, objective)
    for value, name in ((restart_min, "--restart-min"), (storage_write_gbps, "--storage-write-gbps"), (storage_read_gbps, "--storage-read-gbps")):
        if value <= 0:
            raise PlanInputError(f"{name} must be positive")
    opts = SimOptions(
        runs=runs, seed=seed, schedule=schedule, failures_per_gpu_hour=failures_per_gpu_hour, restart_s=restart_min * 60,
        storage_write_bytes_per_s=storage_write_gbps * GB, storage_read_bytes_per_s=storage_read_gbps * GB,
        asynchronous_checkpoints=async_checkpoints, interval_s=None if checkpoint_interval_min is None else checkpoint_interval_min * 60,
        raw_bitrate_bits_per_s=raw_bitrate_mbps * 1e6, trace_path=trace, timeline_path=timeline,
    )
    if schedule not in (None, "gpipe", "1f1b", "interleaved"):
        raise PlanInputError(f"--schedule {schedule}: expected gpipe, 1f1b or interleaved")
    result = plan(request)
    with Progress(transient=True, disable=as_json or not sys.stderr.isatty()) as progress:
        task = progress.add_task("Monte Carlo runs", total=runs)
        doc = simulate_plan(result, opts, lambda done: progress.update(task, completed=done))
    if as_json:
        emit_json(doc)
    else:
        print_simulation(doc, Console(width=120))


@app.command()
@friendly_errors
def report(
    gpus: Gpus = "H100x512", model: Model = "mochi-10b", height: Height = 480, width: Width = 848, frames: Frames = 163,
    fps: Fps = 30.0, text_tokens: TextTokens = 256, clips: Clips = 10_000_000, epochs: Epochs = 1.0, steps: Steps = None,
    global_batch: GlobalBatch = 512, precision: Precision = "bf16", layout: LayoutText = None, stage: Stages = [],
    workload_file: WorkloadFile = None, online_text: OnlineText = False, online_latents: OnlineLatents = False,
    objective: Objective = "time",
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF file to write.")] = Path("plan.pdf"),
    runs: Annotated[int, typer.Option(help="Monte Carlo runs for the goodput page.")] = 300,
    calibration: Annotated[Optional[Path], typer.Option(help="Calibration CSV for the validation page.")] = Path("../shared/reference/calibration-runs.csv"),
    pages_png: Annotated[Optional[Path], typer.Option(help="Also save each page as report-page-N.png in this folder.")] = None,
):
    """Write a multi-page design-review PDF: summary, assumptions, FLOPs and memory, layouts, scaling, goodput, validation."""
    from estimators.sweeps import sweep
    from reports.pdf import write_report
    from sim.plan_sim import SimOptions, simulate_plan

    request = make_request(gpus, model, height, width, frames, fps, text_tokens, clips, epochs, steps, global_batch,
                           precision, layout, stage, workload_file, online_text, online_latents, objective)
    if not output.parent.exists():
        raise PlanInputError(f"-o {output}: folder {output.parent} does not exist")
    result = plan(request)
    doc = plan_document(result)
    search = result["last"]["search"]
    ranking = explain(search, request.cluster.gpu.hbm_bytes.value) if search is not None else []
    sim = simulate_plan(result, SimOptions(runs=runs))
    n = request.cluster.num_gpus
    sizes = sorted({max(8, n // 4), max(8, n // 2), n, n * 2, n * 4})
    scaling = sweep(gpus=[f"{g}x{k}" for g in ("A100", "H100", "H200", "B200") for k in sizes], model=[model])
    scaling["gpu_type"] = scaling["gpus"].str.split("x").str[0]
    scaling["num_gpus"] = scaling["gpus"].str.split("x").str[1].astype(int)
    backtest_doc = run_backtest(calibration) if calibration and calibration.exists() else None
    if pages_png is not None and not pages_png.is_dir():
        raise PlanInputError(f"--pages-png {pages_png}: not a folder")
    pages = write_report(output, doc, ranking, sim, scaling, backtest_doc, pages_png)
    typer.echo(f"wrote {output} ({pages} pages)")


@app.command()
@friendly_errors
def backtest(
    file: Annotated[Path, typer.Argument(help="CSV with the columns of shared/reference/calibration-runs.csv.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print {rows: [{id, predicted_step_s, measured_step_s, error}], mape}.")] = False,
):
    """Predict each published run's step time on its layout and compare with the measurement."""
    result = run_backtest(file)
    if as_json:
        emit_json(result)
    else:
        print_backtest(result, Console(width=120))


@app.command()
@friendly_errors
def golden(
    update: Annotated[bool, typer.Option("--update", help="Recompute and rewrite expected.json (a deliberate change).")] = False,
    directory: Annotated[Path, typer.Option("--dir", help="Folder with scenarios.json and expected.json.")] = Path("tests/golden"),
):
    """Check the golden scenarios (exit 1 when an estimate moved beyond the tolerance), or --update them."""
    from estimators.golden import GOLDEN_TOLERANCE, check
    from estimators.golden import update as rewrite

    if not (directory / "scenarios.json").exists():
        raise PlanInputError(f"{directory}/scenarios.json not found")
    if update:
        typer.echo(f"rewrote {directory / 'expected.json'} ({rewrite(directory)} scenarios)")
        return
    moved = check(directory)
    if moved:
        print_diff(moved, Console(width=140), f"Golden estimates that moved beyond {GOLDEN_TOLERANCE:.1%}")
        raise typer.Exit(1)
    typer.echo(f"golden scenarios unchanged (tolerance {GOLDEN_TOLERANCE:.1%})")


@app.command("diff")
@friendly_errors
def diff_command(
    old: Annotated[Path, typer.Argument(help="Earlier JSON (e.g. plan estimate --json).")],
    new: Annotated[Path, typer.Argument(help="Later JSON.")],
    tolerance: Annotated[float, typer.Option(help="Ignore relative changes up to this (0.01 = 1%).")] = 0.0,
    as_json: AsJson = False,
):
    """Show which figures moved between two JSON documents, and by how much."""
    from estimators.docdiff import diff
    from estimators.presets import read_mapping

    moved = diff(read_mapping(old), read_mapping(new), tolerance)
    if as_json:
        emit_json({"moved": moved})
    else:
        print_diff(moved, Console(width=140), f"{len(moved)} figures moved ({old} -> {new})")


reference_app = typer.Typer(no_args_is_help=True, help="The runnable scaled-down Mochi-like reference system (needs torch).")
app.add_typer(reference_app, name="reference")
DEFAULT_RUN = Path("runs/reference")


def _torch_pipeline():
    """The reference pipeline, or a one-line error when torch is not installed."""
    try:
        from reference_model import pipeline
    except ImportError as exc:
        raise PlanInputError(f"the reference model needs the test extras (pip install -e '.[test]'): {exc}") from None
    return pipeline


@app.command()
@friendly_errors
def profile(
    quick: Annotated[bool, typer.Option("--quick", help="16 configs and 5 repeats (under 5 minutes here) instead of 36 and 9.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for the tables, device files and plot.")] = Path("runs/profile"),
    as_json: AsJson = False,
):
    """Profile the reference model over a grid and hold the estimators to it (held-out errors, collectives)."""
    try:
        from reference_model.profile_grid import run_profile
    except ImportError as exc:
        raise PlanInputError(f"profiling needs the test extras (pip install -e '.[test]'): {exc}") from None
    with Progress(transient=True, disable=as_json or not sys.stderr.isatty()) as progress:
        task = progress.add_task("profiling configs", total=None)
        result = run_profile(quick, out, lambda done, total: progress.update(task, completed=done, total=total))
    if as_json:
        emit_json(result)
    else:
        print_profile(result, Console(width=120), out)


@reference_app.command("train")
@friendly_errors
def reference_train(
    quick: Annotated[bool, typer.Option("--quick", help="The quick budget (under 2 minutes here).")] = False,
    config: Annotated[Optional[str], typer.Option(help="Config name (default, quick) or YAML file.")] = None,
    out: Annotated[Path, typer.Option(help="Run folder (resumes from its checkpoint).")] = DEFAULT_RUN,
):
    """Train the reference VAE, then the DiT (rectified flow), with checkpoints that resume exactly."""
    pipeline = _torch_pipeline()
    name = config or ("quick" if quick else "default")
    with Progress() as progress:
        tasks = {}

        def report(phase, step, total, loss):
            if phase not in tasks:
                tasks[phase] = progress.add_task(f"{phase} training", total=total)
            progress.update(tasks[phase], completed=step, description=f"{phase} training, loss {loss:.4f}")

        try:
            result = pipeline.train(name, out, report)
        except (ValueError, FileNotFoundError) as exc:
            raise PlanInputError(str(exc)) from None
    typer.echo(f"trained {name} into {out}: VAE loss {result['vae_losses'][-1]:.4f}, DiT loss {result['dit_losses'][-1]:.4f} at step {result['dit_step']}")


@reference_app.command("generate")
@friendly_errors
def reference_generate(
    prompt: Annotated[str, typer.Argument(help='Plain text, or JSON {"prompt", "frames", "fps", "seed", "format"}.')],
    output: Annotated[Path, typer.Option("-o", "--output", help="Video file: .mp4, .webm or .avi.")],
    out: Annotated[Path, typer.Option(help="Run folder with the trained model.")] = DEFAULT_RUN,
):
    """Generate a clip from a prompt with the trained reference model."""
    pipeline = _torch_pipeline()
    try:
        written = pipeline.generate_file(out, prompt, output)
    except (ValueError, FileNotFoundError) as exc:
        raise PlanInputError(str(exc)) from None
    typer.echo(f"wrote {written['path']}: {written['frames']} frames {written['width']}x{written['height']} at {written['fps']:g} fps ({written['format']})")


@reference_app.command("evaluate")
@friendly_errors
def reference_evaluate(
    out: Annotated[Path, typer.Option(help="Run folder with the trained model.")] = DEFAULT_RUN,
    as_json: AsJson = False,
):
    """Prompt adherence and temporal consistency on held-out prompts, against an untrained model."""
    pipeline = _torch_pipeline()
    try:
        result = pipeline.evaluate_run(out)
    except FileNotFoundError as exc:
        raise PlanInputError(str(exc)) from None
    if as_json:
        emit_json(result)
    else:
        typer.echo(
            f"adherence {result['adherence']:.2f} (untrained {result['baseline_adherence']:.2f}); colour {result['colour']:.2f}, "
            f"direction {result['direction']:.2f}; temporal consistency {result['temporal_consistency']:.2f} on {result['prompts']} held-out prompts"
        )


if __name__ == "__main__":
    app()
