"""Rich tables for the typed results (display only: every number comes from a result)."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from estimators.calibration.backtest import BacktestResult
from estimators.catalog.prices import PriceQuote
from estimators.documents.simulation import SimulationResult
from estimators.planning.fleet import FleetAnswer
from estimators.planning.results import Plan
from estimators.results import Range
from estimators.search.alternatives import RankedLayout
from estimators.specs.layout import Layout
from estimators.units import GIB


def _fmt_int(n: float) -> str:
    return f"{int(n):,}"


def _fmt_flops(x: float) -> str:
    return f"{x:.4e}"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", show_header=bool(columns))
    for col in columns or ("", ""):
        table.add_column(col, justify="right" if col not in ("", "part", "layout", "item") else "left")
    return table


def model_table(result: Plan) -> Table:
    t = _table("Model and workload", "item", "value")
    p, tok, lat, clip = result.params, result.tokens_per_sample, result.latent_shape, result.last.clip
    t.add_row("model", f"{result.model.name} ({'exact' if result.model.exact else 'approximate'} counts)")
    for key in ("dit", "text_encoder", "vae_encoder", "vae_decoder"):
        t.add_row(f"params {key}", _fmt_int(getattr(p, key)))
    for key, cmp in result.params_vs_published.items():
        share = f", {cmp.relative:+.2%}" if cmp.relative is not None else ""
        t.add_row(f"published {key}", f"{_fmt_int(cmp.published)} (our count differs by {cmp.difference:+,}{share})")
    if result.model.notes:
        t.add_row("notes", result.model.notes)
    t.add_row("clip", f"{clip.frames} frames {clip.height}x{clip.width} at {clip.fps:g} fps ({clip.seconds:.1f} s)")
    t.add_row("latent", f"{lat.frames} x {lat.height} x {lat.width}")
    t.add_row("tokens / sample", f"{_fmt_int(tok.visual)} visual + {_fmt_int(tok.text)} text")
    return t


def flops_table(result: Plan) -> Table:
    t = _table("FLOPs per sample (2 per multiply-add)", "part", "FLOPs")
    f = result.flops_per_sample
    for key, value in f.dit_forward_breakdown.items():
        t.add_row(f"DiT forward: {key}", _fmt_flops(value))
    for key, value in f.model_dump(exclude={"dit_forward_breakdown"}).items():
        t.add_row(key, _fmt_flops(value))
    return t


def _last_stage(result: Plan) -> str:
    """Title suffix naming the stage top-level figures describe when there are several."""
    return f" (last stage, {result.last.name})" if len(result.stages) > 1 else ""


def memory_verdict(m) -> str:
    """'fits', 'may not fit' (the high end passes the GPU's memory) or 'DOES NOT FIT'."""
    return "DOES NOT FIT" if not m.fits else ("may not fit" if m.may_not_fit else "fits")


def memory_table(result: Plan) -> Table:
    return memory_breakdown_table(result.memory_per_gpu_bytes, _last_stage(result))


def memory_breakdown_table(m, suffix: str = "") -> Table:
    """Every part of a memory breakdown, its range and verdict in the title."""
    title = (f"Memory per GPU{suffix}: {m.total / GIB:.1f} GiB ({m.total_low / GIB:.1f} - {m.total_high / GIB:.1f}) of "
             f"{m.capacity / GIB:.0f} GiB ({memory_verdict(m)}; saved activations as {m.saved_activations} keeps them"
             f"{f'; pipeline stage {m.stage}, the fullest' if m.stage else ''})")
    t = _table(title, "part", "GiB")
    for key, value in m.model_dump(exclude={"capacity", "fits", "may_not_fit", "saved_activations", "stage", "host_bytes"}).items():
        t.add_row(key, f"{value / GIB:.2f}")
    if m.host_bytes:
        t.add_row("(optimizer states in host memory)", f"{m.host_bytes / GIB:.2f}")
    return t


def _range(r: Range, fmt: str) -> str:
    """' (low - high)'."""
    return f" ({fmt.format(r.low)} - {fmt.format(r.high)})"


def time_table(result: Plan) -> Table:
    t = _table(f"Layout and time{_last_stage(result)}; days, hours and cost: all stages", "item", "value")
    ranges = result.uncertainty
    t.add_row("layout", ", ".join(f"{k}={v}" for k, v in result.layout.model_dump().items()))
    t.add_row("time model", f"kernel {result.time_model.kernel}, stack {result.time_model.stack}")
    t.add_row("step time", f"{result.step_time_s:.3f} s" + _range(ranges.step_time_s, "{:.3f} s"))
    t.add_row("dominant part", f"{result.dominant.part} {result.dominant.share:.0%}")
    for key, value in result.step_breakdown_s.model_dump().items():
        t.add_row(f"  {key}", f"{value:.3f} s")
    t.add_row("MFU (trained DiT only, vs BF16 peak) / HFU", f"{result.mfu:.1%} / {result.hfu:.1%}")
    if result.cluster.precision == "fp8":
        t.add_row("share of step FP8 touches", f"{result.time_model.fp8_share_of_step:.0%}")
    t.add_row("model TFLOP/s per GPU", f"{result.tflops_per_gpu:.0f}")
    t.add_row("frozen encoders online, TFLOP/s per GPU", f"{result.frozen_encoder_tflops_per_gpu:.0f} (not in MFU)")
    t.add_row("samples / s", f"{result.samples_per_s:.2f}")
    t.add_row("training days", f"{result.train_time_days:.2f}" + _range(ranges.train_time_days, "{:.2f}"))
    t.add_row("preprocessing days", f"{result.preprocessing_days:.2f}")
    t.add_row("GPU-hours", _fmt_int(result.gpu_hours) + _range(ranges.gpu_hours, "{:,.0f}"))
    t.add_row("cost", f"${result.cost_usd:,.0f} (${ranges.cost_usd.low:,.0f} - ${ranges.cost_usd.high:,.0f})")
    t.add_row("price", price_text(result.price))
    t.add_row("energy", f"{result.energy_kwh:,.0f} kWh" + _range(ranges.energy_kwh, "{:,.0f} kWh"))
    return t


def collectives_table(result: Plan) -> Table:
    title = (f"Collectives per GPU{_last_stage(result)}: calls, GB and seconds counted per micro-batch or per step "
             f"as the 'per' column says ({result.last.micro_batches:g} micro-batches a step)")
    t = _table(title, "item", "per", "calls", "ranks", "tier", "GB sent", "seconds", "treatment")
    for c in result.collectives:
        t.add_row(c.name, c.per, f"{c.calls:.0f}", str(c.ranks), c.tier, f"{c.bytes_per_gpu / 1e9:.3f}", f"{c.seconds:.3f}", c.overlap)
    return t


def stages_table(result: Plan) -> Table:
    t = _table("Stages and totals (days include one-off preprocessing)", "stage", "clip", "steps", "layout", "step s", "MFU", "GiB",
               "days", "GPU-hours", "cost")
    for s in result.stages:
        c, m = s.clip, s.memory_per_gpu_bytes
        t.add_row(s.name, f"{c.height}x{c.width}x{c.frames}", _fmt_int(s.steps), layout_text(s.layout),
                  f"{s.step_time_s:.2f}", f"{s.mfu:.1%}", f"{m.total / GIB:.1f}" + ("" if m.fits else " NO FIT"),
                  f"{s.train_time_days + s.preprocessing_days:.2f}", _fmt_int(s.gpu_hours), f"${s.cost_usd:,.0f}")
    t.add_row("total", "", _fmt_int(sum(s.steps for s in result.stages)), "", "", "", "",
              f"{result.train_time_days + result.preprocessing_days:.2f}", _fmt_int(result.gpu_hours), f"${result.cost_usd:,.0f}")
    return t


def layout_text(lay: Layout) -> str:
    """'tp2 cp4 pp1 dp64 z2 mb1 none' from a layout."""
    vpp = f" v{lay.vpp}" if lay.vpp > 1 else ""
    partial = f"x{lay.recompute_layers}" if lay.recompute_layers is not None and lay.recompute != "none" else ""
    return f"tp{lay.tp} cp{lay.cp} pp{lay.pp}{vpp} dp{lay.dp} z{lay.zero} mb{lay.micro_batch} {lay.recompute}{partial}{' offload' if lay.offload else ''}"


def price_text(price: PriceQuote) -> str:
    """The price a cost used, its range and its basis."""
    return f"${price.usd_per_gpu_hour:.2f}/GPU-hour (range ${price.low:.2f}-{price.high:.2f}); basis: {price.basis}"


def ranked_figures(row: RankedLayout) -> tuple[str, str]:
    """Step seconds and GiB of a ranked layout, '-' where the family has none."""
    if row.step_time_s is None:
        return "-", "-"
    return f"{row.step_time_s:.2f}", f"{row.memory_bytes / GIB:.1f}"


def alternatives_table(rows: tuple[RankedLayout, ...]) -> Table:
    t = _table("Best layouts and why others lose", "layout", "step s", "GiB", "bottleneck / verdict")
    for row in rows:
        t.add_row(row.label, *ranked_figures(row), row.verdict)
    return t


def print_plan(result: Plan, console: Console) -> None:
    """The readable summary."""
    console.print(model_table(result))
    console.print(flops_table(result))
    console.print(memory_table(result))
    console.print(time_table(result))
    if result.collectives:
        console.print(collectives_table(result))
    if len(result.stages) > 1:
        console.print(stages_table(result))
    if result.search is not None and result.search.ranking:
        table = alternatives_table(result.search.ranking)
        table.title += _last_stage(result)
        console.print(table)
    console.print("[bold]Assumptions[/bold]")
    for line in result.assumptions:
        console.print(f"  - {line}")
    console.print(f"ranges: {result.uncertainty.step_time_s.basis}")
    for line in result.warnings:
        console.print(f"[bold red]warning:[/bold red] {line}")


def fleet_table(result: FleetAnswer) -> Table:
    t = _table("Runners-up of each kind and why they lose", "gpu", "GPUs", "layout", "days", "cost", "why not")
    for c in result.candidates:
        t.add_row(c.gpu, _fmt_int(c.num_gpus), c.layout, f"{c.elapsed_days:.2f}", f"${c.cost_usd:,.0f} at ${c.usd_per_gpu_hour:.2f}/h", c.why_not)
    return t


def print_fleet(result: FleetAnswer, console: Console) -> None:
    """The answer to a deadline/budget query, its runners-up, then the chosen plan in full."""
    console.print(f"[bold]{result.answer}[/bold]")
    console.print(fleet_table(result))
    q = result.query
    console.print(f"Days = training + one-off preprocessing on the same cluster. {q.plans_evaluated} plans evaluated; "
                  f"sizes are whole nodes up to {q.max_gpus} GPUs: "
                  + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in q.sizes_searched.items()))
    if result.plan is not None:
        console.rule("The chosen plan")
        print_plan(result.plan, console)


def print_backtest(result: BacktestResult, console: Console) -> None:
    """Measured vs predicted per row, MAPE and the constant-MFU baseline; the memory back-test when rows measure memory."""
    if result.rows:
        _print_step_backtest(result, console)
    if result.memory is not None:
        console.print(memory_backtest_table(result.memory))
        m = result.memory
        console.print(f"memory: {m.within_share:.0%} of {len(m.rows)} rows within {m.band[0]:g}-{m.band[1]:g}x of the measured peak "
                      f"(median {m.median_ratio:.2f}x, worst {m.worst_ratio:.2f}x); nothing was fitted to these rows")


def memory_backtest_table(memory) -> Table:
    """Each row's planned against measured peak memory."""
    t = _table("Memory back-test: planned vs measured peak a GPU", "run", "measures", "measured GiB", "planned GiB (range)", "ratio",
               "stack / saves as", "searched: chosen")
    for row in memory.rows:
        chosen = ", ".join(f"{k}={v}" for k, v in row.chosen.items()) or "-"
        t.add_row(row.id, row.measures, f"{row.measured_gib:.1f}", f"{row.predicted_gib:.1f} ({row.predicted_low_gib:.1f}-{row.predicted_high_gib:.1f})",
                  f"{row.ratio:.2f}x" + ("" if row.within else " *"), f"{row.stack} / {row.saved_activations}", chosen)
    return t


def _print_step_backtest(result: BacktestResult, console: Console) -> None:
    cv = result.cv
    columns = ("run", "measured s", "predicted s", "error") + (("held-out error",) if cv else ()) + ("kernel / stack", "searched: chosen")
    t = _table("Back-test: predicted vs measured step time", *columns)
    for row in result.rows:
        chosen = ", ".join(f"{k}={v}" for k, v in row.chosen.items()) or "-"
        held = (f"{cv.errors[row.id]:+.1%}" if row.id in cv.errors else "-",) if cv else ()
        t.add_row(row.id, f"{row.measured_step_s:.3f}", f"{row.predicted_step_s:.3f}", f"{row.error:+.1%}", *held,
                  f"{row.kernel} / {row.stack}", chosen)
    console.print(t)
    base = result.baseline
    console.print(f"in-sample MAPE {result.mape:.2%} (worst row {result.max_abs_error:.1%}; the fitted figures saw these rows)")
    if cv:
        console.print(f"leave-one-source-out CV MAPE {cv.mape:.2%} (each source's rows predicted by a fit without them)")
    console.print(f"naive baseline, one MFU ({base.constant_mfu:.1%}) fitted to the same rows: MAPE {base.mape:.2%} "
                  f"({base.mape / result.mape:.1f}x our error)")


def print_simulation(result: SimulationResult, console: Console) -> None:
    """Step, run and data-pipeline figures of a simulation."""
    step, days = result.step, result.wall_clock_days
    t = _table("Simulated step and run", "item", "value")
    t.add_row("schedule", step.schedule)
    t.add_row("step time (simulated / analytic)", f"{step.step_time_s:.3f} s / {step.analytic_step_time_s:.3f} s")
    t.add_row("bubble / exposed communication", f"{step.bubble_fraction:.1%} / {step.exposed_comm_fraction:.1%}")
    t.add_row("failure-free training", f"{result.failure_free_days:.2f} days")
    t.add_row("wall clock P10 / P50 / P90", f"{days.p10:.2f} / {days.p50:.2f} / {days.p90:.2f} days")
    t.add_row("goodput (median)", f"{result.goodput:.1%}")
    t.add_row("job MTBF", f"{result.failures.job_mtbf_hours:.1f} h")
    ck = result.checkpoint
    t.add_row("checkpoint", f"{ck.bytes / 1e9:.0f} GB, write {ck.write_s:.1f} s, stall {ck.stall_s:.1f} s ({'async' if ck.asynchronous else 'sync'})")
    t.add_row("checkpoint interval (used / Young-Daly)", f"{result.checkpoint_interval_s / 60:.1f} / {result.young_daly_interval_s / 60:.1f} min")
    console.print(t)
    s = _table("Storage and data pipeline", "item", "value")
    for key, value in result.storage_bytes.model_dump().items():
        s.add_row(f"storage: {key}", f"{value / 1e12:.2f} TB")
    d = result.data_pipeline
    s.add_row("read demand", f"{d.read_bytes_per_s / 1e9:.2f} GB/s ({d.read_bytes_per_s_per_gpu / 1e6:.1f} MB/s per GPU)")
    s.add_row("storage read bandwidth", f"{d.storage_read_bytes_per_s / 1e9:.1f} GB/s: " + ("DATA-BOUND" if d.data_bound else "keeps up"))
    s.add_row("one-off preprocessing", f"{result.preprocessing_gpu_hours:,.0f} GPU-hours")
    console.print(s)


def print_diff(rows: list[dict], console: Console, title: str) -> None:
    """Moved figures: key, old, new and relative change."""
    t = _table(title, "item", "old", "new", "change")
    for row in rows:
        change = row["change"]
        shown = f"{change:+.3%}" if isinstance(change, float) else change
        t.add_row(row["key"], str(row["old"]), str(row["new"]), shown)
    console.print(t)


def print_profile(result: dict, console: Console, out) -> None:
    """Held-out errors of the estimators against the reference model, and bytes per collective."""
    console.print(f"held-out configs: {result['held_out_configs']}")
    console.print(f"step time: median absolute error {result['step_time_median_abs_error']:.1%} (calibration half {result['calibration_step_time_median_abs_error']:.1%})")
    console.print(f"activation memory: median absolute error {result['activation_memory_median_abs_error']:.2%}")
    t = _table("Bytes per collective a step (gloo)", "item", "measured", "predicted", "equal")
    for row in result["collectives"]:
        t.add_row(row["name"], f"{row['measured_bytes']:,}", f"{row['predicted_bytes']:,.0f}", "yes" if row["measured_bytes"] == row["predicted_bytes"] else "NO")
    console.print(t)
    console.print(f"tables, device files and plot in {out}: {', '.join(result['files'])}")
