"""Back-testing the step-time model on published runs (rows with calibration-runs.csv's columns).

A row is a GPT (the GPT columns) or, with a ``model_file`` column, a video system: a preset name or a
model file path relative to the CSV, its clip as ``frames``, ``height``, ``width`` (or ``visual_tokens``
where only a token count is published: a one-latent-frame clip of that many tokens stands in, which
the step model cannot tell apart with the encoders precomputed) and ``text_tokens``. The measurement is
``measured_step_s`` or ``measured_tokens_per_s_per_gpu`` (tokens a sample x global batch / step /
GPUs; visual tokens for video rows).

Blank (or absent) ``micro_batch``, ``recompute``, ``vpp``, ``zero`` and ``cp_kind`` mean "not
published": every choice is tried and the fastest layout that fits is the prediction; the chosen values
are reported per row. Kernel and stack come from ``kernel`` / ``stack`` columns, else: A100 rows are
2021-22 Megatron-LM runs (unfused attention with fused softmax; stack megatron-lm-2021), others the
GPU's default kernel and the default stack. A ``flash_attention`` column set false means unfused.
Error per row is predicted / measured - 1; the summary is the mean absolute percentage error (MAPE).

A row may instead (or as well) give a measured peak of memory a GPU, ``measured_peak_gib`` with
``peak_measures`` (allocated: torch.cuda.max_memory_allocated; reserved: max_memory_reserved, the caching
allocator's segments; device: nvidia-smi, with the CUDA context and NCCL buffers): calibration/memory_backtest.py
compares it with the planned memory of the row's layout. Columns that set what the planner counts: ``sp``
(sequence parallelism, default true), ``recompute_layers``, ``offload``, ``optimizer_offload``, ``stack`` (whose
saved activations and model states), the training recipe (``method``, ``lora_rank``, ``lora_targets``, ``states``,
``optimizer``, ``frozen_weights``: specs/training.py) and, for video rows, ``online_text`` / ``online_latents``
(frozen encoders resident and run every step; default precomputed).
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np
from pydantic import Field, ValidationError

from estimators.calibration.memory_backtest import MemoryBacktest, memory_backtest
from estimators.catalog.gpus import load_gpu
from estimators.catalog.models import load_model
from estimators.catalog.profiles import load_profile
from estimators.catalog.stacks import default_stack, load_stack
from estimators.counts.gpt import LossKernel
from estimators.counts.problem import TrainingProblem, gpt_problem, video_problem
from estimators.errors import PlanInputError
from estimators.memory.per_gpu import MemoryBreakdown
from estimators.results import Document, Result
from estimators.search.evaluate import evaluate
from estimators.search.layout_search import divisors
from estimators.specs.layout import Layout
from estimators.specs.layout_arrays import ALL_LAYERS, RECOMPUTE_CODES, LayoutArrays
from estimators.specs.messages import Spelling, plain_words
from estimators.specs.models import GPTSpec, VideoSystemSpec
from estimators.specs.profile import DeviceProfile
from estimators.specs.training import Training
from estimators.specs.workload import MAX_CLIP_SIDE, TrainingStage, Workload
from estimators.time.kernels import UNFUSED, architecture, default_kernel
from estimators.time.step import FWD_BWD_FACTOR, RunSettings
from estimators.units import GIB

ROW_COLUMNS = ("id", "gpu", "num_gpus", "tp", "pp", "dp", "cp", "global_batch")
GPT_COLUMNS = ("num_layers", "hidden_size", "num_heads", "num_kv_heads", "ffn_hidden_size", "gated_mlp", "vocab_size", "seq_len")
MEASUREMENTS = ("measured_step_s", "measured_tokens_per_s_per_gpu")
MEMORY_MEASUREMENT = "measured_peak_gib"
PEAK_MEASURES = ("allocated", "reserved", "device")
TRAINING_COLUMNS = ("method", "lora_rank", "lora_targets", "states", "optimizer", "frozen_weights")
LAYOUT_FLAGS = ("sp", "offload", "optimizer_offload")
SEARCHED = ("micro_batch", "recompute", "vpp", "zero", "cp_kind")
LEGACY_ARCH = "sm80"  # the A100 rows: Megatron-LM 2021-22
LEGACY_KERNEL, LEGACY_STACK = UNFUSED, "megatron-lm-2021"
MAX_SEARCHED_MICRO_BATCH = 16
MAX_SEARCHED_VPP = 8
SNIFF_BYTES = 4096


@dataclass(frozen=True)
class BacktestRow:
    """One published run, parsed, with the layouts its blank fields allow."""

    id: str
    source: str
    problem: TrainingProblem
    tokens_per_sample: int
    gpu_name: str
    num_gpus: int
    global_batch: int
    precision: str
    kernel: str | None
    stack: str
    layouts: LayoutArrays
    measured_step_s: float | None  # None: the row measures memory only
    searched: tuple[str, ...]
    measured_peak_bytes: float | None = None  # None: the row measures step time only
    peak_measures: str | None = None  # allocated, reserved or device

    @property
    def model_flops_per_step(self) -> float:
        """Model FLOPs of a step, full s^2 attention (the calibration file's MFU convention)."""
        return FWD_BWD_FACTOR * self.problem.forward_flops * self.global_batch


def _text(raw: dict, column: str) -> str:
    return (raw.get(column) or "").strip()


def _number(raw: dict, rid: str, column: str, kind=int, default=None):
    """A cell as an int or float; one-line error naming the row and column."""
    text = _text(raw, column)
    if not text:
        if default is not None:
            return default
        raise PlanInputError(f"row {rid}: column {column} is blank")
    try:
        value = kind(text)
    except ValueError:
        raise PlanInputError(f"row {rid}: column {column}: '{text}' is not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and not math.isfinite(value):
        raise PlanInputError(f"row {rid}: column {column}: {text} is not finite")
    return value


def _flag(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes")


def _training(raw: dict, rid: str) -> Training:
    """The row's training recipe from its TRAINING_COLUMNS (blank: full training, the stack's states)."""
    values = {c: _text(raw, c) for c in TRAINING_COLUMNS if _text(raw, c)}
    if "lora_rank" in values:
        values["lora_rank"] = _number(raw, rid, "lora_rank")
    return Training(**values)


def _gpt(raw: dict, rid: str, flash_attention: bool, stack: str) -> tuple[TrainingProblem, int]:
    missing = [c for c in GPT_COLUMNS if c not in raw]
    if missing:
        raise PlanInputError(f"row {rid}: no model_file and missing GPT columns {', '.join(missing)}")
    spec = GPTSpec(**{c: _number(raw, rid, c) for c in GPT_COLUMNS if c != "gated_mlp"}, gated_mlp=_flag(raw["gated_mlp"]))
    chosen = load_stack(stack)
    kernel = LossKernel(compiled=bool(chosen.loss_compiled.value), chunks=int(chosen.loss_chunks.value))
    problem = gpt_problem(spec, flash_attention, rid, str(chosen.saved_activations.value), _training(raw, rid), kernel)
    return problem, spec.seq_len


def _video(raw: dict, rid: str, base: Path, stack: str) -> tuple[TrainingProblem, int]:
    name = _text(raw, "model_file")
    path = base / name
    system = load_model(str(path) if Path(name).suffix and path.exists() else name)
    if not isinstance(system, VideoSystemSpec):
        raise PlanInputError(f"row {rid}: model_file {name} is not a video system")
    text = _number(raw, rid, "text_tokens")
    if _text(raw, "visual_tokens"):
        tokens = _number(raw, rid, "visual_tokens")
        side = system.vae.spatial_compression * system.dit.patch_size
        if not 1 <= tokens * side * side <= MAX_CLIP_SIDE**2:
            raise PlanInputError(f"row {rid}: visual_tokens={tokens}: must be at least 1 and fit a {MAX_CLIP_SIDE:,}-pixel square clip")
        rows = max(d for d in divisors(tokens) if d * d <= tokens)  # one latent frame, as square as the count allows
        frames = (system.dit.patch_size_t - 1) * system.vae.temporal_compression + 1
        clip = {"frames": frames, "height": side * rows, "width": side * (tokens // rows)}
    else:
        clip = {c: _number(raw, rid, c) for c in ("frames", "height", "width")}
    stage = TrainingStage(**clip, text_tokens=text, steps=1, global_batch=_number(raw, rid, "global_batch"))
    workload = Workload(stages=(stage,), training=_training(raw, rid), precompute_text=not _flag(raw.get("online_text") or ""),
                        precompute_latents=not _flag(raw.get("online_latents") or ""))
    problem = video_problem(system, stage, workload, implementation=str(load_stack(stack).saved_activations.value))
    return problem, problem.streams[0].tokens


def _measured_step_s(raw: dict, rid: str, tokens: int, global_batch: int, num_gpus: int) -> float | None:
    for column in MEASUREMENTS:
        if _text(raw, column):
            value = _number(raw, rid, column, float)
            if value <= 0:
                raise PlanInputError(f"row {rid}: column {column} must be positive, got {value:g}")
            return value if column == "measured_step_s" else tokens * global_batch / (value * num_gpus)
    if not _text(raw, MEMORY_MEASUREMENT):
        raise PlanInputError(f"row {rid}: no measurement (give {' or '.join(MEASUREMENTS)}, or {MEMORY_MEASUREMENT})")
    return None


def _measured_peak(raw: dict, rid: str) -> tuple[float | None, str | None]:
    """(bytes, what they measure) of the row's memory measurement, or (None, None)."""
    if not _text(raw, MEMORY_MEASUREMENT):
        return None, None
    value = _number(raw, rid, MEMORY_MEASUREMENT, float)
    if value <= 0:
        raise PlanInputError(f"row {rid}: column {MEMORY_MEASUREMENT} must be positive, got {value:g}")
    measures = _text(raw, "peak_measures")
    if measures not in PEAK_MEASURES:
        raise PlanInputError(f"row {rid}: column peak_measures: expected one of {', '.join(PEAK_MEASURES)} with {MEMORY_MEASUREMENT}")
    return value * GIB, measures


def candidate_layouts(rid: str, raw: dict, problem: TrainingProblem, degrees: dict, global_batch: int) -> LayoutArrays:
    """The row's layout, every blank searched field expanded to every choice."""
    dp, pp = degrees["dp"], degrees["pp"]
    mbs = [_number(raw, rid, "micro_batch")] if _text(raw, "micro_batch") else [b for b in divisors(global_batch // dp) if b <= MAX_SEARCHED_MICRO_BATCH]
    modes = [_text(raw, "recompute")] if _text(raw, "recompute") else list(RECOMPUTE_CODES)
    if any(m not in RECOMPUTE_CODES for m in modes):
        raise PlanInputError(f"row {rid}: column recompute: expected one of {', '.join(RECOMPUTE_CODES)}")
    if _text(raw, "vpp"):
        vpps = [_number(raw, rid, "vpp")]
    else:
        # uneven chunks are allowed (counts/stages.py splits them; Megatron-Core's pipeline layouts place them)
        vpps = [v for v in range(1, MAX_SEARCHED_VPP + 1) if v == 1 or (pp > 1 and problem.num_layers >= pp * v)]
    zeros = [_number(raw, rid, "zero")] if _text(raw, "zero") else [0, 1, 2, 3]
    kinds = [_text(raw, "cp_kind") != "ulysses"] if _text(raw, "cp_kind") else ([True, False] if degrees["cp"] > 1 else [True])
    combos = [(b, RECOMPUTE_CODES[r], v, z, k) for b in mbs for r in modes for v in vpps for z in zeros for k in kinds]
    columns = list(zip(*combos))
    n = len(combos)
    flags = {name: np.full(n, _flag(raw[name]) if _text(raw, name) else name == "sp") for name in LAYOUT_FLAGS}
    layers = _number(raw, rid, "recompute_layers", default=ALL_LAYERS)
    return LayoutArrays(
        tp=np.full(n, degrees["tp"]), pp=np.full(n, pp), cp=np.full(n, degrees["cp"]), dp=np.full(n, dp),
        zero=np.array(columns[3]), micro_batch=np.array(columns[0]), recompute=np.array(columns[1]),
        vpp=np.array(columns[2]), cp_ring=np.array(columns[4], dtype=bool), recompute_layers=np.full(n, layers), **flags,
    )


def _kernel_and_stack(raw: dict, gpu_name: str) -> tuple[str | None, str]:
    legacy = architecture(gpu_name) == LEGACY_ARCH
    kernel = _text(raw, "kernel") or (LEGACY_KERNEL if legacy else default_kernel(gpu_name))
    if _text(raw, "flash_attention") and not _flag(raw["flash_attention"]):
        kernel = UNFUSED
    return kernel, _text(raw, "stack") or (LEGACY_STACK if legacy else default_stack())


def parse_row(raw: dict, base: Path) -> BacktestRow:
    """A CSV row to a BacktestRow, with one-line errors naming the row and column."""
    rid = _text(raw, "id") or "?"
    try:
        gpu = load_gpu(_text(raw, "gpu"))
        kernel, stack = _kernel_and_stack(raw, gpu.name)
        problem, tokens = _video(raw, rid, base, stack) if _text(raw, "model_file") else _gpt(raw, rid, kernel != UNFUSED, stack)
        degrees = {k: _number(raw, rid, k, default=1) for k in ("tp", "pp", "dp", "cp")}
        num_gpus, global_batch = _number(raw, rid, "num_gpus"), _number(raw, rid, "global_batch")
        if degrees["tp"] * degrees["pp"] * degrees["dp"] * degrees["cp"] != num_gpus:
            raise PlanInputError(f"row {rid}: tp*pp*dp*cp != num_gpus")
        return BacktestRow(
            id=rid, source=_text(raw, "source") or rid, problem=problem, tokens_per_sample=tokens, gpu_name=gpu.name,
            num_gpus=num_gpus, global_batch=global_batch, precision=_text(raw, "dtype") or "bf16", kernel=kernel, stack=stack,
            layouts=candidate_layouts(rid, raw, problem, degrees, global_batch),
            measured_step_s=_measured_step_s(raw, rid, tokens, global_batch, num_gpus),
            searched=tuple(c for c in SEARCHED if not _text(raw, c)),
            **dict(zip(("measured_peak_bytes", "peak_measures"), _measured_peak(raw, rid))),
        )
    except PlanInputError as exc:
        raise PlanInputError(str(exc) if str(exc).startswith("row ") else f"row {rid}: {exc}") from None
    except ValidationError as exc:  # a spec rejecting a value: the fields are the CSV's columns
        raise PlanInputError(plain_words(exc, Spelling(origin=f"row {rid}"))) from None


def csv_text(path: Path) -> str:
    """The file as text, or a one-line error when it is missing, binary or not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanInputError(f"cannot read {path}: {exc.strerror}") from None
    if b"\x00" in data[:SNIFF_BYTES]:
        raise PlanInputError(f"{path}: not a CSV text file (binary content)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PlanInputError(f"{path}: not a CSV text file (not UTF-8)") from None


def csv_rows(path: Path) -> tuple[csv.DictReader, list[str]]:
    """A CSV text file's row reader and header, refused in one line when a column appears twice (csv.Error is the
    caller's to word)."""
    reader = csv.DictReader(io.StringIO(csv_text(path)))
    header = reader.fieldnames or []
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise PlanInputError(f"{path}: column {twice[0]} appears twice in the header (a row's value would be ambiguous)")
    return reader, header


def read_rows(path: Path) -> list[BacktestRow]:
    """Every row of a calibration-style CSV."""
    try:
        reader, header = csv_rows(path)
        missing = [c for c in ROW_COLUMNS if c not in header]
        if missing:
            raise PlanInputError(f"{path}: not a back-test CSV (missing columns {', '.join(missing)})")
        if not any(c in header for c in (*MEASUREMENTS, MEMORY_MEASUREMENT)):
            raise PlanInputError(f"{path}: no measurement column ({', '.join(MEASUREMENTS)} or {MEMORY_MEASUREMENT})")
        rows = [parse_row(raw, path.parent) for raw in reader]
    except csv.Error as exc:
        raise PlanInputError(f"{path}: not a readable CSV ({exc})") from None
    if not rows:
        raise PlanInputError(f"{path}: no rows")
    return rows


@dataclass(frozen=True)
class RowPrediction:
    """What the planner predicts for a row, on the layout chosen for its blank fields."""

    step_s: float
    layout: Layout
    memory: MemoryBreakdown
    fits: bool  # some layout the row allows fits in memory (when none does, the fastest valid one is taken)


def evaluate_row(row: BacktestRow, profiles: dict[str, DeviceProfile] | None = None) -> RowPrediction:
    """Predicted step seconds, memory and the layout: the fastest fitting candidate (or the fastest valid one,
    flagged, when none fits: the published run did fit, so the memory model or the row is off).

    ``profiles`` overrides the bundled device profiles by GPU name (used by the calibration fit).
    """
    gpu = load_gpu(row.gpu_name)
    settings = RunSettings.resolve(gpu, global_batch=row.global_batch, precision=row.precision, kernel=row.kernel,
                                   stack=row.stack, profile=(profiles or {}).get(gpu.name))
    evaluation = evaluate(row.problem, row.layouts, settings)
    if not evaluation.valid.any():
        raise PlanInputError(f"row {row.id}: layout not valid ({evaluation.reason[0]})")
    ok = evaluation.valid & evaluation.fits
    pool = ok if ok.any() else evaluation.valid
    step = evaluation.time.step_time_s
    best = int(np.argmin(np.where(pool, step, np.inf)))
    return RowPrediction(float(step[best]), row.layouts.layout(best), evaluation.memory.breakdown(best, gpu.hbm_bytes.value),
                         bool(ok.any()))


def predict_row(row: BacktestRow, profiles: dict[str, DeviceProfile] | None = None) -> float:
    """Predicted step seconds of a row."""
    return evaluate_row(row, profiles).step_s


def constant_mfu_baseline(rows: list[BacktestRow], measured: np.ndarray) -> tuple[float, np.ndarray]:
    """One MFU for every row, chosen to minimise the MAPE (a weighted median); returns (mfu, predictions)."""
    ideal = np.array([r.model_flops_per_step / (load_gpu(r.gpu_name).peak_flops("bf16") * r.num_gpus) for r in rows])
    observed = ideal / measured  # each row's own MFU
    # predicted = ideal / c; |ideal/c - meas| / meas = |observed/c - 1|: minimised by a weighted median
    candidates = np.sort(observed)
    errors = [np.mean(np.abs(observed / c - 1)) for c in candidates]
    best = float(candidates[int(np.argmin(errors))])
    return best, ideal / best


class BacktestRowResult(Result):
    """One published run: predicted against measured step time, on the layout chosen for its blank fields."""

    id: str
    source: str
    kernel: Optional[str]
    stack: str
    predicted_step_s: float
    measured_step_s: float
    error: float = Field(description="predicted / measured - 1.")
    chosen: dict[str, Union[int, str]] = Field(description="The values chosen for the fields the row leaves blank.")
    layout: Layout
    in_sample: bool = Field(description="The bundled device profile was fitted to this row.")
    fits: bool = Field(description="Some layout the row allows fits in memory; when none does, the fastest valid one is timed, and the "
                                   "row is scored apart (mape_not_fitting).")


class ConstantMfuBaseline(Result):
    constant_mfu: float = Field(description="The one MFU that minimises the MAPE over the rows.")
    mape: float


class CrossValidation(Result):
    """Leave-one-source-out: each source's rows predicted by a fit without them."""

    by: str
    mape: float
    errors: dict[str, float] = Field(description="Held-out error of each row, predicted / measured - 1.")


class BacktestResult(Document):
    """`plan backtest --json`: every row with a step time, the MAPE, the worst row, the constant-MFU baseline (and
    --cv); ``memory``: every row with a measured peak of memory against the planned memory of its layout."""

    kind: Literal["backtest"] = "backtest"

    rows: list[BacktestRowResult]
    mape: Optional[float] = Field(default=None, description="Mean absolute step-time error over the rows whose layout fits in memory "
                                                          "(all timed rows when none does; None: no row measures a step).")
    max_abs_error: Optional[float] = Field(default=None, description="The worst of the rows mape is over.")
    mape_in_sample: Optional[float] = Field(default=None, description="Over the fitting rows the bundled profile was fitted to (None: no such row).")
    mape_out_of_sample: Optional[float] = Field(default=None, description="Over the fitting rows the fit did not see (None: no such row).")
    rows_not_fitting: list[str] = Field(default=[], description="Rows whose layout does not fit in memory in the model: timed anyway, scored apart.")
    mape_not_fitting: Optional[float] = None
    baseline: Optional[ConstantMfuBaseline] = Field(default=None, description="On the rows mape is over.")
    cv: Optional[CrossValidation] = None
    memory: Optional[MemoryBacktest] = Field(default=None, description="The memory back-test (None: no row measures memory).")


def chosen_values(row: BacktestRow, layout: Layout) -> dict:
    """The values the search chose for the fields the row leaves blank."""
    values = layout.model_dump()
    return {key: values[key] for key in row.searched}


def backtest(path: Path, profiles: dict[str, DeviceProfile] | None = None, rows: list[BacktestRow] | None = None) -> BacktestResult:
    """Predicted vs measured for each row (with the layout chosen for blank fields): step time (MAPE, constant-MFU
    baseline) and memory (calibration/memory_backtest.py)."""
    rows = rows if rows is not None else read_rows(path)
    predictions = [evaluate_row(r, profiles) for r in rows]
    timed = [(r, p) for r, p in zip(rows, predictions) if r.measured_step_s is not None]
    memory = memory_backtest([(r, p.layout, p.memory, chosen_values(r, p.layout)) for r, p in zip(rows, predictions)])
    if not timed:
        return BacktestResult(rows=[], memory=memory)
    measured = np.array([r.measured_step_s for r, _ in timed])
    errors = np.array([p.step_s for _, p in timed]) / measured - 1
    fits = np.array([p.fits for _, p in timed])
    scored = fits if fits.any() else np.ones(len(timed), dtype=bool)
    in_sample = np.array([profiles is None and r.id in load_profile(r.gpu_name).fitted_rows for r, _ in timed])
    mfu, baseline = constant_mfu_baseline([r for (r, _), keep in zip(timed, scored) if keep], measured[scored])
    return BacktestResult(
        rows=[
            BacktestRowResult(id=r.id, source=r.source, kernel=r.kernel, stack=r.stack, predicted_step_s=float(p.step_s),
                              measured_step_s=float(r.measured_step_s), error=float(e), chosen=chosen_values(r, p.layout), layout=p.layout,
                              in_sample=bool(inside), fits=p.fits)
            for (r, p), e, inside in zip(timed, errors, in_sample)
        ],
        mape=_mape(errors, scored), max_abs_error=float(np.max(np.abs(errors[scored]))),
        mape_in_sample=_mape(errors, scored & in_sample), mape_out_of_sample=_mape(errors, scored & ~in_sample),
        rows_not_fitting=[r.id for r, p in timed if not p.fits], mape_not_fitting=_mape(errors, ~fits),
        baseline=ConstantMfuBaseline(constant_mfu=mfu, mape=float(np.mean(np.abs(baseline / measured[scored] - 1)))),
        memory=memory,
    )


def _mape(errors: np.ndarray, rows: np.ndarray) -> Optional[float]:
    """Mean absolute error of the selected rows (None when none is selected)."""
    return float(np.mean(np.abs(errors[rows]))) if rows.any() else None
