"""The design-review PDF: every number comes from the plan, simulation, sweep and back-test documents."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["pdf.fonttype"] = 42  # embed TrueType so the text can be extracted and searched
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from estimators.outputs import output_file  # noqa: E402

GIB = 2**30
PAGE = (8.27, 11.69)  # A4 portrait, inches
WRAP_CHARS = {12: 80, 10: 95, 8: 120}  # characters a line holds at each font size


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


def headline_lines(doc: dict, sim: Optional[dict]) -> list[str]:
    """The summary's figures, formatted once (the tests compare these with plan estimate --json)."""
    low, high = doc["cost_usd_range"]
    lines = [
        f"GPUs: {doc['cluster']['num_gpus']} x {doc['cluster']['gpu']}",
        f"Training days: {doc['train_time_days']:.2f}",
        f"GPU-hours: {doc['gpu_hours']:,.0f}",
        f"Cost: ${doc['cost_usd']:,.0f} (range ${low:,.0f} - ${high:,.0f})",
        f"Energy: {doc['energy_kwh']:,.0f} kWh",
        f"Step time: {doc['step_time_s']:.3f} s, MFU {doc['mfu']:.1%}",
        f"Memory per GPU: {doc['memory_per_gpu_bytes']['total'] / GIB:.1f} GiB of {doc['memory_per_gpu_bytes']['capacity'] / GIB:.0f} GiB",
    ]
    if sim:
        d = sim["wall_clock_days"]
        lines.append(f"Wall clock with failures: P10 {d['p10']:.2f} / P50 {d['p50']:.2f} / P90 {d['p90']:.2f} days (goodput {sim['goodput']:.1%})")
    return lines


def _text_page(pages: Pages, title: str, lines: list[str], size: int = 10) -> None:
    fig = plt.figure(figsize=PAGE)
    fig.text(0.07, 0.95, title, fontsize=16, weight="bold", va="top")
    y, step = 0.90, size * 0.0021
    for line in lines:
        for part in textwrap.wrap(line, WRAP_CHARS[size]) or [""]:
            fig.text(0.07, y, part, fontsize=size, va="top")
            y -= step
    pages.save(fig)


def _bars_page(pages: Pages, doc: dict) -> None:
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=PAGE)
    flops = doc["flops_per_sample"]["dit_forward_breakdown"]
    ax1.barh(list(flops), [v / 1e15 for v in flops.values()], color="tab:blue")
    ax1.set_xlabel("PFLOPs per clip (DiT forward)")
    ax1.set_title("Where a clip's FLOPs go")
    memory = {k: v / GIB for k, v in doc["memory_per_gpu_bytes"].items() if k not in ("total", "capacity", "fits")}
    ax2.barh(list(memory), list(memory.values()), color="tab:orange")
    ax2.axvline(doc["memory_per_gpu_bytes"]["capacity"] / GIB, color="red", linestyle="--", label="HBM capacity")
    ax2.set_xlabel("GiB per GPU")
    ax2.set_title(f"Memory per GPU: {doc['memory_per_gpu_bytes']['total'] / GIB:.1f} GiB")
    ax2.legend()
    fig.tight_layout()
    pages.save(fig)


def _layouts_page(pages: Pages, ranking: list[dict]) -> None:
    fig, ax = plt.subplots(figsize=PAGE)
    ax.axis("off")
    ax.set_title("Best layouts and why others lose", fontsize=14, weight="bold")
    cells = [[r["label"][:70], r["step"], r["memory"], r["verdict"][:45]] for r in ranking]
    table = ax.table(cellText=cells, colLabels=["layout", "step s", "GiB", "verdict"], loc="upper center", colWidths=[0.55, 0.08, 0.08, 0.34])
    table.auto_set_font_size(False)
    table.set_fontsize(6.5)
    table.scale(1, 1.6)
    pages.save(fig)


def _scaling_page(pages: Pages, scaling) -> None:
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
    fig.tight_layout()
    pages.save(fig)


def _goodput_page(pages: Pages, sim: dict) -> None:
    d, step = sim["wall_clock_days"], sim["step"]
    lines = [
        f"Schedule {step['schedule']}: simulated step {step['step_time_s']:.3f} s (analytic {step['analytic_step_time_s']:.3f} s)",
        f"Bubble {step['bubble_fraction']:.1%}, exposed communication {step['exposed_comm_fraction']:.1%}",
        f"Failure-free: {sim['failure_free_days']:.2f} days; with failures P10/P50/P90: {d['p10']:.2f} / {d['p50']:.2f} / {d['p90']:.2f} days",
        f"Goodput (median of {sim['runs']} runs): {sim['goodput']:.1%}; job MTBF {sim['failures']['job_mtbf_hours']:.1f} h",
        f"Checkpoint {sim['checkpoint']['bytes'] / 1e9:.0f} GB every {sim['checkpoint_interval_s'] / 60:.1f} min (Young/Daly {sim['young_daly_interval_s'] / 60:.1f} min)",
        "Storage: " + ", ".join(f"{k} {v / 1e12:.1f} TB" for k, v in sim["storage_bytes"].items()),
        f"Read demand {sim['data_pipeline']['read_bytes_per_s'] / 1e9:.2f} GB/s: " + ("DATA-BOUND" if sim["data_pipeline"]["data_bound"] else "storage keeps up"),
    ]
    _text_page(pages, "Goodput, failures and data", lines)


def _validation_page(pages: Pages, backtest: dict) -> None:
    fig, ax = plt.subplots(figsize=PAGE)
    measured = [r["measured_step_s"] for r in backtest["rows"]]
    predicted = [r["predicted_step_s"] for r in backtest["rows"]]
    ax.loglog(measured, predicted, "o")
    lim = [min(measured + predicted) * 0.8, max(measured + predicted) * 1.25]
    ax.plot(lim, lim, "k--", linewidth=0.8)
    ax.set_xlabel("measured step time, s")
    ax.set_ylabel("predicted step time, s")
    base = backtest["baseline"]
    ax.set_title(f"Validation on published runs: MAPE {backtest['mape']:.1%} (worst {backtest['max_abs_error']:.1%});\n"
                 f"constant-MFU baseline {base['mape']:.1%}")
    ax.grid(alpha=0.3, which="both")
    pages.save(fig)


def write_report(path: Path, doc: dict, ranking: list[dict], sim: Optional[dict], scaling, backtest: Optional[dict],
                 png_dir: Optional[Path] = None) -> int:
    """Write the PDF atomically (estimators.outputs: temporary file, then rename); returns the page count."""
    with output_file(path, "report") as tmp:
        with PdfPages(tmp) as pdf:
            pages = Pages(pdf, png_dir)
            _text_page(pages, f"Training plan: {doc['model']['name']}", headline_lines(doc, sim), size=12)
            _text_page(pages, "Model, workload and assumptions", _workload_lines(doc), size=8)
            _bars_page(pages, doc)
            _layouts_page(pages, ranking)
            _scaling_page(pages, scaling)
            if sim:
                _goodput_page(pages, sim)
            if backtest:
                _validation_page(pages, backtest)
    return pages.count


def _workload_lines(doc: dict) -> list[str]:
    layout = ", ".join(f"{k}={v}" for k, v in doc["layout"].items())
    clip = doc["stages"][-1]["clip"]
    p = doc["params"]
    return [
        f"Clip: {clip['frames']} frames {clip['height']}x{clip['width']} at {clip['fps']:g} fps; "
        f"{doc['tokens_per_sample']['visual']:,} visual + {doc['tokens_per_sample']['text']} text tokens",
        f"Parameters: DiT {p['dit']:,}; T5 {p['text_encoder']:,}; VAE encoder {p['vae_encoder']:,}; decoder {p['vae_decoder']:,}",
        f"Layout: {layout}",
        "",
        "Assumptions:",
    ] + [f"- {a}" for a in doc["assumptions"]]
