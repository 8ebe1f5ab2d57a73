"""`plan`: capacity planning for Mochi-class text-to-video training."""
from __future__ import annotations

import inspect
import sys
from functools import wraps
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import Progress

from estimators.calibration.backtest import BacktestResult, CrossValidation
from estimators.calibration.backtest import backtest as run_backtest
from estimators.calibration.serving_backtest import ServingBacktestResult
from estimators.catalog.gpus import parse_gpus
from estimators.catalog.models import load_model
from estimators.catalog.prices import parse_price_overrides, with_price
from estimators.catalog.stacks import default_stack, load_stack
from estimators.documents.docdiff import DiffResult
from estimators.documents.outputs import check_output, check_output_folder
from estimators.documents.reference import ProfileResult, ReferenceEvaluation
from estimators.documents.schema import all_schemas, emitted, json_schema
from estimators.documents.simulation import SimulationResult
from estimators.errors import PlanInputError
from estimators.planning.estimate import plan
from estimators.planning.fleet import DEFAULT_MAX_GPUS, FleetAnswer, FleetQuery, answer
from estimators.planning.request import PlanRequest
from estimators.planning.results import Plan
from estimators.serving.results import LoadTestResult, ServePlan
from estimators.specs.hardware import Cluster
from estimators.specs.models import VideoSystemSpec
from estimators.time.kernels import attention_kernel
from plan_cli.common import (
    GB,
    AsJson,
    Clips,
    Epochs,
    ExpertsResident,
    Fps,
    Frames,
    GlobalBatch,
    Gpus,
    Height,
    Kernel,
    LayoutText,
    Model,
    Objective,
    OnlineLatents,
    OnlineText,
    Precision,
    Prices,
    Stack,
    Stages,
    Steps,
    TextTokens,
    TrainingText,
    Width,
    WorkloadFile,
    emit_json,
    friendly_errors,
)
from plan_cli.inputs import build, build_workload, parse_layout, parse_training, pinned_knobs
from plan_cli.locations import calibration_csv, golden_dir
from plan_cli.reference_cmds import register as register_torch_commands
from plan_cli.render import print_backtest, print_fleet, print_plan, print_simulation, terminal
from plan_cli.render_diff import DIFF_ROWS_SHOWN, print_diff, print_diff_result
from plan_cli.serve_cmds import register as register_serve_command
from plan_cli.validation import (
    CheckedGroup,
    check_fleet_mode,
    check_input_file,
    check_plan_conflicts,
    check_text_file,
    input_files,
    non_finite_keys,
    option_label,
    option_spelling,
    spelled_as,
)

# The documents --json emits, by the name `plan schema` takes.
DOCUMENTS = {"estimate": Plan, "estimate-deadline": FleetAnswer, "simulate": SimulationResult, "backtest": BacktestResult,
             "diff": DiffResult, "reference-evaluate": ReferenceEvaluation, "profile": ProfileResult,
             "serve": ServePlan, "serve-backtest": ServingBacktestResult, "loadtest": LoadTestResult}

# Plain click help: it wraps every line to the terminal (rich panels cut long option names at 80 columns).
app = typer.Typer(cls=CheckedGroup, add_completion=False, no_args_is_help=True, help=__doc__, rich_markup_mode=None)


# A stage's fields and the options that set them (a default clip fills those not typed).
STAGE_FIELD_OPTIONS = {"height": "height", "width": "width", "frames": "frames", "fps": "fps", "text_tokens": "text_tokens",
                       "num_clips": "clips", "epochs": "epochs", "steps": "steps", "global_batch": "global_batch"}
MINUTE, MBIT = 60.0, 1e6
# SimOptions fields set from options in other units: field -> (option, the field's value per unit typed).
SIM_OPTIONS_TYPED_AS = {
    "restart_s": ("restart_min", MINUTE), "interval_s": ("checkpoint_interval_min", MINUTE),
    "storage_write_bytes_per_s": ("storage_write_gbps", GB), "storage_read_bytes_per_s": ("storage_read_gbps", GB),
    "raw_bitrate_bits_per_s": ("raw_bitrate_mbps", MBIT), "asynchronous_checkpoints": ("async_checkpoints", 1.0),
    "trace_path": ("trace", 1.0), "timeline_path": ("timeline", 1.0),
}


@app.callback()
def main() -> None:
    """Capacity planning for Mochi-class text-to-video training."""


def plan_options(
    gpus: Gpus = "H100x512", model: Model = "mochi-10b", height: Height = None, width: Width = None, frames: Frames = None,
    fps: Fps = None, text_tokens: TextTokens = None, clips: Clips = 10_000_000, epochs: Epochs = 1.0, steps: Steps = None,
    global_batch: GlobalBatch = 512, precision: Precision = "bf16", layout: LayoutText = None, stage: Stages = [],
    workload_file: WorkloadFile = None, online_text: OnlineText = False, online_latents: OnlineLatents = False,
    objective: Objective = "time", price: Prices = [], kernel: Kernel = None, stack: Stack = None,
    experts_resident: ExpertsResident = None, training: TrainingText = None,
) -> PlanRequest:
    """The options every planning command shares, validated into a plan request."""
    if precision not in ("bf16", "fp8"):
        raise PlanInputError(f"--precision {precision}: expected bf16 or fp8")
    if objective not in ("time", "cost"):
        raise PlanInputError(f"--objective {objective}: expected time or cost")
    check_plan_conflicts()
    choice = parse_gpus(gpus, option_label("gpus"))
    prices = parse_price_overrides(price)
    kinds = tuple(with_price(g, prices) for g in choice.kinds)
    cluster = choice.cluster or Cluster(gpu=kinds[0], num_gpus=kinds[0].node_size)
    cluster = cluster.model_copy(update={"gpu": with_price(cluster.gpu, prices)})
    for gpu in kinds or (cluster.gpu,):
        if kernel is not None:
            attention_kernel(kernel, gpu.name, precision)
    load_stack(stack or default_stack())
    if Path(model).suffix:
        check_input_file(Path(model), "--model")
    if workload_file is not None:
        check_input_file(workload_file, "--workload")
    system = load_model(model)
    if not isinstance(system, VideoSystemSpec):
        raise PlanInputError(f"--model {model}: this command plans video systems; GPT files are for 'plan backtest'")
    if experts_resident not in (None, "one", "all"):
        raise PlanInputError(f"{option_label('experts_resident')} {experts_resident}: expected one or all")
    system = system.with_expert_residency(experts_resident)
    fixed_layout, pinned = parse_layout(layout, cluster.num_gpus) if not kinds else (None, pinned_knobs(layout))
    clip = system.default_clip
    base = dict(height=clip.height if height is None else height, width=clip.width if width is None else width,
                frames=clip.frames if frames is None else frames, fps=clip.fps if fps is None else fps,
                text_tokens=clip.text_tokens if text_tokens is None else text_tokens, num_clips=clips,
                epochs=epochs, steps=steps, global_batch=global_batch)
    options = option_spelling().fields
    typed = {field: options[option] for field, option in STAGE_FIELD_OPTIONS.items()}
    workload = build_workload(base, typed, stage, not online_text, not online_latents, workload_file)
    trained = parse_training(training)
    if trained is not None:
        workload = workload.model_copy(update={"training": trained})
    for st in workload.stages:
        if st.text_tokens > system.dit.max_text_tokens:
            raise PlanInputError(f"text_tokens={st.text_tokens} exceeds the model's {system.dit.max_text_tokens}")
    return PlanRequest(system=system, workload=workload, cluster=cluster, precision=precision, layout=fixed_layout, pinned=pinned,
                       objective=objective, gpu_kinds=kinds, kernel=kernel, stack=stack)


def with_plan_options(command):
    """Give a command taking ``request: PlanRequest`` first the shared options instead (one definition
    of them for estimate, simulate and report): typer reads the combined signature."""
    shared = list(inspect.signature(plan_options, eval_str=True).parameters.values())
    own = list(inspect.signature(command, eval_str=True).parameters.values())[1:]

    @wraps(command)
    def wrapper(**kwargs):
        request = plan_options(**{p.name: kwargs.pop(p.name) for p in shared})
        return command(request, **kwargs)

    wrapper.__signature__ = inspect.Signature(shared + own)
    return wrapper


@app.command()
@friendly_errors
@with_plan_options
def estimate(
    request: PlanRequest,
    top: Annotated[int, typer.Option(help="Best layouts to list.")] = 5,
    deadline_days: Annotated[Optional[float], typer.Option(help="Find the cheapest GPU kind, count and layout that finish within this many days (with --gpus KIND[,KIND...]).")] = None,
    budget_usd: Annotated[Optional[float], typer.Option(help="Find the fastest GPU kind, count and layout within this many US dollars (with --gpus KIND[,KIND...]).")] = None,
    max_gpus: Annotated[int, typer.Option(help="Largest cluster the deadline/budget search tries (whole nodes).")] = DEFAULT_MAX_GPUS,
    as_json: AsJson = False,
):
    """Estimate FLOPs, memory, layout, step time, days, GPU-hours, cost and energy of a training plan;
    with --deadline-days/--budget-usd, choose the GPU kind and count too."""
    check_fleet_mode(searched=deadline_days is not None or budget_usd is not None, fixed_layout=request.layout is not None)
    query = FleetQuery(deadline_days=deadline_days, budget_usd=budget_usd, max_gpus=max_gpus)
    request = build(PlanRequest, {**dict(request), "ranked_layouts": top}, spelled_as({"ranked_layouts": ("top", 1.0)}))
    if deadline_days is not None or budget_usd is not None or request.gpu_kinds:
        return _fleet_estimate(request, query, as_json)
    result = plan(request)
    if as_json:
        emit_json(emitted(result))
    else:
        print_plan(result, terminal())
    exit_unless_fits(result)


def exit_unless_fits(result) -> None:
    """Exit 2, after the full answer, when a stage's memory does not fit its GPUs."""
    if not result.fits:
        typer.echo("error: " + next(w for w in result.warnings if "DOES NOT FIT" in w), err=True)
        raise typer.Exit(2)


def _fleet_estimate(request: PlanRequest, query: FleetQuery, as_json: bool) -> None:
    """The deadline/budget search over GPU kinds and sizes; the chosen plan in full below the answer."""
    if not request.gpu_kinds:
        raise PlanInputError("--deadline-days/--budget-usd search GPU kinds and sizes: give --gpus as kinds without counts, e.g. H100,H200,B200")
    result = answer(request, request.gpu_kinds, query)
    if as_json:
        emit_json(emitted(result))
    else:
        print_fleet(result, terminal())


def _require_cluster(request: PlanRequest) -> None:
    if request.gpu_kinds:
        raise PlanInputError("--gpus: this command needs one cluster as NAMExCOUNT, e.g. H100x512")


@app.command()
@friendly_errors
@with_plan_options
def simulate(
    request: PlanRequest,
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
    from sim.run_sim import MAX_SEGMENT_ATTEMPTS

    _require_cluster(request)
    if trace is not None:
        check_output(trace, option_label("trace"), "a trace is Chrome/Perfetto JSON", (".json",), input_files())
    if timeline is not None:
        check_output(timeline, option_label("timeline"), "a timeline is a PNG picture", (".png",), input_files())
    opts = build(SimOptions, dict(
        runs=runs, seed=seed, schedule=schedule, failures_per_gpu_hour=failures_per_gpu_hour, restart_s=restart_min * MINUTE,
        storage_write_bytes_per_s=storage_write_gbps * GB, storage_read_bytes_per_s=storage_read_gbps * GB,
        asynchronous_checkpoints=async_checkpoints, interval_s=None if checkpoint_interval_min is None else checkpoint_interval_min * MINUTE,
        raw_bitrate_bits_per_s=raw_bitrate_mbps * MBIT, trace_path=trace, timeline_path=timeline,
        max_segment_attempts=MAX_SEGMENT_ATTEMPTS,
    ), spelled_as(SIM_OPTIONS_TYPED_AS))
    result = plan(request)
    with Progress(transient=True, disable=as_json or not sys.stderr.isatty()) as progress:
        task = progress.add_task("Monte Carlo runs", total=runs)
        simulation = simulate_plan(result, opts, lambda done: progress.update(task, completed=done))
    if as_json:
        emit_json(emitted(simulation))
    else:
        print_simulation(simulation, terminal())


@app.command()
@friendly_errors
@with_plan_options
def report(
    request: PlanRequest,
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF file to write.")] = Path("plan.pdf"),
    runs: Annotated[int, typer.Option(help="Monte Carlo runs for the goodput page.")] = 300,
    calibration: Annotated[Optional[Path], typer.Option(help="Calibration CSV for the validation page (default: $VIDEOPLAN_CALIBRATION_CSV, else the copy shipped with the package).")] = None,
    pages_png: Annotated[Optional[Path], typer.Option(help="Also save each page as report-page-N.png in this folder.")] = None,
):
    """Write a multi-page design-review PDF: summary, assumptions, FLOPs and memory, layouts, scaling, goodput, validation."""
    from estimators.planning.sweeps import sweep
    from estimators.time.uncertainty import stored_crossvalidation
    from reports.pdf import write_report
    from sim.plan_sim import SimOptions, simulate_plan
    from sim.run_sim import MAX_SEGMENT_ATTEMPTS

    _require_cluster(request)
    sim_options = build(SimOptions, dict(runs=runs, max_segment_attempts=MAX_SEGMENT_ATTEMPTS), option_spelling())
    calibration = calibration_csv(calibration)
    check_output(output, option_label("output"), "the report is a PDF", (".pdf",), {**input_files(), "--calibration": calibration})
    if pages_png is not None and not check_output_folder(pages_png, "--pages-png").is_dir():
        raise PlanInputError(f"--pages-png {pages_png}: folder does not exist")
    result = plan(request)
    sim = simulate_plan(result, sim_options)
    n = request.cluster.num_gpus
    sizes = sorted({max(8, n // 4), max(8, n // 2), n, n * 2, n * 4})
    wl = request.workload
    scaling = sweep(gpus=[f"{g}x{k}" for g in ("A100", "H100", "H200", "B200") for k in sizes], model=[request.system],
                    stages=[[s.model_dump() for s in wl.stages]], precompute_text=[wl.precompute_text],
                    precompute_latents=[wl.precompute_latents], precision=[request.precision])
    scaling["gpu_type"] = scaling["gpus"].str.split("x").str[0]
    scaling["num_gpus"] = scaling["gpus"].str.split("x").str[1].astype(int)
    backtest_result = run_backtest(calibration)
    stored_cv = stored_crossvalidation(calibration)  # benchmarks/crossvalidate_profiles.py, for that file's bytes only
    if stored_cv is not None:
        cv = CrossValidation(by=stored_cv["by"], mape=stored_cv["mape"], errors=stored_cv["errors"])
        backtest_result = backtest_result.model_copy(update={"cv": cv})
    pages = write_report(output, result, sim, scaling, backtest_result, pages_png)
    typer.echo(f"wrote {output} ({pages} pages)")


@app.command()
@friendly_errors
def schema(
    document: Annotated[Optional[str], typer.Argument(help=f"One document: {', '.join(DOCUMENTS)} (default: all).")] = None,
):
    """Print the JSON Schema of the documents the commands emit (--json)."""
    if document is not None and document not in DOCUMENTS:
        raise PlanInputError(f"unknown document '{document}' (known: {', '.join(DOCUMENTS)})")
    emit_json(all_schemas(DOCUMENTS) if document is None else json_schema(DOCUMENTS[document]))


@app.command()
@friendly_errors
def backtest(
    file: Annotated[Path, typer.Argument(help="CSV with the columns of shared/reference/calibration-runs.csv (video rows: model_file, frames, height, width or visual_tokens, text_tokens); rows measuring memory: measured_peak_gib and peak_measures (allocated, reserved or device); or published inference latencies (latency_s, scope: estimators/data/calibration/serving-latencies.csv).")],
    cv: Annotated[bool, typer.Option("--cv", help="Also leave-one-source-out cross-validation: refit without each source's rows, predict them.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {rows: [{id, predicted_step_s, measured_step_s, error, chosen}], mape, baseline[, cv], memory: {rows, within_share, median_ratio}}.")] = False,
):
    """Predict each published run's step time and memory on its layout and compare with the measurements; a
    CSV of published inference latencies is back-tested against plan serve."""
    from estimators.calibration.backtest import read_rows
    from estimators.calibration.fit import crossvalidate
    from estimators.calibration.serving_backtest import is_serving_csv

    check_text_file(file, "plan backtest")
    if is_serving_csv(file):
        return _serving_backtest(file, cv, as_json)
    rows = read_rows(file)
    result = run_backtest(file, rows=rows)
    if cv and result.rows:
        folds = crossvalidate(rows)
        result = result.model_copy(update={"cv": CrossValidation(by=folds["by"], mape=folds["mape"], errors=folds["errors"])})
    if as_json:
        emit_json(emitted(result))
    else:
        print_backtest(result, terminal())


def _serving_backtest(file: Path, cv: bool, as_json: bool) -> None:
    """Published inference latencies against plan serve (a CSV with latency_s and scope columns)."""
    from estimators.calibration.serving_backtest import serving_backtest
    from plan_cli.render_serving import print_serving_backtest

    if cv:
        raise PlanInputError("--cv: the serving back-test fits nothing, so there is nothing to cross-validate")
    result = serving_backtest(file)
    if as_json:
        emit_json(emitted(result))
    else:
        print_serving_backtest(result, terminal())


@app.command()
@friendly_errors
def golden(
    update: Annotated[bool, typer.Option("--update", help="Recompute and rewrite expected.json (a deliberate change).")] = False,
    directory: Annotated[Optional[Path], typer.Option("--dir", help="Folder with scenarios.json and expected.json (default: $VIDEOPLAN_GOLDEN_DIR, else the copy shipped with the package).")] = None,
):
    """Check the golden scenarios (exit 1 when an estimate moved beyond the tolerance), or --update them."""
    from estimators.documents.golden import GOLDEN_TOLERANCE, check
    from estimators.documents.golden import update as rewrite
    from estimators.documents.golden_serving import check_serving, has_serving_scenarios, update_serving

    directory = golden_dir(directory)
    serving = has_serving_scenarios(directory)
    if update:
        typer.echo(f"rewrote {directory / 'expected.json'} ({rewrite(directory)} scenarios)")
        if serving:
            typer.echo(f"rewrote {directory / 'serving_expected.json'} ({update_serving(directory)} serving scenarios)")
        return
    moved = check(directory) + (check_serving(directory) if serving else [])
    if moved:
        print_diff(moved, terminal(), f"Golden estimates that moved beyond {GOLDEN_TOLERANCE:.1%}")
        raise typer.Exit(1)
    typer.echo(f"golden scenarios unchanged (tolerance {GOLDEN_TOLERANCE:.1%})" + ("; serving scenarios too" if serving else ""))


@app.command("diff")
@friendly_errors
def diff_command(
    old: Annotated[Path, typer.Argument(help="Earlier JSON (e.g. plan estimate --json).")],
    new: Annotated[Path, typer.Argument(help="Later JSON of the same kind.")],
    tolerance: Annotated[float, typer.Option(help="Ignore relative changes up to this (0.01 = 1%).")] = 0.0,
    every_row: Annotated[bool, typer.Option("--all", help=f"List every moved figure (default: the headline figures and the {DIFF_ROWS_SHOWN} largest changes).")] = False,
    as_json: AsJson = False,
):
    """Show which figures moved between two JSON documents of one kind: headline figures first, items matched by name."""
    from estimators.catalog.files import read_mapping
    from estimators.documents.docdiff import compare

    for path in (old, new):
        check_input_file(path, "plan diff")
    documents = [read_mapping(old), read_mapping(new)]
    for path, document in zip((old, new), documents):
        bad = non_finite_keys(document)
        if bad:
            raise PlanInputError(f"{path}: {bad[0]}: not a finite number")
    result = compare(*documents, tolerance=tolerance, old_name=str(old), new_name=str(new))
    if as_json:
        emit_json(emitted(result))
    else:
        print_diff_result(result, terminal(), every_row)


register_torch_commands(app)
register_serve_command(app)

if __name__ == "__main__":
    app()
