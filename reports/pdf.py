"""The design-review PDF: every number comes from the plan, simulation, sweep and back-test results.

Pages: executive summary; then stages, time and cost, model, workload and assumptions, and layouts, each
part starting on the page before when a quarter of it is left; FLOPs and memory; scaling; goodput;
validation. Text is set at 8 points or more and wrapped to its column, never
clipped; a page that runs out of room continues on the next. A figure that appears on two pages is
formatted once (headline_lines, simulation_lines), so the pages agree. Charts: every bar carries its
value, parts too small to draw a bar are gathered into one, legends sit outside the data.
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
from estimators.units import GIB  # noqa: E402

PAGE = (8.27, 11.69)  # A4 portrait, inches
POINTS_PER_INCH = 72
MARGIN = 0.07  # of the page width and height
MIN_FONT_PT = 8
BODY_PT = 10
SMALL_PT = 9
CHAR_WIDTH_EM = 0.56  # DejaVu Sans: lower case about 0.55 em, digits 0.64; wrap slightly on the safe side
LINE_SPACING = 1.35
PRICE_ASSUMPTION = "price: "  # how the plan's assumptions start the price line (planning/estimate.py)
REPORT_BEST_LAYOUTS = 3  # searched layouts the report ranks before the popular families
MIN_SECTION_ROOM = 0.25  # of the page height: a text part starts on the page before when this much is left
SMALL_PART_SHARE = 0.02  # a part under 2% of the largest would be a bar of no visible length: said in words instead
BAR_LABEL_PT = 8
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
        self._title(title)

    def _title(self, title: str) -> None:
        self._text(MARGIN, title, 16, weight="bold")
        self.y -= _line_height(16) + _line_height(BODY_PT) * 0.5

    def section(self, title: str) -> None:
        """A new part under its own title: on this page while MIN_SECTION_ROOM of it is left (no near-empty page
        between parts), else on the next."""
        if self.y - MARGIN < MIN_SECTION_ROOM:
            self.pages.save(self.fig)
            self.fig = plt.figure(figsize=PAGE)
            self.y = 1 - MARGIN
        else:
            self.y -= _line_height(BODY_PT) * 1.5
        self.title = title
        self._title(title)

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


def memory_line(result: Plan) -> str:
    """The memory headline: the stage that needs the most (a multi-stage plan's last stage may need less)."""
    peak = result.most_memory
    memory = peak.memory_per_gpu_bytes
    where = f" in stage {peak.name}, the stage that needs the most" if len(result.stages) > 1 else ""
    return (f"Memory per GPU: {memory.total / GIB:.1f} GiB of {memory.capacity / GIB:.0f} GiB{where}: "
            + ("fits" if memory.fits else "DOES NOT FIT") + f" ({1 - memory.total / memory.capacity:.0%} headroom)")


def simulation_lines(sim: SimulationResult) -> list[str]:
    """The simulation's figures, formatted once: the first is the summary's headline, all are the goodput page's."""
    d, step = sim.wall_clock_days, sim.step
    wait = f", {step.data_wait_s:.3f} s of it waiting on storage" if step.data_wait_s else ""
    return [
        f"Training wall clock with failures (simulated, {sim.runs} runs): failure-free {sim.failure_free_days:.2f} days; "
        f"P10 / P50 / P90 {d.p10:.2f} / {d.p50:.2f} / {d.p90:.2f} days; goodput {sim.goodput:.1%}",
        f"Schedule {step.schedule}: simulated step {step.step_time_s:.3f} s{wait} (analytic {step.analytic_step_time_s:.3f} s); "
        f"bubble {step.bubble_fraction:.1%}, exposed communication {step.exposed_comm_fraction:.1%}",
        f"Job MTBF {sim.failures.job_mtbf_hours:.1f} h; checkpoint {sim.checkpoint.bytes / 1e9:.0f} GB every "
        f"{sim.checkpoint_interval_s / 60:.1f} min (Young/Daly {sim.young_daly_interval_s / 60:.1f} min)",
        "Storage: " + ", ".join(f"{k} {v / 1e12:.1f} TB" for k, v in sim.storage_bytes.model_dump().items()),
        f"Read demand {sim.data_pipeline.read_bytes_per_s / 1e9:.2f} GB/s: "
        + (f"DATA-BOUND (a step's reads take {sim.data_pipeline.read_s_per_step:.2f} s)" if sim.data_pipeline.data_bound
           else "storage keeps up"),
    ]


def headline_lines(result: Plan, sim: Optional[SimulationResult]) -> list[str]:
    """The summary's figures, formatted once (the tests compare these with plan estimate --json)."""
    ranges, n = result.uncertainty, result.cluster.num_gpus
    elapsed = result.train_time_days + result.preprocessing_days
    lines = [
        f"Cluster: {n} x {result.cluster.gpu}, {result.cluster.precision}",
        f"Days: {result.train_time_days:.2f} training{_range_text(ranges.train_time_days, '{:.2f}')} + "
        f"{result.preprocessing_days:.2f} preprocessing = {elapsed:.2f} days on the cluster",
        f"GPU-hours: {result.gpu_hours:,.0f} = {n} GPUs x {elapsed:.2f} days x 24 h{_range_text(ranges.gpu_hours, '{:,.0f}')}",
        f"Cost: ${result.cost_usd:,.0f}{_range_text(ranges.cost_usd, '${:,.0f}')} at ${result.price.usd_per_gpu_hour:.2f}/GPU-hour",
        f"Energy: {result.energy_kwh:,.0f} kWh{_range_text(ranges.energy_kwh, '{:,.0f}')}",
        f"Step time (last stage): {result.step_time_s:.3f} s{_range_text(ranges.step_time_s, '{:.3f}')}, "
        f"MFU {result.mfu:.1%} (trained DiT only)",
        memory_line(result),
    ]
    if sim:
        lines.append(simulation_lines(sim)[0])
    return lines


def _summary_page(pages: Pages, result: Plan, sim: Optional[SimulationResult]) -> None:
    page = TextPage(pages, f"Training plan: {result.model.name}")
    p = result.params
    page.heading("Answer")
    page.paragraph(result.answer)
    page.heading("Model")
    page.paragraph(f"{result.model.name}: DiT {p.dit / 1e9:.2f} B trained parameters; frozen text encoder(s) "
                   f"{p.text_encoder / 1e9:.2f} B, VAE encoder {p.vae_encoder / 1e6:.0f} M "
                   f"({'exact' if result.model.exact else 'approximate'} counts).")
    experts = experts_sentence(result)
    if experts:
        page.paragraph(experts)
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
        page.paragraph(f"{s.name}: {s.layout.label}", bullet="- ")
    page.heading("Figures")
    for line in headline_lines(result, sim):
        page.paragraph(line, bullet="- ")
    page.paragraph(f"Price basis: {result.price.basis}.", size=SMALL_PT)
    page.heading("Three largest risks and caveats")
    for i, text in enumerate(largest_risks(result, sim), 1):
        page.paragraph(text, bullet=f"{i}. ")
    page.finish()


def experts_sentence(result: Plan) -> str:
    """How a model split into experts is trained, in one sentence ('' without experts)."""
    split = result.experts
    if split is None:
        return ""
    runs = "each in a run of its own, one in memory" if split.residency == "one" else "in one run holding all of them"
    shares = ", ".join(f"{e.name} {e.share:.1%} of the samples ({e.train_time_days:.1f} days)" for e in split.experts)
    return f"{split.count} experts of {split.params_each / 1e9:.2f} B split by noise level, trained {runs}: {shares}."


def _stages_section(page: TextPage, result: Plan) -> None:
    page.paragraph("Each stage is planned on its own (its layout searched for its clip size); totals add the stages. "
                   "Days include the stage's one-off preprocessing on the same cluster.")
    header = ["stage", "clip", "steps", "layout", "step s", "MFU", "GiB", "days", "GPU-hours", "cost"]
    rows = []
    for s in result.stages:
        c, m = s.clip, s.memory_per_gpu_bytes
        rows.append([s.name, f"{c.height}x{c.width}x{c.frames}", f"{s.steps:,}", s.layout.label,
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


def _workload_section(page: TextPage, result: Plan) -> None:
    p = result.params
    page.paragraph(f"Parameters: DiT {p.dit:,}; text encoder(s) {p.text_encoder:,}; VAE encoder {p.vae_encoder:,}; "
                   f"decoder {p.vae_decoder:,}")
    for s in result.stages:
        c, t = s.clip, s.tokens_per_sample
        page.paragraph(f"{s.name}: {c.frames} frames {c.height}x{c.width} at {c.fps:g} fps; "
                       f"{t.visual:,} visual + {t.text} text tokens; {s.steps:,} steps x {s.global_batch} clips", bullet="- ")
    page.heading("Assumptions")
    for a in result.assumptions:
        if not a.startswith(PRICE_ASSUMPTION):  # the price, its basis and source have their own part ("Price")
            page.paragraph(a, size=SMALL_PT, bullet="- ")


def _last_stage_note(result: Plan) -> str:
    return f" ({result.last.name}, the last stage)" if len(result.stages) > 1 else ""


def drawn_parts(values: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(parts drawn as bars, parts too small to draw): a part under SMALL_PART_SHARE of the largest would be a bar of
    no visible length, so it is said in words under the chart instead; zero parts are left out."""
    largest = max(values.values())
    drawn = {k: v for k, v in values.items() if v >= SMALL_PART_SHARE * largest}
    return drawn, {k: v for k, v in values.items() if 0 < v < SMALL_PART_SHARE * largest}


def _barh(ax, values: dict[str, float], colour: str, fmt: str, unit: str) -> None:
    """Horizontal bars in the given order from the top, each labelled with its value; the parts too small to
    draw named with their values below the axis."""
    drawn, small = drawn_parts(values)
    names = list(drawn)[::-1]
    bars = ax.barh(names, [drawn[k] for k in names], color=colour)
    ax.bar_label(bars, labels=[fmt.format(drawn[k]) for k in names], padding=3, fontsize=BAR_LABEL_PT)
    ax.set_xlim(0, max(drawn.values()) * 1.18)  # room for the labels
    ax.tick_params(labelsize=MIN_FONT_PT + 1)
    ax.set_xlabel(unit)
    if small:
        note = f"Too small to draw ({unit}): " + ", ".join(f"{k} {fmt.format(v)}" for k, v in small.items())
        ax.text(0, -0.22, textwrap.fill(note, 100), transform=ax.transAxes, fontsize=MIN_FONT_PT, va="top")


def _bars_page(pages: Pages, result: Plan) -> None:
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=PAGE)
    breakdown = result.flops_per_sample.dit_forward_breakdown
    flops = {k: v / 1e15 for k, v in sorted(breakdown.items(), key=lambda kv: -kv[1])}
    _barh(ax1, flops, "tab:blue", "{:.3g}", "PFLOPs per clip (DiT forward)")
    ax1.set_title("Where a clip's FLOPs go" + _last_stage_note(result))
    peak = result.most_memory
    m = peak.memory_per_gpu_bytes
    memory = {k: v / GIB for k, v in m.parts().items() if v}
    _barh(ax2, memory, "tab:orange", "{:.2f}", "GiB per GPU")
    ax2.axvline(m.capacity / GIB, color="red", linestyle="--")
    ax2.set_xlim(0, max(m.capacity / GIB, max(memory.values())) * 1.12)
    ax2.text(m.capacity / GIB, 1.01, f"HBM {m.capacity / GIB:.0f} GiB", color="red", ha="center", va="bottom",
             transform=ax2.get_xaxis_transform(), fontsize=BAR_LABEL_PT)
    where = f" ({peak.name}, the stage that needs the most)" if len(result.stages) > 1 else ""
    ax2.set_title(f"Memory per GPU{where}: {m.total / GIB:.1f} GiB ({m.total_low / GIB:.1f}-{m.total_high / GIB:.1f})", pad=14)
    fig.tight_layout(h_pad=4)
    pages.save(fig)


def _ranked_figures(row: RankedLayout) -> tuple[str, str]:
    if row.step_time_s is None:
        return "-", "-"
    return f"{row.step_time_s:.2f}", f"{row.memory_bytes / GIB:.1f}"


def _report_ranking(ranking) -> list:
    """The REPORT_BEST_LAYOUTS best searched layouts and every popular family's best (the terminal and --json list
    more): the layouts and the collectives of the chosen one then share a page."""
    searched = [r for r in ranking if r.layout is not None and r.label == r.layout.label]
    return searched[:REPORT_BEST_LAYOUTS] + [r for r in ranking if r not in searched]


def _layouts_section(page: TextPage, result: Plan) -> None:
    if result.search is None:
        page.paragraph("The layout was given (--layout), not searched: no ranking.")
        page.paragraph(f"Layout: {result.layout.label}; step {result.step_time_s:.3f} s.")
    else:
        rows = [[r.label, *_ranked_figures(r), r.verdict] for r in _report_ranking(result.search.ranking)]
        page.table(["layout", "step s", "GiB", "verdict"], rows, [0.50, 0.09, 0.08, 0.33])
    page.gap()
    page.paragraph("Collectives per GPU, last stage: calls, bytes and seconds are counted per micro-batch or per step "
                   f"as marked ({result.last.micro_batches:g} micro-batches a step).", size=SMALL_PT)
    rows = [[c.name, c.per, f"{c.calls:.0f}", c.tier, f"{c.bytes_per_gpu / 1e9:.3f}", f"{c.seconds:.3f}"] for c in result.collectives]
    page.table(["collective", "per", "calls", "tier", "GB sent", "seconds"], rows, [0.42, 0.14, 0.09, 0.11, 0.12, 0.12])


def scaling_figure(scaling, result: Plan):
    """Training days and cost against GPU count, a line per GPU kind; one legend above the data."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=PAGE)
    for gpu, rows in scaling.groupby("gpu_type"):
        ax1.plot(rows["num_gpus"], rows["train_time_days"], marker="o", label=gpu)
        ax2.plot(rows["num_gpus"], rows["cost_usd"] / 1e3, marker="o", label=gpu)
    for ax, label in ((ax1, "training days (log scale)"), (ax2, "cost, thousand USD")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("GPUs")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    ax1.set_yscale("log")
    ax1.set_title("Scaling: time and cost against GPU count and type", pad=24)
    # one legend for both charts, above the data
    ax1.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(ax1.lines), frameon=False, fontsize=MIN_FONT_PT + 1)
    basis = textwrap.fill(f"Prices on one basis: {result.price.basis}", 110)
    ax2.set_title(basis, fontsize=MIN_FONT_PT)
    fig.tight_layout()
    return fig


def _goodput_page(pages: Pages, sim: SimulationResult, result: Plan) -> None:
    """The simulation's figures, where the training wall clock can land (the time model's range against the failures'
    spread), and what the run stores."""
    fig = plt.figure(figsize=PAGE)
    page = TextPage(pages, "Goodput, failures and data", fig=fig)
    for line in simulation_lines(sim):
        page.paragraph(line, bullet="- ")
    top = page.y - 0.05
    ax1 = fig.add_axes([0.38, top - 0.22, 0.54, 0.20])
    days, d = result.uncertainty.train_time_days, sim.wall_clock_days
    rows = [(f"simulated with failures, {sim.runs} runs:\nP10 {d.p10:.2f} - P50 {d.p50:.2f} - P90 {d.p90:.2f}", d.p10, d.p50, d.p90, "tab:red"),
            (f"time model, failure-free:\nlow {days.low:.2f} - point {result.train_time_days:.2f} - high {days.high:.2f}",
             days.low, result.train_time_days, days.high, "tab:blue")]
    for y, (label, low, mid, high, colour) in enumerate(rows):
        ax1.plot([low, high], [y, y], color=colour, linewidth=3, solid_capstyle="butt")
        ax1.plot([mid], [y], "o", color=colour, markersize=8)
    ax1.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=MIN_FONT_PT + 1)
    ax1.set_ylim(-0.6, len(rows) - 0.4)
    ax1.set_xlabel("training days (no preprocessing)")
    ax1.set_title("Where the training wall clock can land", fontsize=BODY_PT)
    ax1.grid(alpha=0.3, axis="x")
    stored = {k: v / 1e12 for k, v in sim.storage_bytes.model_dump().items() if v}
    ax2 = fig.add_axes([0.38, MARGIN + 0.05, 0.62, top - 0.39 - MARGIN])
    _barh(ax2, stored, "tab:green", "{:,.1f}", "TB stored")
    ax2.set_title("What the run stores", fontsize=BODY_PT)
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
            text = TextPage(pages, "Stages, time and cost")  # the text parts flow on, a part a page at most
            _stages_section(text, result)
            text.section("Model, workload and assumptions")
            _workload_section(text, result)
            text.section("Best layouts and why others lose" + _last_stage_note(result))
            _layouts_section(text, result)
            text.finish()
            _bars_page(pages, result)
            pages.save(scaling_figure(scaling, result))
            if sim:
                _goodput_page(pages, sim, result)
            if backtest:
                _validation_page(pages, backtest, result)
    return pages.count
