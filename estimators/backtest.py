"""Back-testing the step-time model on published runs (rows with calibration-runs.csv's columns).

Each row becomes a GPT (or, with model family asymm_dit in a 'model_file' column, any preset) on its
published layout; blank micro_batch or recompute are searched (fastest that fits). Error per row is
predicted / measured - 1; the summary is the mean absolute percentage error (MAPE).

Conventions: ZeRO-1 (Megatron's distributed optimizer; the same traffic as an all-reduce) unless a
'zero' column says otherwise; flash attention from a 'flash_attention' column, else assumed on Hopper
and later GPUs and off on Ampere (the A100 rows are 2021-22 Megatron runs with fused softmax);
context parallelism from a 'cp_kind' column, else ring attention (Megatron-Core's CP, which NeMo uses).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from estimators.errors import PlanInputError
from estimators.flops import gpt_forward_flops
from estimators.layouts import RECOMPUTE_CODES, LayoutArrays
from estimators.presets import load_gpu
from estimators.problem import TrainingProblem, gpt_problem
from estimators.profiles import DeviceProfile, load_profile
from estimators.search import divisors
from estimators.specs.models import GPTSpec
from estimators.step import FWD_BWD_FACTOR, RunSettings, evaluate

REQUIRED_COLUMNS = (
    "id", "num_layers", "hidden_size", "num_heads", "num_kv_heads", "ffn_hidden_size", "gated_mlp", "vocab_size",
    "seq_len", "gpu", "num_gpus", "tp", "pp", "dp", "cp", "vpp", "global_batch", "micro_batch", "recompute",
    "measured_step_s",
)
AMPERE = {"A100-80G"}


@dataclass(frozen=True)
class BacktestRow:
    """One published run, parsed."""

    id: str
    spec: GPTSpec
    gpu_name: str
    num_gpus: int
    degrees: dict  # tp, pp, dp, cp, vpp
    zero: int
    global_batch: int
    micro_batch: int | None
    recompute: str | None
    flash_attention: bool
    cp_ring: bool
    precision: str
    measured_step_s: float


def _flag(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes")


def parse_row(raw: dict) -> BacktestRow:
    """A CSV row to a BacktestRow, with one-line errors naming the row."""
    rid = raw.get("id", "?")
    try:
        spec = GPTSpec(
            num_layers=int(raw["num_layers"]), hidden_size=int(raw["hidden_size"]), num_heads=int(raw["num_heads"]),
            num_kv_heads=int(raw["num_kv_heads"]), ffn_hidden_size=int(raw["ffn_hidden_size"]), gated_mlp=_flag(raw["gated_mlp"]),
            vocab_size=int(raw["vocab_size"]), seq_len=int(raw["seq_len"]),
        )
        gpu = load_gpu(raw["gpu"])
        degrees = {k: int(raw[k] or 1) for k in ("tp", "pp", "dp", "cp", "vpp")}
        flash = _flag(raw["flash_attention"]) if raw.get("flash_attention") else gpu.name not in AMPERE
        return BacktestRow(
            id=rid, spec=spec, gpu_name=gpu.name, num_gpus=int(raw["num_gpus"]), degrees=degrees,
            zero=int(raw.get("zero") or 1), global_batch=int(raw["global_batch"]),
            micro_batch=int(raw["micro_batch"]) if raw["micro_batch"].strip() else None,
            recompute=raw["recompute"].strip() or None, flash_attention=flash,
            cp_ring=(raw.get("cp_kind") or "ring").strip() != "ulysses",
            precision=(raw.get("dtype") or "bf16").strip() or "bf16", measured_step_s=float(raw["measured_step_s"]),
        )
    except (KeyError, ValueError) as exc:
        raise PlanInputError(f"row {rid}: {exc}") from None


def read_rows(path: Path) -> list[BacktestRow]:
    """Every row of a calibration-style CSV."""
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise PlanInputError(f"{path}: missing columns {', '.join(missing)}")
            rows = [parse_row(raw) for raw in reader]
    except OSError as exc:
        raise PlanInputError(f"cannot read {path}: {exc.strerror}") from None
    if not rows:
        raise PlanInputError(f"{path}: no rows")
    return rows


def candidate_layouts(row: BacktestRow) -> LayoutArrays:
    """The row's layout, with blank micro-batch / recompute expanded to every choice."""
    d = row.degrees
    if d["tp"] * d["pp"] * d["dp"] * d["cp"] != row.num_gpus:
        raise PlanInputError(f"row {row.id}: tp*pp*dp*cp != num_gpus")
    per_replica = row.global_batch // d["dp"]
    mbs = [row.micro_batch] if row.micro_batch else [b for b in divisors(per_replica) if b <= 16]
    modes = [row.recompute] if row.recompute else list(RECOMPUTE_CODES)
    pairs = [(mb, RECOMPUTE_CODES[r]) for mb in mbs for r in modes]
    n = len(pairs)

    def full(value):
        return np.full(n, value)

    return LayoutArrays(
        tp=full(d["tp"]), pp=full(d["pp"]), cp=full(d["cp"]), dp=full(d["dp"]), zero=full(row.zero),
        micro_batch=np.array([p[0] for p in pairs]), recompute=np.array([p[1] for p in pairs]),
        vpp=full(d["vpp"]), cp_ring=full(row.cp_ring),
    )


def model_flops_per_step(row: BacktestRow) -> float:
    """Model FLOPs of a step, full s^2 attention (the file's MFU convention)."""
    return FWD_BWD_FACTOR * sum(gpt_forward_flops(row.spec).values()) * row.global_batch


def predict_row(row: BacktestRow, profiles: dict[str, DeviceProfile] | None = None) -> float:
    """Predicted step seconds: the fastest fitting candidate (or the fastest valid one if none fits).

    ``profiles`` overrides the bundled device profiles by GPU name (used by the calibration fit).
    """
    gpu = load_gpu(row.gpu_name)
    profile = (profiles or {}).get(gpu.name) or load_profile(gpu.name)
    settings = RunSettings(gpu=gpu, profile=profile, global_batch=row.global_batch, precision=row.precision)
    prob: TrainingProblem = gpt_problem(row.spec, row.flash_attention, row.id)
    lay = candidate_layouts(row)
    metrics = evaluate(prob, lay, settings)
    if not metrics["valid"].any():
        raise PlanInputError(f"row {row.id}: layout not valid ({metrics['reason'][0]})")
    ok = metrics["valid"] & metrics["fits"]
    pool = ok if ok.any() else metrics["valid"]
    return float(np.min(np.where(pool, metrics["step_time_s"], np.inf)))


def constant_mfu_baseline(rows: list[BacktestRow], measured: np.ndarray) -> tuple[float, np.ndarray]:
    """One MFU for every row, chosen to minimise the MAPE (a weighted median); returns (mfu, predictions)."""
    ideal = np.array([model_flops_per_step(r) / (load_gpu(r.gpu_name).peak_flops(r.precision) * r.num_gpus) for r in rows])
    observed = ideal / measured  # each row's own MFU
    # predicted = ideal / c; |ideal/c - meas| / meas = |observed/c - 1|: minimised by a weighted median
    candidates = np.sort(observed)
    errors = [np.mean(np.abs(observed / c - 1)) for c in candidates]
    best = float(candidates[int(np.argmin(errors))])
    return best, ideal / best


def backtest(path: Path, profiles: dict[str, DeviceProfile] | None = None) -> dict:
    """Predicted vs measured for each row, MAPE, and the constant-MFU baseline."""
    rows = read_rows(path)
    measured = np.array([r.measured_step_s for r in rows])
    predicted = np.array([predict_row(r, profiles) for r in rows])
    errors = predicted / measured - 1
    mfu, baseline = constant_mfu_baseline(rows, measured)
    return {
        "rows": [
            {"id": r.id, "predicted_step_s": float(p), "measured_step_s": float(m), "error": float(e)}
            for r, p, m, e in zip(rows, predicted, measured, errors)
        ],
        "mape": float(np.mean(np.abs(errors))),
        "max_abs_error": float(np.max(np.abs(errors))),
        "baseline": {"constant_mfu": mfu, "mape": float(np.mean(np.abs(baseline / measured - 1)))},
    }
