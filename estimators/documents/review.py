"""What a design reviewer reads first, derived from the documents (no new estimates): the ranges each
headline figure carries, the largest risks ranked by how far they could move days or cost, and what
the back-test says about this plan (which runs, in or out of sample).
"""
from __future__ import annotations

from typing import Optional

RANGED = ("step_time_s", "train_time_days", "gpu_hours", "cost_usd", "energy_kwh")
# Memory headroom below this share of HBM leaves little room for allocator spikes or longer captions.
TIGHT_HEADROOM_FRACTION = 0.10


def figure_ranges(doc: dict) -> dict[str, Optional[dict]]:
    """{figure: {low, high, basis}} from the document's 'uncertainty' (time-model ranges) when present;
    otherwise only cost has one (the price's low-high range) and the others are None."""
    given = doc.get("uncertainty") or {}
    out = {key: given.get(key) for key in RANGED}
    if out["cost_usd"] is None and "cost_usd_range" in doc:
        low, high = doc["cost_usd_range"]
        out["cost_usd"] = {"low": low, "high": high, "basis": "price range only (time-model range not available)"}
    return out


def in_sample_rows(backtest: dict, profile_provenance: str) -> dict[str, bool]:
    """Each back-test row id -> whether the plan's device profile was fitted to it (its provenance names
    the rows it was fitted to), or the row says so itself ('in_sample')."""
    return {
        row["id"]: bool(row.get("in_sample", row["id"] in profile_provenance))
        for row in backtest["rows"]
    }


def validation_lines(backtest: dict, profile_provenance: str, doc: dict) -> list[str]:
    """Which runs, in or out of sample, and what that implies for this plan's step time."""
    flags = in_sample_rows(backtest, profile_provenance)
    inside = [k for k, v in flags.items() if v]
    outside = [k for k, v in flags.items() if not v]
    attention = doc["step_breakdown_s"]["attention_s"] / doc["step_time_s"]
    lines = [
        f"Runs: {len(flags)} published training runs ({', '.join(flags)}).",
        f"In sample: {len(inside)} of them were used to fit the {doc['cluster']['gpu']} device profile this plan uses"
        + (f"; out of sample: {', '.join(outside)}." if outside else "; none is out of sample."),
        f"MAPE {backtest['mape']:.1%}, worst {backtest['max_abs_error']:.1%} "
        + ("(in-sample: a fit quality, not a validation)." if not outside else "(in and out of sample together)."),
        f"Constant-MFU baseline on the same rows: MAPE {backtest['baseline']['mape']:.1%}.",
        (f"Leave-one-source-out MAPE {backtest['cv']['mape']:.1%}: each source's rows predicted by a fit without them "
         "(the figure the plan's time ranges come from)." if "cv" in backtest else
         "Not cross-validated: the stored leave-one-source-out result was computed from another calibration file "
         "(compared by content); `plan backtest FILE --cv` computes it for this one (about 40 s)."),
        f"For this plan: attention is {attention:.0%} of the step on {doc['tokens_per_sample']['visual']:,}-token "
        "bidirectional video sequences; the runs above are language models whose step is mostly matmul, so the "
        "error on this plan's step time is not bounded by the MAPE above.",
    ]
    return lines


def largest_risks(doc: dict, sim: Optional[dict], backtest: Optional[dict], count: int = 3) -> list[str]:
    """The ``count`` risks or caveats that could move days or cost the most, largest first.

    Each candidate carries its relative swing: the price range's half-width, the time model's range (or the
    back-test's worst error when no range is given), the failure tail (P90 over failure-free days), a tight
    memory headroom, a data-bound input pipeline.
    """
    risks: list[tuple[float, str]] = []
    low, high = doc["cost_usd_range"]
    risks.append(((high - low) / 2 / doc["cost_usd"],
                  f"Price: the cost spans ${low:,.0f}-${high:,.0f} on the price range alone (on-demand quotes, basis stated with the price)."))
    days = figure_ranges(doc)["train_time_days"]
    if days is not None:
        risks.append(((days["high"] - days["low"]) / 2 / doc["train_time_days"],
                      f"Time model: training {days['low']:.2f}-{days['high']:.2f} days ({days['basis']})."))
    elif backtest is not None:
        risks.append((backtest["max_abs_error"],
                      f"Time model: no range given; calibrated on language-model runs (in-sample MAPE {backtest['mape']:.1%}, "
                      "none a video DiT), so this plan's step time is an extrapolation."))
    if sim is not None:
        tail = sim["wall_clock_days"]["p90"] / max(sim["failure_free_days"], 1e-12) - 1
        risks.append((tail, f"Failures: P90 wall clock {sim['wall_clock_days']['p90']:.2f} days, {tail:.1%} over "
                            f"failure-free (goodput {sim['goodput']:.1%})."))
        if sim["data_pipeline"]["data_bound"]:
            risks.append((1.0, "Data: the input pipeline cannot feed the GPUs at the planned rate (DATA-BOUND)."))
    memory = doc["memory_per_gpu_bytes"]
    headroom = 1 - memory["total"] / memory["capacity"]
    if headroom < TIGHT_HEADROOM_FRACTION:
        risks.append((TIGHT_HEADROOM_FRACTION - headroom,
                      f"Memory: {headroom:.0%} headroom per GPU; a longer caption or allocator spike may need recompute or more parallelism."))
    return [text for _, text in sorted(risks, key=lambda r: -r[0])[:count]]
