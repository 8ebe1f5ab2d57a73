"""The serving back-test: published inference latencies (estimators/data/calibration/serving-latencies.csv,
each row with its source, a quote and a date) against what `plan serve` predicts for the same model, clip,
steps, guidance, GPU kind and count, split, kernel and VAE settings.

Nothing is fitted to these rows: they judge the serving model. A row is left out, with the reason, when
its GPU kind or model is not in the catalogue or when it used caching or step-skipping (TeaCache,
FasterCache...), which the model does not represent. ``scope`` says what the latency covers:
``end_to_end`` (text encoding to decoded video) or ``dit_only`` (the denoising loop).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, ValidationError

from estimators.calibration.backtest import csv_rows, csv_text
from estimators.catalog.gpus import load_gpu
from estimators.catalog.models import load_model, preset_names
from estimators.catalog.serving import inference_defaults
from estimators.errors import PlanInputError
from estimators.results import Document, Result
from estimators.serving.forward import Placement
from estimators.serving.latency import clip_latency, serve_problem
from estimators.serving.machine import gpu_machine, serving_kernel_for
from estimators.serving.parallel import Split, why_invalid
from estimators.serving.replica import best_placement
from estimators.specs.serving import ServingClip
from estimators.time.kernels import kernel_transfer

REQUIRED = ("id", "model", "frames", "height", "width", "steps", "guidance", "gpu", "gpus", "scope", "latency_s", "source", "quote", "date")
SCOPES = ("end_to_end", "dit_only")
MAX_ROWS = 10_000


class ServingRow(Result):
    """One published latency and the prediction."""

    id: str
    model: str
    gpu: str
    gpus: int
    split: str
    scope: str
    measured_s: float
    predicted_s: Optional[float] = Field(description="None when the row is left out.")
    error: Optional[float] = Field(description="predicted / measured - 1.")
    placement: Optional[str]
    left_out: str = Field(description="Why the row is not predicted ('' when it is).")
    kernel_transfer: Optional[str] = Field(default=None, description="How the GPU kind's kernel tables are transferred from another "
                                           "GPU's benchmarks (None: its own); such rows are scored apart.")
    source: str


class ServingBacktestResult(Document):
    """`plan backtest serving-latencies.csv --json`: error per row and the MAPE overall and by scope."""

    kind: Literal["serve-backtest"] = "serve-backtest"
    file: str
    rows: list[ServingRow]
    predicted_rows: int
    mape: Optional[float]
    mape_end_to_end: Optional[float]
    mape_dit_only: Optional[float]
    mape_own_kernel_tables: Optional[float] = Field(description="End-to-end rows on GPU kinds whose kernel tables are their own benchmarks.")
    mape_transferred_kernel_tables: Optional[float] = Field(description="End-to-end rows on GPU kinds whose kernel tables are transferred.")
    worst_row: Optional[str]


def read_serving_rows(path: Path) -> list[dict]:
    """The CSV's rows as dicts; one-line errors for a missing or repeated column or an empty file."""
    try:
        reader, header = csv_rows(path)
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise PlanInputError(f"{path}: missing column {missing[0]} (a serving back-test needs {', '.join(REQUIRED)})")
        rows = []
        for row in reader:
            rows.append(row)
            if len(rows) > MAX_ROWS:
                raise PlanInputError(f"{path}: more than {MAX_ROWS:,} rows")
    except csv.Error as exc:
        raise PlanInputError(f"{path}: not a readable CSV ({exc})") from None
    if not rows:
        raise PlanInputError(f"{path}: no rows")
    return rows


def is_serving_csv(path: Path) -> bool:
    """True when a CSV has the serving back-test's columns (latency_s and scope)."""
    try:
        header = next(csv.reader(io.StringIO(csv_text(path))), [])
    except (PlanInputError, csv.Error):
        return False
    return "latency_s" in header and "scope" in header


def _int(row: dict, key: str, default: int = 1) -> int:
    value = (row.get(key) or "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise PlanInputError(f"row {row.get('id')}: {key}={value!r} is not a whole number") from None


def _positive(row: dict, key: str) -> float:
    try:
        value = float(row[key])
    except (TypeError, ValueError):
        raise PlanInputError(f"row {row.get('id')}: {key}={row.get(key)!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise PlanInputError(f"row {row.get('id')}: {key} must be a positive finite number")
    return value


def left_out(row: dict) -> str:
    """Why a row cannot be predicted ('' when it can)."""
    if (row.get("caching") or "none").strip().lower() not in ("", "none"):
        return f"uses {row['caching']} (caching or step-skipping is not modelled)"
    if row["model"] not in preset_names():
        return f"model {row['model']} is not a preset"
    try:
        load_gpu(row["gpu"])
    except PlanInputError:
        return f"GPU kind {row['gpu']} is not in the catalogue"
    if row["scope"] not in SCOPES:
        return f"scope {row['scope']!r} is not one of {', '.join(SCOPES)}"
    return ""


def predict_row(row: dict) -> tuple[float, str]:
    """(predicted seconds of what the row measured, the weight placement used)."""
    system = load_model(row["model"])
    defaults = inference_defaults(system)
    clip = ServingClip(frames=_int(row, "frames"), height=_int(row, "height"), width=_int(row, "width"), fps=defaults.clip.fps,
                       text_tokens=defaults.clip.text_tokens)
    tiling = {"yes": defaults.vae_tiling, "no": None}.get((row.get("vae_tiling") or "").strip(), defaults.vae_tiling)
    gpu = load_gpu(row["gpu"])
    machine = gpu_machine(gpu, "bf16", serving_kernel_for(gpu.name, "bf16", row.get("kernel"), defaults.attention_kernel))
    sp = serve_problem(system, clip, _int(row, "steps"), row["guidance"], row.get("vae_precision") or defaults.vae_precision, tiling,
                       machine.activation_bytes)
    split = Split(cfg=_int(row, "cfg"), ulysses=_int(row, "ulysses"), ring=_int(row, "ring"))
    if split.gpus != _int(row, "gpus"):
        raise PlanInputError(f"row {row['id']}: cfg x ulysses x ring = {split.gpus}, gpus = {row['gpus']}")
    reason = why_invalid(split, sp.guidance, sp.problem.heads, sp.geometry.visual_tokens)
    if reason:
        raise PlanInputError(f"row {row['id']}: {reason}")
    mode = (row.get("placement") or "").strip()
    if mode:
        latency = clip_latency(sp, machine, split, Placement(mode=mode, shards=split.gpus), 1)
    else:
        timed, smallest = best_placement(sp, machine, split, 1)
        if timed is None:
            raise PlanInputError(f"row {row['id']}: no placement fits ({smallest.total / 2**30:.0f} GiB at the smallest)")
        mode, latency = timed.placement.mode, timed.latency
    return (latency.total_s if row["scope"] == "end_to_end" else latency.denoising_s), mode


def _mape(rows: list[ServingRow]) -> Optional[float]:
    errors = [abs(r.error) for r in rows if r.error is not None]
    return sum(errors) / len(errors) if errors else None


def serving_backtest(path: Path, rows: Optional[list[dict]] = None) -> ServingBacktestResult:
    """Every row of the file predicted (or left out, with why)."""
    out = []
    for row in rows if rows is not None else read_serving_rows(path):
        measured = _positive(row, "latency_s")
        split = Split(cfg=_int(row, "cfg"), ulysses=_int(row, "ulysses"), ring=_int(row, "ring"))
        why = left_out(row)
        predicted, mode = (None, None)
        if not why:
            try:
                predicted, mode = predict_row(row)
            except ValidationError as exc:
                raise PlanInputError(f"row {row['id']}: {exc.errors()[0]['msg']}") from None
        out.append(ServingRow(id=row["id"], model=row["model"], gpu=row["gpu"], gpus=_int(row, "gpus"), split=split.label, scope=row["scope"],
                              measured_s=measured, predicted_s=predicted, error=None if predicted is None else predicted / measured - 1,
                              placement=mode, left_out=why, source=row["source"],
                              kernel_transfer=None if why else kernel_transfer(load_gpu(row["gpu"]).name)))
    scored = [r for r in out if r.error is not None]
    end_to_end = [r for r in scored if r.scope == "end_to_end"]
    worst = max(scored, key=lambda r: abs(r.error)) if scored else None
    return ServingBacktestResult(
        file=str(path), rows=out, predicted_rows=len(scored), mape=_mape(scored),
        mape_end_to_end=_mape(end_to_end), mape_dit_only=_mape([r for r in scored if r.scope == "dit_only"]),
        mape_own_kernel_tables=_mape([r for r in end_to_end if r.kernel_transfer is None]),
        mape_transferred_kernel_tables=_mape([r for r in end_to_end if r.kernel_transfer is not None]),
        worst_row=None if worst is None else f"{worst.id} {worst.error:+.1%}",
    )
