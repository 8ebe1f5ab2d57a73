"""Rich tables for the typed results (display only: every number comes from a result)."""
from __future__ import annotations

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from estimators.calibration.backtest import BacktestResult
from estimators.documents.reference import ProfileResult
from estimators.documents.simulation import SimulationResult
from estimators.planning.fleet import FleetAnswer
from estimators.planning.results import Plan
from estimators.results import Range
from estimators.search.alternatives import RankedLayout
from estimators.units import GIB

NARROW_COLUMNS = 100  # below this width tables drop their least-read columns (--json has every figure)
TEXT_COLUMNS = ("", "part", "layout", "item", "value", "stage", "gpu", "why not", "treatment", "bottleneck / verdict", "run", "chosen",
                "kernel / stack")
CHOSEN_SHORT = {"micro_batch": "mb", "recompute": "rc", "cp_kind": "cp"}  # searched fields, as the back-test table writes them
MIN_SHOWN_S = 5e-4  # step parts under half a millisecond print as 0.000 s: left out


def terminal() -> Console:
    """A console as wide as the terminal (80 columns when the output is not a terminal, or $COLUMNS)."""
    return Console()


def _fmt_int(n: float) -> str:
    return f"{int(n):,}"


def _fmt_flops(x: float) -> str:
    return f"{x:.4e}"


class PlainTable(Table):
    """A table whose cells are data, never rich markup: a key like 'stages[main].mfu' or a stage named '[a]' prints
    as it is."""

    def add_row(self, *cells, **kwargs) -> None:
        super().add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells), **kwargs)


def table(title: str, *columns: str) -> Table:
    """A titled table: figures right-aligned and never wrapped, words left-aligned and wrapped in what is left."""
    # as wide as its title (up to the terminal), so the title is not wrapped to a narrow table
    drawn = PlainTable(title=Text(title), title_justify="left", show_header=bool(columns), box=box.SIMPLE_HEAD, pad_edge=False,
                       min_width=len(title))
    for col in columns or ("", ""):
        words = col in TEXT_COLUMNS
        drawn.add_column(col, justify="left" if words else "right", overflow="fold", no_wrap=not words)
    return drawn


def _pairs(title: str) -> Table:
    """An item/value table: values left-aligned and wrapped in their column."""
    return table(title, "item", "value")


def model_table(result: Plan) -> Table:
    t = _pairs("Model and workload")
    p, tok, lat, clip = result.params, result.tokens_per_sample, result.latent_shape, result.last.clip
    t.add_row("model", f"{result.model.name} ({'exact' if result.model.exact else 'approximate'} counts)")
    for key in ("dit", "text_encoder", "vae_encoder", "vae_decoder"):
        t.add_row(f"params {key}", _fmt_int(getattr(p, key)))
    equal = [key for key, cmp in result.params_vs_published.items() if cmp.difference == 0]
    if equal:
        t.add_row("published counts", f"equal ours: {', '.join(equal)}")
    for key, cmp in result.params_vs_published.items():
        if cmp.difference != 0:
            share = f", {cmp.relative:+.2%}" if cmp.relative is not None else ""
            t.add_row(f"published {key}", f"{_fmt_int(cmp.published)} (ours differs by {cmp.difference:+,}{share})")
    if result.model.notes:
        t.add_row("notes", result.model.notes)
    t.add_row("clip", f"{clip.frames} frames {clip.height}x{clip.width} at {clip.fps:g} fps ({clip.seconds:.1f} s)")
    t.add_row("latent", f"{lat.frames} x {lat.height} x {lat.width}")
    context = f" + {_fmt_int(tok.context)} context" if tok.context else ""
    t.add_row("tokens / sample", f"{_fmt_int(tok.visual)} visual + {_fmt_int(tok.text)} text{context}")
    for line in experts_lines(result):
        t.add_row("experts", line)
    return t


def experts_lines(result: Plan) -> list[str]:
    """How a model split into experts is trained (nothing for a model without experts)."""
    split = result.experts
    if split is None:
        return []
    how = "one run per expert, one expert in memory" if split.residency == "one" else f"one run holding all {split.count} experts"
    lines = [f"{split.count} x {_fmt_int(split.params_each)} parameters; {how} (--experts-resident)"]
    for e in split.experts:
        low, high = e.noise_levels
        lines.append(f"{e.name}: noise {low:g}-{high:g}, {e.share:.1%} of samples, {e.steps:,.0f} steps, {e.train_time_days:.2f} days")
    return lines


def flops_rows(result: Plan) -> list[tuple[str, int]]:
    """The FLOP figures worth a row: no zero parts, and a train-step total only where it adds to the one above."""
    f = result.flops_per_sample
    rows = [(f"DiT forward: {key}", value) for key, value in f.dit_forward_breakdown.items() if value]
    rows += [(key, getattr(f, key)) for key in ("dit_forward", "text_encoder_forward", "vae_encoder_forward", "vae_decoder_forward",
                                                 "frozen_online_forward") if getattr(f, key)]
    rows.append(("train_step_model (DiT fwd + bwd)", f.train_step_model))
    if f.train_step_total != f.train_step_model:
        rows.append(("train_step_total (+ frozen encoders online)", f.train_step_total))
    if f.train_step_hardware != f.train_step_total:
        rows.append(("train_step_hardware (+ recomputed forward)", f.train_step_hardware))
    return rows


def flops_table(result: Plan) -> Table:
    t = table("FLOPs per sample (2 per multiply-add)", "part", "FLOPs")
    for name, value in flops_rows(result):
        t.add_row(name, _fmt_flops(value))
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
    t = table(title, "part", "GiB")
    for key, value in m.parts().items():
        if value:
            t.add_row(key, f"{value / GIB:.2f}")
    t.add_row("total", f"{m.total / GIB:.2f}")
    if m.host_bytes:
        t.add_row("(optimizer states in host memory)", f"{m.host_bytes / GIB:.2f}")
    return t


def _range(r: Range, fmt: str) -> str:
    """' (low - high)'."""
    return f" ({fmt.format(r.low)} - {fmt.format(r.high)})"


def time_table(result: Plan) -> Table:
    t = _pairs(f"Layout and time{_last_stage(result)}; days, hours and cost: all stages")
    ranges = result.uncertainty
    t.add_row("layout", result.layout.label)
    t.add_row("time model", f"kernel {result.time_model.kernel}, stack {result.time_model.stack}")
    t.add_row("step time", f"{result.step_time_s:,.3f} s" + _range(ranges.step_time_s, "{:,.3f} s"))
    t.add_row("dominant part", f"{result.dominant.part} {result.dominant.share:.0%}")
    for key, value in result.step_breakdown_s.model_dump().items():
        if value >= MIN_SHOWN_S:
            t.add_row(f"  {key}", f"{value:,.3f} s")
    t.add_row("MFU / HFU", f"{result.mfu:.1%} / {result.hfu:.1%} (trained DiT only, vs BF16 peak)")
    if result.cluster.precision == "fp8":
        t.add_row("share of step FP8 touches", f"{result.time_model.fp8_share_of_step:.0%}")
    t.add_row("model TFLOP/s per GPU", f"{result.tflops_per_gpu:.0f}")
    if result.frozen_encoder_tflops_per_gpu:
        t.add_row("frozen encoders online", f"{result.frozen_encoder_tflops_per_gpu:.0f} TFLOP/s per GPU (not in MFU)")
    t.add_row("samples / s", f"{result.samples_per_s:.2f}")
    t.add_row("training days", f"{result.train_time_days:,.2f}" + _range(ranges.train_time_days, "{:,.2f}"))
    t.add_row("preprocessing days", f"{result.preprocessing_days:,.2f}")
    failures = result.failures
    t.add_row("with failures (P90)", f"{failures.p90_days + result.preprocessing_days:,.2f} days, {failures.expected_failures:,.1f} "
                                     f"failures expected (plan simulate draws them)")
    t.add_row("GPU-hours", _fmt_int(result.gpu_hours) + _range(ranges.gpu_hours, "{:,.0f}"))
    t.add_row("cost", f"${result.cost_usd:,.0f} (${ranges.cost_usd.low:,.0f} - ${ranges.cost_usd.high:,.0f})")
    t.add_row("price", f"${result.price.usd_per_gpu_hour:.2f}/GPU-hour (${result.price.low:.2f}-{result.price.high:.2f}; basis "
                       "under Assumptions)")
    t.add_row("energy", f"{result.energy_kwh:,.0f} kWh" + _range(ranges.energy_kwh, "{:,.0f}"))
    return t


def collectives_table(result: Plan, width: int) -> Table:
    title = (f"Collectives per GPU{_last_stage(result)}: calls, GB and seconds per micro-batch (mb) or per step, as marked "
             f"({result.last.micro_batches:g} micro-batches a step)")
    narrow = width < NARROW_COLUMNS
    columns = ("item", "per", "calls") + (() if narrow else ("ranks",)) + ("tier", "GB", "s", "treatment")
    t = table(title, *columns)
    for c in result.collectives:
        ranks = () if narrow else (str(c.ranks),)
        per = "mb" if c.per == "micro-batch" else c.per
        t.add_row(c.name, per, f"{c.calls:.0f}", *ranks, c.tier, f"{c.bytes_per_gpu / 1e9:.3f}", f"{c.seconds:.3f}", c.overlap)
    return t


def stages_table(result: Plan, width: int) -> Table:
    """A row per stage and the totals; GPU-hours (= GPUs x days x 24) only where the terminal is wide."""
    wide = width >= NARROW_COLUMNS
    hours = ("GPU-hours",) if wide else ()
    t = table("Stages and totals (days include one-off preprocessing)", "stage", "clip", "steps", "step s", "MFU", "GiB", "days", *hours, "cost")
    t.columns[0].min_width = max(len(name) for name in [s.name for s in result.stages] + ["total"])
    for s in result.stages:
        c, m = s.clip, s.memory_per_gpu_bytes
        t.add_row(s.name, f"{c.height}x{c.width}x{c.frames}", _fmt_int(s.steps),
                  f"{s.step_time_s:,.2f}", f"{s.mfu:.1%}", f"{m.total / GIB:.1f}" + ("" if m.fits else " NO FIT"),
                  f"{s.train_time_days + s.preprocessing_days:,.2f}", *((_fmt_int(s.gpu_hours),) if wide else ()), f"${s.cost_usd:,.0f}")
    t.add_row("total", "", _fmt_int(sum(s.steps for s in result.stages)), "", "", "",
              f"{result.elapsed_days:,.2f}", *((_fmt_int(result.gpu_hours),) if wide else ()), f"${result.cost_usd:,.0f}")
    return t


def stage_layouts_table(result: Plan) -> Table:
    t = table("Layout of each stage", "stage", "layout")
    for s in result.stages:
        t.add_row(s.name, s.layout.label)
    return t


def ranked_figures(row: RankedLayout) -> tuple[str, str]:
    """Step seconds and GiB of a ranked layout, '-' where the family has none."""
    if row.step_time_s is None:
        return "-", "-"
    return f"{row.step_time_s:,.2f}", f"{row.memory_bytes / GIB:.1f}"


def alternatives_table(rows: tuple[RankedLayout, ...]) -> Table:
    t = table("Best layouts and why others lose", "layout", "step s", "GiB", "bottleneck / verdict")
    for row in rows:
        t.add_row(row.label, *ranked_figures(row), row.verdict)
    return t


def _bullets(console: Console, title: str, lines: list[str]) -> None:
    """A heading and items, each wrapped under its own text."""
    console.print(title, style="bold")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1)
    grid.add_column(overflow="fold")
    for line in lines:
        grid.add_row("-", Text(line))
    console.print(Padding(grid, (0, 0, 0, 1)))


def print_plan(result: Plan, console: Console) -> None:
    """The one-line answer, then the tables."""
    console.print(Text(result.answer, style="bold"))
    console.print()
    for line in result.warnings:
        console.print(Text.assemble(("warning: ", "bold red"), line))
    console.print(model_table(result))
    console.print(flops_table(result))
    console.print(memory_table(result))
    console.print(time_table(result))
    if result.collectives:
        console.print(collectives_table(result, console.width))
    if len(result.stages) > 1:
        console.print(stages_table(result, console.width))
        console.print(stage_layouts_table(result))
    if result.search is not None and result.search.ranking:
        ranking = alternatives_table(result.search.ranking)
        ranking.title.append(_last_stage(result))
        console.print(ranking)
    _bullets(console, "Assumptions", result.assumptions)
    _bullets(console, "Ranges", [f"time: {result.uncertainty.step_time_s.basis}", f"cost: {result.uncertainty.cost_usd.basis}",
                                 f"failures: {result.failures.basis}"])


def fleet_table(result: FleetAnswer) -> Table:
    t = table("Runners-up of each kind and why they lose (days: training + preprocessing, with their range)",
               "gpu", "GPUs", "days", "cost", "why not")
    for c in result.candidates:
        why = c.why_not + (f"; {c.risk}" if c.risk else "")
        t.add_row(c.gpu, _fmt_int(c.num_gpus), f"{c.elapsed_days:,.2f} ({c.elapsed_days_low:,.2f}-{c.elapsed_days_high:,.2f})",
                  f"${c.cost_usd:,.0f}", why)
    return t


def print_fleet(result: FleetAnswer, console: Console) -> None:
    """The answer to a deadline/budget query, its runners-up, then the chosen plan in full."""
    console.print(Text(result.answer, style="bold"))
    for line in result.explanation:
        console.print(Text(line))
    console.print()
    console.print(fleet_table(result))
    q = result.query
    console.print(f"Days = training + one-off preprocessing on the same cluster; the range runs from the time model's low end to "
                  f"its high end with failures and restarts (P90). Costs at each kind's price. {q.plans_evaluated} plans "
                  f"evaluated; sizes are whole nodes up to {q.max_gpus} GPUs: "
                  + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in q.sizes_searched.items()))
    if result.plan is not None:
        console.rule("The chosen plan")
        print_plan(result.plan, console)


def _mape_lines(result: BacktestResult) -> list[str]:
    """MAPE by what the fit saw: in-sample only of rows it was fitted to; rows that do not fit in memory apart."""
    rows, lines = result.rows, []
    scored = [r for r in rows if r.fits] or rows
    seen = [r for r in scored if r.in_sample]
    if result.mape_in_sample is not None:
        lines.append(f"in-sample MAPE {result.mape_in_sample:.2%} over {len(seen)} rows (the fitted figures saw these rows)")
    if result.mape_out_of_sample is not None:
        lines.append(f"out-of-sample MAPE {result.mape_out_of_sample:.2%} over {len(scored) - len(seen)} rows the fit did not see")
    if seen and len(seen) < len(scored):
        lines.append(f"all {len(scored)} rows together: MAPE {result.mape:.2%}")
    lines.append(f"worst row {result.max_abs_error:.1%}")
    if result.rows_not_fitting:
        lines.append(f"scored apart: {len(result.rows_not_fitting)} rows whose layout does not fit in memory in the model "
                     f"({', '.join(result.rows_not_fitting)}): MAPE {result.mape_not_fitting:.2%}")
    return lines


def print_backtest(result: BacktestResult, console: Console) -> None:
    """Measured vs predicted per row, MAPE by what the fit saw and the constant-MFU baseline; the memory back-test when
    rows measure memory."""
    if result.rows:
        _print_step_backtest(result, console)
    if result.memory is not None:
        console.print(memory_backtest_table(result.memory))
        m = result.memory
        console.print(f"memory: {m.within_share:.0%} of {len(m.rows)} rows within {m.band[0]:g}-{m.band[1]:g}x of the measured peak "
                      f"(median {m.median_ratio:.2f}x, worst {m.worst_ratio:.2f}x); nothing was fitted to these rows")


def memory_backtest_table(memory) -> Table:
    """Each row's planned against measured peak memory."""
    t = table("Memory back-test: planned vs measured peak a GPU", "run", "measures", "measured GiB", "planned GiB (range)", "ratio",
              "stack / saves as", "searched: chosen")
    for row in memory.rows:
        chosen = " ".join(f"{CHOSEN_SHORT.get(k, k)}={v}" for k, v in row.chosen.items()) or "-"
        t.add_row(row.id, row.measures, f"{row.measured_gib:.1f}", f"{row.predicted_gib:.1f} ({row.predicted_low_gib:.1f}-{row.predicted_high_gib:.1f})",
                  f"{row.ratio:.2f}x" + ("" if row.within else " *"), f"{row.stack} / {row.saved_activations}", chosen)
    return t


def _print_step_backtest(result: BacktestResult, console: Console) -> None:
    cv = result.cv
    wide = console.width >= NARROW_COLUMNS
    columns = ("run", "measured s", "predicted s", "error") + (("held-out",) if cv else ()) + (("kernel / stack",) if wide else ())
    t = table("Back-test: predicted vs measured step time", *columns, "chosen")
    for row in result.rows:
        chosen = " ".join(f"{CHOSEN_SHORT.get(k, k)}={v}" for k, v in row.chosen.items()) or "-"
        held = (f"{cv.errors[row.id]:+.1%}" if row.id in cv.errors else "-",) if cv else ()
        flag = "" if row.fits else " NO FIT"
        kernel = (f"{row.kernel} / {row.stack}",) if wide else ()
        t.add_row(row.id + flag, f"{row.measured_step_s:.3f}", f"{row.predicted_step_s:.3f}", f"{row.error:+.1%}", *held, *kernel, chosen)
    console.print(t)
    if not wide:
        console.print("(chosen: the values searched for the fields a row leaves blank; kernel and stack per row: --json)")
    for line in _mape_lines(result):
        console.print(Text(line))
    if cv:
        console.print(f"leave-one-source-out CV MAPE {cv.mape:.2%} (each source's rows predicted by a fit without them)")
    base = result.baseline
    console.print(f"naive baseline, one MFU ({base.constant_mfu:.1%}) fitted to the same rows: MAPE {base.mape:.2%} "
                  f"({base.mape / result.mape:.1f}x our error)")


def print_simulation(result: SimulationResult, console: Console) -> None:
    """Step, run and data-pipeline figures of a simulation."""
    step, days = result.step, result.wall_clock_days
    console.print(Text(f"Training takes {days.p50:,.2f} days at P50 with failures and checkpoints (P10-P90 {days.p10:,.2f}-"
                       f"{days.p90:,.2f}; failure-free {result.failure_free_days:,.2f}); goodput {result.goodput:.1%}"
                       + ("; DATA-BOUND: storage slows every step" if result.data_pipeline.data_bound else "") + ".", style="bold"))
    console.print()
    t = _pairs("Simulated step and run")
    t.add_row("schedule", step.schedule)
    t.add_row("step time (simulated / analytic)", f"{step.step_time_s:,.3f} s / {step.analytic_step_time_s:,.3f} s")
    if step.data_wait_s:
        t.add_row("  of which waiting on storage", f"{step.data_wait_s:,.3f} s (the GPUs compute {step.compute_step_time_s:,.3f} s)")
    t.add_row("bubble / exposed communication", f"{step.bubble_fraction:.1%} / {step.exposed_comm_fraction:.1%}")
    t.add_row("failure-free training", f"{result.failure_free_days:,.2f} days")
    t.add_row("wall clock P10 / P50 / P90", f"{days.p10:,.2f} / {days.p50:,.2f} / {days.p90:,.2f} days")
    t.add_row("goodput (median)", f"{result.goodput:.1%}")
    t.add_row("job MTBF", f"{result.failures.job_mtbf_hours:,.1f} h")
    ck = result.checkpoint
    t.add_row("checkpoint", f"{ck.bytes / 1e9:,.0f} GB, write {ck.write_s:,.1f} s, stall {ck.stall_s:,.1f} s "
                            f"({'async' if ck.asynchronous else 'sync'})")
    t.add_row("checkpoint interval (used / Young-Daly)", f"{result.checkpoint_interval_s / 60:,.1f} / {result.young_daly_interval_s / 60:,.1f} min")
    console.print(t)
    s = _pairs("Storage and data pipeline")
    for key, value in result.storage_bytes.model_dump().items():
        s.add_row(f"storage: {key}", f"{value / 1e12:,.2f} TB")
    d = result.data_pipeline
    s.add_row("read demand", f"{d.read_bytes_per_s / 1e9:,.2f} GB/s ({d.read_bytes_per_s_per_gpu / 1e6:,.1f} MB/s per GPU)")
    s.add_row("storage read bandwidth", f"{d.storage_read_bytes_per_s / 1e9:,.2f} GB/s: " + (
        f"DATA-BOUND: a step's reads take {d.read_s_per_step:,.2f} s against {d.compute_s_per_step:,.2f} s of compute"
        if d.data_bound else "keeps up"))
    s.add_row("one-off preprocessing", f"{result.preprocessing_gpu_hours:,.0f} GPU-hours")
    console.print(s)


def print_profile(result: ProfileResult, console: Console, out) -> None:
    """Held-out errors of the estimators against the reference model, and bytes per collective."""
    console.print(f"held-out configs: {result.held_out_configs}")
    console.print(f"step time: median absolute error {result.step_time_median_abs_error:.1%} "
                  f"(calibration half {result.calibration_step_time_median_abs_error:.1%})")
    console.print(f"activation memory: median absolute error {result.activation_memory_median_abs_error:.2%}")
    t = table("Bytes per collective a step (gloo)", "item", "measured", "predicted", "equal")
    for row in result.collectives:
        t.add_row(row.name, f"{row.measured_bytes:,}", f"{row.predicted_bytes:,.0f}", "yes" if row.measured_bytes == row.predicted_bytes else "NO")
    console.print(t)
    console.print(Text(f"tables, device files and plot in {out}: {', '.join(result.files)}"))
