"""The serving pages of the design-review PDF (`plan serve --report FILE.pdf`): the answer and one clip's
latency on replicas of every size, latency and cost against GPUs, and the fleets for the demand. Every
number comes from the ServePlan."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from estimators.documents.outputs import output_file  # noqa: E402
from estimators.serving.results import ServePlan  # noqa: E402
from estimators.units import GIB  # noqa: E402
from reports.pdf import MIN_FONT_PT, PAGE, SMALL_PT, Pages, TextPage  # noqa: E402


def _summary_page(pages: Pages, plan: ServePlan) -> None:
    page = TextPage(pages, f"Serving plan: {plan.model}")
    page.paragraph(plan.answer)
    c, s = plan.clip, plan.sampler
    page.heading("Clip and sampler")
    page.paragraph(f"{c.frames} frames {c.height}x{c.width} at {c.fps:g} fps ({c.seconds:.1f} s), {c.visual_tokens:,} visual and "
                   f"{c.text_tokens} text tokens; {s.steps} steps, guidance {s.guidance} ({s.guidance_branches} DiT evaluations a step); "
                   f"VAE {s.vae_precision} in {s.vae_tiles} tile(s); {plan.flops_per_clip:.3e} FLOPs a clip.")
    page.paragraph(f"Defaults: {s.defaults_source}", size=SMALL_PT)
    for kind in plan.kinds:
        page.heading(f"{kind.gpu}: one request on replicas of 1-{max((o.gpus for o in kind.by_size), default=0)} GPUs")
        rows = [[str(o.gpus), o.split, o.placement, f"{o.service_s:,.1f}", f"{o.service_s_range.low:,.0f}-{o.service_s_range.high:,.0f}",
                 f"{o.memory.total / GIB:.1f}", "-" if o.speedup_vs_one_gpu is None else f"{o.speedup_vs_one_gpu:.2f}x", o.dominant]
                for o in kind.by_size]
        page.table(["GPUs", "split", "weights", "latency s", "range s", "GiB/GPU", "speed-up", "dominant"], rows,
                   [0.07, 0.24, 0.10, 0.11, 0.13, 0.09, 0.09, 0.17], size=8.5)
        for line in kind.cannot_serve:
            page.paragraph(f"cannot serve: {line}", size=SMALL_PT)
    page.finish()


def _charts_page(pages: Pages, plan: ServePlan) -> None:
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=PAGE)
    colours = {kind.gpu: f"C{i}" for i, kind in enumerate(plan.kinds)}
    for kind in plan.kinds:
        gpus = [o.gpus for o in kind.by_size]
        ax1.plot(gpus, [o.service_s for o in kind.by_size], marker="o", label=kind.gpu, color=colours[kind.gpu])
        ax1.fill_between(gpus, [o.service_s_range.low for o in kind.by_size], [o.service_s_range.high for o in kind.by_size], alpha=0.15,
                         color=colours[kind.gpu])
    ax1.set_yscale("log")
    ax1.set(xlabel="GPUs a replica", ylabel="seconds a clip", title="One clip's latency against replica size (band: range)")
    if plan.candidates:
        for gpu, colour in colours.items():
            rows = [o for o in plan.candidates if o.gpu == gpu]
            ax2.plot([o.gpus_per_replica for o in rows], [o.cost_per_clip_usd for o in rows], color=colour, label=gpu)
            for o in rows:
                ax2.plot(o.gpus_per_replica, o.cost_per_clip_usd, marker="o", color=colour, fillstyle="full" if not o.why_not.startswith("misses") else "none")
        ax2.set(xlabel="GPUs a replica", ylabel="US dollars a clip",
                title="Cost a clip for the demand (hollow: one clip alone misses the latency target)")
    else:
        for kind in plan.kinds:
            ax2.plot([o.gpus for o in kind.by_size], [o.clips_per_hour / o.gpus for o in kind.by_size], marker="o", label=kind.gpu,
                     color=colours[kind.gpu])
        ax2.set(xlabel="GPUs a replica", ylabel="clips an hour per GPU", title="Throughput per GPU against replica size")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        ax.tick_params(labelsize=MIN_FONT_PT + 1)
    fig.tight_layout()
    pages.save(fig)


def _fleet_page(pages: Pages, plan: ServePlan) -> None:
    d = plan.demand
    page = TextPage(pages, "Fleets for the demand")
    page.paragraph(f"{d.clips_per_hour:,.0f} clips an hour (busiest hour {d.peak_clips_per_hour:,.0f}), p{d.percentile} within "
                   f"{d.latency_target_s:,.0f} s, {d.availability:.4%} available. Queue: {d.queue_model}.")
    rows = [[o.gpu, str(o.gpus_per_replica), str(o.batch), f"{o.replicas} ({o.spare_replicas})", f"{o.p95_s:,.0f}",
             f"${o.cost_per_clip_usd:,.3f}", o.why_not] for o in plan.candidates]
    page.table(["GPU", "GPUs", "batch", "replicas (spare)", "p95 s", "$/clip", "why not"], rows, [0.11, 0.06, 0.06, 0.14, 0.09, 0.10, 0.44], size=8.5)
    c, r = plan.choice, plan.ranges
    if c is not None:
        page.heading("The choice and its ranges")
        for line in [
            f"{c.replicas} replicas of {c.gpus_per_replica} x {c.gpu} ({c.split}, batch {c.batch}), {c.spare_replicas} spare; utilisation {c.utilization:.0%}",
            f"p50 / p95 / p99: {c.p50_s:,.0f} / {c.p95_s:,.0f} / {c.p99_s:,.0f} s",
            f"{c.gpu_hours_per_day:,.0f} GPU-hours a day ({c.autoscaled_gpu_hours_per_day:,.0f} autoscaled hour by hour); ${c.cost_per_day_usd:,.0f} a day",
            f"${c.cost_per_clip_usd:,.3f} a clip (${r.cost_per_clip_usd.low:,.3f}-{r.cost_per_clip_usd.high:,.3f}), "
            f"${c.cost_per_video_second_usd:,.4f} a second of video",
            f"energy {c.energy_per_clip_kwh:.3f} kWh a clip busy, {c.provisioned_energy_per_clip_kwh:.3f} provisioned",
            f"replicas across the service-time range: {r.replicas[0]}-{r.replicas[1]}; basis: {r.cost_per_clip_usd.basis}",
        ]:
            page.paragraph(line, bullet="- ")
    if plan.simulation is not None:
        s = plan.simulation
        page.paragraph(f"Queue simulated ({s.requests:,} requests, sim/serving_queue.py): p95 {s.simulated_p95_s:,.1f} s against the "
                       f"formula's {s.formula_p95_s:,.1f} s ({s.p95_difference:+.1%}).")
    page.finish()


def _assumptions_page(pages: Pages, plan: ServePlan) -> None:
    page = TextPage(pages, "Serving: assumptions")
    for line in plan.assumptions + [f"warning: {w}" for w in plan.warnings]:
        page.paragraph(line, size=SMALL_PT, bullet="- ")
    page.finish()


def write_serving_report(path: Path, plan: ServePlan, png_dir: Optional[Path] = None) -> int:
    """Write the serving pages as a PDF atomically; returns the page count."""
    with output_file(path, "report") as tmp:
        with PdfPages(tmp) as pdf:
            pages = Pages(pdf, png_dir)
            _summary_page(pages, plan)
            _charts_page(pages, plan)
            if plan.demand is not None:
                _fleet_page(pages, plan)
            _assumptions_page(pages, plan)
    return pages.count
