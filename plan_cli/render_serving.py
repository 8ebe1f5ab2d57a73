"""Rich tables for a serving plan (display only: every number comes from the ServePlan)."""
from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from estimators.calibration.serving_backtest import ServingBacktestResult
from estimators.serving.results import FleetOption, KindReplicas, ServePlan
from estimators.units import GIB
from plan_cli.render import NARROW_COLUMNS, PlainTable

WORD_COLUMNS = ("", "split", "why not", "placement", "item", "value", "scope", "why not predicted", "gpu", "name", "per", "treatment")


def narrow_table(title: str, columns: list[str], rows: list[list[str]], console: Console, dropped: tuple[str, ...]) -> Table:
    """A table that leaves out the ``dropped`` columns below NARROW_COLUMNS (--json has every figure)."""
    keep = [i for i, c in enumerate(columns) if console.width >= NARROW_COLUMNS or c not in dropped]
    t = _table(title, *(columns[i] for i in keep))
    for row in rows:
        t.add_row(*(row[i] for i in keep))
    return t


def _table(title: str, *columns: str) -> Table:
    """A titled table as the training tables draw it: figures (and row ids) never wrapped, words wrapped."""
    drawn = PlainTable(title=Text(title), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, min_width=len(title))
    for col in columns:
        words = col in WORD_COLUMNS
        drawn.add_column(col, justify="left" if words or col == "row" else "right", overflow="fold", no_wrap=not words)
    return drawn


def clip_table(plan: ServePlan) -> Table:
    c, s = plan.clip, plan.sampler
    t = _table(f"Serving {plan.model}", "item", "value")
    t.add_row("clip", f"{c.frames} frames {c.height}x{c.width} at {c.fps:g} fps ({c.seconds:.1f} s), {c.text_tokens} text tokens")
    t.add_row("latent / tokens", f"{c.latent_frames} x {c.latent_height} x {c.latent_width}; {c.visual_tokens:,} visual tokens")
    t.add_row("sampler", f"{s.steps} steps, guidance {s.guidance} ({s.guidance_branches} DiT evaluation{'s' if s.guidance_branches > 1 else ''} a step)")
    t.add_row("VAE decode", f"{s.vae_precision}, {s.vae_tiles} tile{'s' if s.vae_tiles > 1 else ''}")
    t.add_row("FLOPs", f"{plan.dit_forward_flops:.4e} a DiT forward; {plan.flops_per_clip:.4e} a clip (all forwards, text, VAE)")
    return t


def replicas_table(kind: KindReplicas, console: Console) -> Table:
    title = f"{kind.gpu}: one request on replicas of 1-{max((o.gpus for o in kind.by_size), default=0)} GPUs (kernel {kind.kernel})"
    columns = ["GPUs", "split", "placement", "latency s", "range s", "denoise", "VAE", "text+mp4", "GiB/GPU", "speed-up"]
    rows = []
    for o in kind.by_size:
        lat = o.latency
        speed = f"{o.speedup_vs_one_gpu:.2f}x ({o.scaling_efficiency:.0%})" if o.speedup_vs_one_gpu else "-"
        rows.append([str(o.gpus), o.split, o.placement, f"{o.service_s:,.1f}", f"{o.service_s_range.low:,.0f}-{o.service_s_range.high:,.0f}",
                     f"{lat.denoising_s:,.1f}", f"{lat.vae_decode_s:,.1f}", f"{lat.text_encoding_s + lat.container_encoding_s:,.2f}",
                     f"{o.memory.total / GIB:.1f}", speed])
    return narrow_table(title, columns, rows, console, ("placement", "denoise", "VAE", "text+mp4"))


def batches_table(kind: KindReplicas) -> Table:
    t = _table(f"{kind.gpu}: requests batched (the replica with the most clips an hour per GPU at each batch)",
               "batch", "GPUs", "split", "latency s", "clips/h per replica", "clips/h per GPU")
    for o in kind.by_batch:
        t.add_row(str(o.batch), str(o.gpus), o.split, f"{o.service_s:,.1f}", f"{o.clips_per_hour:,.2f}", f"{o.clips_per_hour / o.gpus:,.3f}")
    return t


def splits_table(kind: KindReplicas) -> Table:
    largest = kind.by_size[-1]
    t = _table(f"{kind.gpu}: splits of {largest.gpus} GPUs and why they lose", "split", "latency s", "why not")
    for row in largest.splits:
        t.add_row(row.label, "-" if row.service_s is None else f"{row.service_s:,.1f}", row.verdict)
    return t


def collectives_table(kind: KindReplicas, console: Console) -> Table:
    largest = kind.by_size[-1]
    rows = [[c.name, c.per, str(c.ranks), f"{c.calls:.0f}", f"{c.bytes_per_gpu / 1e9:.3f}", f"{c.seconds:.4f}", c.treatment]
            for c in largest.latency.collectives]
    return narrow_table(f"{kind.gpu}: collectives of the {largest.gpus}-GPU replica ({largest.split}) on one GPU",
                         ["name", "per", "ranks", "calls", "GB sent", "seconds", "treatment"], rows, console, ("calls",))


def _fleet_row(o: FleetOption) -> list[str]:
    return [o.gpu, str(o.gpus_per_replica), str(o.batch), o.split, f"{o.replicas} ({o.spare_replicas})", f"{o.p50_s:,.0f}", f"{o.p95_s:,.0f}",
            f"{o.p99_s:,.0f}", f"${o.cost_per_clip_usd:,.3f}", o.why_not]


def fleet_table(plan: ServePlan, console: Console) -> Table:
    columns = ["gpu", "GPUs", "batch", "split", "replicas (spare)", "p50 s", "p95 s", "p99 s", "$/clip", "why not"]
    return narrow_table("Fleets for the demand: each kind and replica size at its best batch", columns,
                         [_fleet_row(o) for o in plan.candidates], console, ("batch", "split", "p50 s", "p99 s"))


def print_serve_plan(plan: ServePlan, console: Console) -> None:
    """The readable summary."""
    console.print(f"[bold]{plan.answer}[/bold]")
    console.print(clip_table(plan))
    for kind in plan.kinds:
        if kind.by_size:
            console.print(replicas_table(kind, console))
            console.print(splits_table(kind))
            if kind.by_size[-1].latency.collectives:
                console.print(collectives_table(kind, console))
            if len(kind.by_batch) > 1:
                console.print(batches_table(kind))
        for line in kind.cannot_serve:
            console.print(f"  cannot serve: {line}")
    if plan.demand is not None:
        console.print(fleet_table(plan, console))
        c, r = plan.choice, plan.ranges
        if c is not None:
            console.print(f"choice: {c.gpus} GPUs, {c.gpu_hours_per_day:,.0f} GPU-hours a day ({c.autoscaled_gpu_hours_per_day:,.0f} if "
                          f"autoscaled hour by hour), ${c.cost_per_day_usd:,.0f} a day, ${c.cost_per_clip_usd:,.3f} a clip "
                          f"(${r.cost_per_clip_usd.low:,.3f}-{r.cost_per_clip_usd.high:,.3f}), ${c.cost_per_video_second_usd:,.4f} a second "
                          f"of video, {c.energy_per_clip_kwh:.3f} kWh a clip busy ({c.provisioned_energy_per_clip_kwh:.3f} provisioned), "
                          f"utilisation {c.utilization:.0%}; replicas {r.replicas[0]}-{r.replicas[1]} across the service-time range")
        if plan.simulation is not None:
            s = plan.simulation
            console.print(f"queue simulated ({s.requests:,} requests): p95 {s.simulated_p95_s:,.1f} s against the formula's "
                          f"{s.formula_p95_s:,.1f} s ({s.p95_difference:+.1%})")
    console.print("[bold]Assumptions[/bold]")
    for line in plan.assumptions:
        console.print(f"  - {line}")
    for line in plan.warnings:
        console.print(f"[bold red]warning:[/bold red] {line}")


def print_serving_backtest(result: ServingBacktestResult, console: Console) -> None:
    """Published latency against the prediction, row by row; rows left out say why."""
    columns = ["row", "GPUs", "split", "scope", "published s", "predicted s", "error", "why not predicted"]
    rows = [[r.id, f"{r.gpus} x {r.gpu}", r.split, r.scope, f"{r.measured_s:,.1f}", "-" if r.predicted_s is None else f"{r.predicted_s:,.1f}",
             "-" if r.error is None else f"{r.error:+.1%}", r.left_out] for r in result.rows]
    t = narrow_table("Serving back-test: published inference latency vs plan serve", columns, rows, console,
                      ("split", "scope", "why not predicted"))
    console.print(t)
    fmt = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    console.print(f"{result.predicted_rows} rows predicted: MAPE {fmt(result.mape)} (end to end {fmt(result.mape_end_to_end)}, "
                  f"DiT only {fmt(result.mape_dit_only)}); worst {result.worst_row}. Nothing was fitted to these rows.")
    if console.width < NARROW_COLUMNS:
        for why in sorted({r.left_out for r in result.rows if r.left_out}):
            console.print(f"left out: {', '.join(r.id for r in result.rows if r.left_out == why)}: {why}")
    transferred = sorted({f"{r.gpu}: {r.kernel_transfer}" for r in result.rows if r.kernel_transfer})
    if transferred:
        console.print(f"End to end on GPUs with their own kernel tables: MAPE {fmt(result.mape_own_kernel_tables)}; on GPUs whose "
                      f"tables are transferred ({'; '.join(transferred)}): {fmt(result.mape_transferred_kernel_tables)}.")
