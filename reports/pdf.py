"""The design-review PDF: every number comes from the plan, simulation, sweep and back-test results.

Pages: executive summary; stages, time and cost; model, workload and assumptions; FLOPs and memory;
layouts; scaling; goodput; validation. Text is set at 8 points or more and wrapped to its column, never
clipped; a page that runs out of room continues on the next.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["pdf.fonttype"] = 42  # embed TrueType so the text can be extracted and searched
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from estimators.calibration.backtest import BacktestResult  # noqa: E402
from estimators.documents.outputs import output_file  # noqa: E402
from estimators.documents.review import largest_risks, validation_lines  # noqa: E402
from estimators.documents.simulation import SimulationResult  # noqa: E402
from estimators.planning.results import Plan  # noqa: E402
from estimators.results import Range  # noqa: E402
from estimators.search.alternatives import RankedLayout  # noqa: E402
from estimators.specs.layout import Layout  # noqa: E402
from estimators.units import GIB  # noqa: E402

PAGE = (8.27, 11.69)  # A4 portrait, inches
POINTS_PER_INCH = 72
MARGIN = 0.07  # of the page width and height
MIN_FONT_PT = 8
BODY_PT = 10
SMALL_PT = 9
CHAR_WIDTH_EM = 0.56  # DejaVu Sans: lower case about 0.55 em, digits 0.64; wrap slightly on the safe side
LINE_SPACING = 1.35
RANGE_LABELS = {
    "step_time_s": ("step time (last stage)", "{:.3f} s"), "train_time_days": ("training days", "{:.2f}"),
    "gpu_hours": ("GPU-hours", "{:,.0f}"), "cost_usd": ("cost (all stages)", "${:,.0f}"), "energy_kwh": ("energy", "{:,.0f} kWh"),
}


def _chars(width_fraction: float, size: float) -> int:
    """Characters of ``size`` points that fit across ``width_fraction`` of the page width."""
    return max(8, int(width_fraction * PAGE[0] * POINTS_PER_INCH / (CHAR_WIDTH_EM * size)))


def _line_height(size: float) -> float:
    """One line of ``size`` points as a fraction of the page height."""
    return size * LINE_SPACING / (PAGE[1] * POINTS_PER_INCH)


class Pages:
    """Saves each page to the PDF and, when asked, as a PNG beside it; counts them."""

    def __init__(self, pdf: PdfPages, png_dir: Optional[Path]):
        self.pdf, self.png_dir, self.count = pdf, png_dir, 0

    def save(self, fig) -> None:
        self.count += 1
        self.pdf.savefig(fig)
        if self.png_dir is not None:
            with output_file(self.png_dir / f"report-page-{self.count}.png", "report page") as tmp:
                fig.savefig(tmp, dpi=80, format="png")
        plt.close(fig)


class TextPage:
    """A page of headings, wrapped paragraphs and tables, continued on a new page when full."""

    def __init__(self, pages: Pages, title: str, fig=None, top: float = 1 - MARGIN):
        self.pages, self.title = pages, title
        self.fig = fig or plt.figure(figsize=PAGE)
        self.y = top
        self._text(MARGIN, title, 16, weight="bold")
        self.y -= _line_height(16) + _line_height(BODY_PT) * 0.5

    def _text(self, x: float, text: str, size: float, **kw) -> None:
        assert size >= MIN_FONT_PT
        self.fig.text(x, self.y, text, fontsize=size, va="top", parse_math=False, **kw)  # '$' is a price, not TeX

    def _room(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.pages.save(self.fig)
            self.fig = plt.figure(figsize=PAGE)
            self.y = 1 - MARGIN
            self._text(MARGIN, f"{self.title} (continued)", 14, weight="bold")
            self.y -= _line_height(14) * 1.5

    def heading(self, text: str, size: float = 12) -> None:
        self._room(_line_height(size) * 2.5)
        self.y -= _line_height(size) * 0.4
        self._text(MARGIN, text, size, weight="bold")
        self.y -= _line_height(size) * 1.1

    def paragraph(self, text: str, size: float = BODY_PT, indent: float = 0.0, bullet: str = "") -> None:
        width = 1 - 2 * MARGIN - indent
        lines = textwrap.wrap(text, _chars(width, size) - len(bullet)) or [""]
        for i, line in enumerate(lines):
            self._room(_line_height(size))
            self._text(MARGIN + indent, (bullet if i == 0 else " " * len(bullet)) + line, size)
            self.y -= _line_height(size)

    def table(self, header: list[str], rows: list[list[str]], widths: list[float], size: float = SMALL_PT) -> None:
        """Columns at the given shares of the text width; each cell wrapped to its column."""
        usable = 1 - 2 * MARGIN
        xs = [MARGIN + usable * sum(widths[:i]) for i in range(len(widths))]
        for r, row in enumerate([header] + rows):
            cells = [textwrap.wrap(str(c), _chars(usable * w, size) - 1) or [""] for c, w in zip(row, widths)]
            height = max(len(c) for c in cells) * _line_height(size)
            self._room(height + _line_height(size) * 0.3)
            for x, lines in zip(xs, cells):
                for k, line in enumerate(lines):
                    self.fig.text(x, self.y - k * _line_height(size), line, fontsize=size, va="top", parse_math=False,
                                  weight="bold" if r == 0 else "normal")
            self.y -= height + _line_height(size) * 0.3

    def gap(self, lines: float = 0.6) -> None:
        self.y -= _line_height(BODY_PT) * lines

    def finish(self) -> None:
        self.pages.save(self.fig)


def _range_text(r: Range, fmt: str) -> str:
    return f" (range {fmt.format(r.low)} - {fmt.format(r.high)})"


def headline_lines(result: Plan, sim: Optional[SimulationResult]) -> list[str]:
    """The summary's figures, formatted once (the tests compare these with plan estimate --json)."""
    ranges, n = result.uncertainty, result.cluster.num_gpus
    elapsed = result.train_time_days + result.preprocessing_days
    memory = result.memory_per_gpu_bytes
    lines = [
        f"Cluster: {n} x {result.cluster.gpu}, {result.cluster.precision}",
        f"Days: {result.train_time_days:.2f} training{_range_text(ranges.train_time_days, '{:.2f}')} + "
        f"{result.preprocessing_days:.2f} preprocessing = {elapsed:.2f} days on the cluster",
        f"GPU-hours: {result.gpu_hours:,.0f} = {n} GPUs x {elapsed:.2f} days x 24 h{_range_text(ranges.gpu_hours, '{:,.0f}')}",
        f"Cost: ${result.cost_usd:,.0f}{_range_text(ranges.cost_usd, '${:,.0f}')} at ${result.price.usd_per_gpu_hour:.2f}/GPU-hour",
        f"Energy: {result.energy_kwh:,.0f} kWh{_range_text(ranges.energy_kwh, '{:,.0f}')}",
        f"Step time (last stage): {result.step_time_s:.3f} s{_range_text(ranges.step_time_s, '{:.3f}')}, "
        f"MFU {result.mfu:.1%} (trained DiT only)",
        f"Memory per GPU: {memory.total / GIB:.1f} GiB of {memory.capacity / GIB:.0f} GiB: "
        + ("fits" if memory.fits else "DOES NOT FIT") + f" ({1 - memory.total / memory.capacity:.0%} headroom)",
    ]
    if sim:
        d = sim.wall_clock_days
        lines.append(f"Wall clock with failures: P10 {d.p10:.2f} / P50 {d.p50:.2f} / P90 {d.p90:.2f} days (goodput {sim.goodput:.1%})")
    return lines


def _layout_text(lay: Layout) -> str:
    vpp = f" v{lay.vpp}" if lay.vpp > 1 else ""
    kind = f" {lay.cp_kind}" if lay.cp > 1 else ""
    return f"tp{lay.tp} cp{lay.cp} pp{lay.pp}{vpp} dp{lay.dp} zero{lay.zero} mb{lay.micro_batch} {lay.recompute}{kind}"


def _summary_page(pages: Pages, result: Plan, sim: Optional[SimulationResult]) -> None:
    page = TextPage(pages, f"Training plan: {result.model.name}")
    p = result.params
    page.heading("Model")
    page.paragraph(f"{result.model.name}: DiT {p.dit / 1e9:.2f} B trained parameters; frozen text encoder(s) "
                   f"{p.text_encoder / 1e9:.2f} B, VAE encoder {p.vae_encoder / 1e6:.0f} M "
                   f"({'exact' if result.model.exact else 'approximate'} counts).")
    page.heading("Data")
    for s in result.stages:
        c = s.clip
        page.paragraph(f"{s.name}: {c.frames} frames {c.height}x{c.width} at {c.fps:g} fps, "
                       f"{s.steps:,} steps of {s.global_batch} clips, {s.tokens_per_sample.visual:,} visual tokens", bullet="- ")
    wl = result.workload
    page.paragraph("Text embeddings " + ("precomputed" if wl.precompute_text else "computed online") + "; VAE latents "
                   + ("precomputed" if wl.precompute_latents else "encoded online") + ".")
    page.heading("Cluster and layout")
    for s in result.stages:
        page.paragraph(f"{s.name}: {_layout_text(s.layout)}", bullet="- ")
    page.heading("Figures")
    for line in headline_lines(result, sim):
        page.paragraph(line, bullet="- ")
    page.paragraph(f"Price basis: {result.price.basis}.", size=SMALL_PT)
    page.heading("Three largest risks and caveats")
    for i, text in enumerate(largest_risks(result, sim), 1):
        page.paragraph(text, bullet=f"{i}. ")
    page.finish()


def _stages_page(pages: Pages, result: Plan) -> None:
    page = TextPage(pages, "Stages, time and cost")
    page.paragraph("Each stage is planned on its own (its layout searched for its clip size); totals add the stages. "
                   "Days include the stage's one-off preprocessing on the same cluster.")
    header = ["stage", "clip", "steps", "layout", "step s", "MFU", "GiB", "days", "GPU-hours", "cost"]
    rows = []
    for s in result.stages:
        c, m = s.clip, s.memory_per_gpu_bytes
        rows.append([s.name, f"{c.height}x{c.width}x{c.frames}", f"{s.steps:,}", _layout_text(s.layout),
                     f"{s.step_time_s:.2f}", f"{s.mfu:.1%}", f"{m.total / GIB:.1f}" + ("" if m.fits else " NO FIT"),
                     f"{s.train_time_days + s.preprocessing_days:.2f}", f"{s.gpu_hours:,.0f}", f"${s.cost_usd:,.0f}"])
    rows.append(["total", "", f"{sum(s.steps for s in result.stages):,}", "", "", "", "",
                 f"{result.train_time_days + result.preprocessing_days:.2f}", f"{result.gpu_hours:,.0f}", f"${result.cost_usd:,.0f}"])
    page.table(header, rows, [0.08, 0.14, 0.08, 0.21, 0.07, 0.07, 0.07, 0.06, 0.11, 0.11], size=8.5)
    page.gap()
    page.heading("Ranges")
    for s in result.stages:
        low, high = s.cost_usd_range
        page.paragraph(f"{s.name}: cost ${low:,.0f} - ${high:,.0f} (price range)", bullet="- ")
    for key, (label, fmt) in RANGE_LABELS.items():
        r = getattr(result.uncertainty, key)
        page.paragraph(f"{label}: {fmt.format(r.low)} - {fmt.format(r.high)} ({r.basis})", bullet="- ")
    page.heading("Price")
    price = result.price
    page.paragraph(f"${price.usd_per_gpu_hour:.2f} per GPU-hour for {price.gpu} (range ${price.low:.2f} - "
                   f"${price.high:.2f}); basis: {price.basis}. Source: {price.source} (read {price.date}).", size=SMALL_PT)
    page.finish()


def _workload_page(pages: Pages, result: Plan) -> None:
    page = TextPage(pages, "Model, workload and assumptions")
    p = result.params
    page.paragraph(f"Parameters: DiT {p.dit:,}; text encoder(s) {p.text_encoder:,}; VAE encoder {p.vae_encoder:,}; "
                   f"decoder {p.vae_decoder:,}")
    for s in result.stages:
        c, t = s.clip, s.tokens_per_sample
        page.paragraph(f"{s.name}: {c.frames} frames {c.height}x{c.width} at {c.fps:g} fps; "
                       f"{t.visual:,} visual + {t.text} text tokens; {s.steps:,} steps x {s.global_batch} clips", bullet="- ")
    page.heading("Assumptions")
    for a in result.assumptions:
        page.paragraph(a, size=SMALL_PT, bullet="- ")
    page.finish()


def _last_stage_note(result: Plan) -> str:
    return f" ({result.last.name}, the last stage)" if len(result.stages) > 1 else ""


def _bars_page(pages: Pages, result: Plan) -> None:
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=PAGE)
    stage = _last_stage_note(result)
    flops = result.flops_per_sample.dit_forward_breakdown
    ax1.barh(list(flops), [v / 1e15 for v in flops.values()], color="tab:blue")
    ax1.set_xlabel("PFLOPs per clip (DiT forward)")
    ax1.set_title("Where a clip's FLOPs go" + stage)
    m = result.memory_per_gpu_bytes
    not_parts = ("total", "total_low", "total_high", "capacity", "fits", "may_not_fit", "saved_activations")
    memory = {k: v / GIB for k, v in m.model_dump().items() if k not in not_parts}
    ax2.barh(list(memory), list(memory.values()), color="tab:orange")
    ax2.axvline(m.capacity / GIB, color="red", linestyle="--", label="HBM capacity")
    ax2.set_xlabel("GiB per GPU")
    ax2.set_title(f"Memory per GPU{stage}: {m.total / GIB:.1f} GiB")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.tick_params(labelsize=MIN_FONT_PT + 1)
    fig.tight_layout()
    pages.save(fig)


def _ranked_figures(row: RankedLayout) -> tuple[str, str]:
    if row.step_time_s is None:
        return "-", "-"
    return f"{row.step_time_s:.2f}", f"{row.memory_bytes / GIB:.1f}"


def _layouts_page(pages: Pages, result: Plan) -> None:
    page = TextPage(pages, "Best layouts and why others lose" + _last_stage_note(result))
    if result.search is None:
        page.paragraph("The layout was given (--layout), not searched: no ranking.")
        page.paragraph(f"Layout: {_layout_text(result.layout)}; step {result.step_time_s:.3f} s.")
    else:
        rows = [[r.label, *_ranked_figures(r), r.verdict] for r in result.search.ranking]
        page.table(["layout", "step s", "GiB", "verdict"], rows, [0.50, 0.09, 0.08, 0.33])
    page.gap()
    page.paragraph("Collectives per GPU, last stage: calls, bytes and seconds are counted per micro-batch or per step "
                   f"as marked ({result.last.micro_batches:g} micro-batches a step).", size=SMALL_PT)
    rows = [[c.name, c.per, f"{c.calls:.0f}", c.tier, f"{c.bytes_per_gpu / 1e9:.3f}", f"{c.seconds:.3f}"] for c in result.collectives]
    page.table(["collective", "per", "calls", "tier", "GB sent", "seconds"], rows, [0.42, 0.14, 0.09, 0.11, 0.12, 0.12])
    page.finish()


def _scaling_page(pages: Pages, scaling, result: Plan) -> None:
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=PAGE)
    for gpu, rows in scaling.groupby("gpu_type"):
        ax1.plot(rows["num_gpus"], rows["train_time_days"], marker="o", label=gpu)
        ax2.plot(rows["num_gpus"], rows["cost_usd"] / 1e3, marker="o", label=gpu)
    for ax, label in ((ax1, "training days"), (ax2, "cost, thousand USD")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("GPUs")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    ax1.set_title("Scaling: time and cost against GPU count and type")
    basis = textwrap.fill(f"Prices on one basis: {result.price.basis}", 110)
    ax2.set_title(basis, fontsize=MIN_FONT_PT)
    fig.tight_layout()
    pages.save(fig)


def _goodput_page(pages: Pages, sim: SimulationResult) -> None:
    d, step = sim.wall_clock_days, sim.step
    page = TextPage(pages, "Goodput, failures and data")
    for line in [
        f"Schedule {step.schedule}: simulated step {step.step_time_s:.3f} s (analytic {step.analytic_step_time_s:.3f} s)",
        f"Bubble {step.bubble_fraction:.1%}, exposed communication {step.exposed_comm_fraction:.1%}",
        f"Failure-free: {sim.failure_free_days:.2f} days; with failures P10/P50/P90: {d.p10:.2f} / {d.p50:.2f} / {d.p90:.2f} days",
        f"Goodput (median of {sim.runs} runs): {sim.goodput:.1%}; job MTBF {sim.failures.job_mtbf_hours:.1f} h",
        f"Checkpoint {sim.checkpoint.bytes / 1e9:.0f} GB every {sim.checkpoint_interval_s / 60:.1f} min (Young/Daly {sim.young_daly_interval_s / 60:.1f} min)",
        "Storage: " + ", ".join(f"{k} {v / 1e12:.1f} TB" for k, v in sim.storage_bytes.model_dump().items()),
        f"Read demand {sim.data_pipeline.read_bytes_per_s / 1e9:.2f} GB/s: " + ("DATA-BOUND" if sim.data_pipeline.data_bound else "storage keeps up"),
    ]:
        page.paragraph(line, bullet="- ")
    page.finish()


def _validation_page(pages: Pages, backtest: BacktestResult, result: Plan) -> None:
    fig = plt.figure(figsize=PAGE)
    ax = fig.add_axes([0.14, 0.50, 0.76, 0.38])
    measured = [r.measured_step_s for r in backtest.rows]
    predicted = [r.predicted_step_s for r in backtest.rows]
    ax.loglog(measured, predicted, "o")
    lim = [min(measured + predicted) * 0.8, max(measured + predicted) * 1.25]
    ax.plot(lim, lim, "k--", linewidth=0.8)
    ax.set_xlabel("measured step time, s")
    ax.set_ylabel("predicted step time, s")
    ax.grid(alpha=0.3, which="both")
    page = TextPage(pages, "Validation: published runs against the step-time model", fig=fig)
    page.y = 0.44
    for line in validation_lines(backtest, result):
        page.paragraph(line, size=SMALL_PT, bullet="- ")
    page.finish()


def write_report(path: Path, result: Plan, sim: Optional[SimulationResult], scaling, backtest: Optional[BacktestResult],
                 png_dir: Optional[Path] = None) -> int:
    """Write the PDF atomically (estimators.outputs: temporary file, then rename); returns the page count."""
    with output_file(path, "report") as tmp:
        with PdfPages(tmp) as pdf:
            pages = Pages(pdf, png_dir)
            _summary_page(pages, result, sim)
            _stages_page(pages, result)
            _workload_page(pages, result)
            _bars_page(pages, result)
            _layouts_page(pages, result)
            _scaling_page(pages, scaling, result)
            if sim:
                _goodput_page(pages, sim)
            if backtest:
                _validation_page(pages, backtest, result)
    return pages.count
