"""Kernel efficiencies from published benchmarks (data/kernels/*.yaml): attention and GEMMs.

Attention: a curve per (kernel, architecture, direction, causal mask, precision, head dim) of TFLOP/s
against sequence length, as the paper plots it. The efficiency at a sequence length is interpolated
linearly in log2(seq) between the two nearest points of the curve (clamped to its ends: beyond 16k the
kernels have plateaued in every published figure); between head dims, linearly in log2(head dim) of the
two nearest curves (clamped). A causal query without a causal curve takes the non-causal curve times the
causal/non-causal ratio of the same kernel's head-dim-128 forward curves; a backward query without a
curve for that precision uses the BF16 backward (FlashAttention-3 has no FP8 backward).

GEMMs: measured TFLOP/s by shape (M, N, K) on one reference GPU, interpolated by inverse distance
weighting (Shepard 1968, power GEMM_IDW_POWER, the GEMM_IDW_NEIGHBOURS nearest points) in log2 space,
after folding what M or N exceeds the table by onto the other (M x N output tiles set a GEMM's
parallelism) and clamping the query to the table's range; other architectures and precisions scale the table so that its 4096^3 point equals their cited
large-GEMM efficiency.

Efficiencies are fractions of the dense peak of the precision the kernel runs in.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from estimators.catalog.files import read_data
from estimators.errors import PlanInputError

GEMM_IDW_POWER = 2
GEMM_IDW_NEIGHBOURS = 4  # only the nearest measured shapes vote: far, small GEMMs say nothing of a large one
MAX_EFFICIENCY = 1.0
UNFUSED = "unfused"  # standard attention: batched GEMMs, scores through HBM
ANCHOR_GEMM_DIM = 4096  # the reference table's largest cube, where other GPUs' cited efficiencies attach
REFERENCE_HEAD_DIM = 128  # the head dim whose causal/non-causal ratio stands in for the others


@lru_cache(maxsize=None)
def _data(name: str) -> dict:
    return read_data("kernels", f"{name}.yaml")


def architecture(gpu_name: str) -> str | None:
    """The architecture whose kernel tables apply to a GPU, or None (no tables: e.g. a CPU profile)."""
    for arch, entry in _data("attention")["architectures"].items():
        if gpu_name in entry["gpus"]:
            return arch
    return None


def kernel_names() -> tuple[str, ...]:
    """Every attention kernel the data names."""
    return tuple(_data("attention")["kernels"])


def kernel_description(name: str) -> str:
    """What the data says a kernel is."""
    return _data("attention")["kernels"][name]["description"]


def default_kernel(gpu_name: str) -> str | None:
    """The attention kernel a plan on this GPU uses unless told otherwise."""
    arch = architecture(gpu_name)
    return None if arch is None else _data("attention")["defaults"][arch]["kernel"]


def _curve_arch(arch: str) -> tuple[str, float, float | None]:
    """(architecture whose curves are used, its bf16 and fp8 peak TFLOP/s)."""
    entry = _data("attention")["architectures"][arch]
    source = entry.get("same_efficiency_as", arch)
    measured = _data("attention")["architectures"][source]["measured_on"]
    return source, measured["peak_tflops_bf16"], measured["peak_tflops_fp8"]


def _interp_log2(x, xs, ys) -> np.ndarray:
    return np.interp(np.log2(np.maximum(np.asarray(x, dtype=float), 1.0)), np.log2(xs), ys)


@dataclass(frozen=True)
class AttentionKernel:
    """One attention kernel on one architecture: efficiency by sequence length for a head dim."""

    name: str
    arch: str

    def _curves(self, direction: str, causal: bool, precision: str) -> list[dict]:
        arch, _, _ = _curve_arch(self.arch)
        name = self.name
        if precision == "bf16":
            name = _data("attention")["kernels"][name].get("bf16_passes_from", name)
        return [c for c in _data("attention")["curves"] if c["kernel"] == name and c["arch"] == arch
                and c["direction"] == direction and c["causal"] == causal and c["precision"] == precision]

    def _efficiency_of(self, curves: list[dict], seq, head_dim: int) -> np.ndarray:
        _, peak_bf16, peak_fp8 = _curve_arch(self.arch)
        curves = sorted(curves, key=lambda c: c["head_dim"])
        dims = [c["head_dim"] for c in curves]
        per_dim = [
            _interp_log2(seq, c["seq"], np.array(c["tflops"]) / (peak_fp8 if c["precision"] == "fp8" else peak_bf16))
            for c in curves
        ]
        if len(curves) == 1:
            return per_dim[0]
        position = np.interp(np.log2(head_dim), np.log2(dims), np.arange(len(dims)))
        low = int(np.floor(position))
        high = min(low + 1, len(dims) - 1)
        weight = position - low
        return (1 - weight) * per_dim[low] + weight * per_dim[high]

    def runs_in(self, direction: str, precision: str) -> str:
        """Precision this kernel runs a pass in when the plan asks for ``precision``."""
        if precision == "fp8" and self._curves(direction, False, "fp8"):
            return "fp8"
        return "bf16"

    def efficiency(self, seq, head_dim: int, direction: str, causal: bool = False, precision: str = "bf16") -> np.ndarray:
        """Fraction of the peak of ``runs_in(direction, precision)`` at sequence length(s) ``seq``."""
        run = self.runs_in(direction, precision)
        curves = self._curves(direction, causal, run)
        if curves:
            return self._efficiency_of(curves, seq, head_dim)
        base = self._curves(direction, False, run)
        if not base:
            raise PlanInputError(f"attention kernel {self.name} has no {direction} data on {self.arch}")
        value = self._efficiency_of(base, seq, head_dim)
        if causal:
            ratio = self._efficiency_of(self._curves("forward", True, "bf16"), seq, REFERENCE_HEAD_DIM) / self._efficiency_of(
                self._curves("forward", False, "bf16"), seq, REFERENCE_HEAD_DIM
            )
            value = value * ratio
        return value


def attention_kernel(name: str, gpu_name: str) -> AttentionKernel:
    """The named kernel on a GPU's architecture; one-line error when the data has nothing for it."""
    arch = architecture(gpu_name)
    if name not in kernel_names():
        raise PlanInputError(f"--kernel {name}: expected one of {', '.join(kernel_names())}")
    if arch is None:
        raise PlanInputError(f"no kernel benchmarks for {gpu_name}")
    kernel = AttentionKernel(name, arch)
    if name != UNFUSED and not kernel._curves("forward", False, "bf16") and not kernel._curves("forward", False, "fp8"):
        raise PlanInputError(f"--kernel {name}: no published benchmark of it on {gpu_name} ({arch}) in the kernel data")
    return kernel


@lru_cache(maxsize=None)
def _gemm_table() -> tuple[np.ndarray, np.ndarray]:
    """(log2 of [M, N, K] per point, efficiency per point) of the reference table."""
    ref = _data("gemm")["reference_table"]
    points = np.array(ref["points"], dtype=float)
    shapes = np.column_stack([points[:, 0] * points[:, 1], points[:, 2], points[:, 3]])
    return np.log2(shapes), points[:, 4] / ref["measured_on"]["peak_tflops"]


def _gemm_scale(arch: str, precision: str) -> float:
    logs, effs = _gemm_table()
    anchor = float(effs[np.all(logs == np.log2(ANCHOR_GEMM_DIM), axis=1)][0])
    for entry in _data("gemm")["large_gemm_efficiency"]:
        if entry["arch"] == arch and entry["precision"] == precision:
            return entry["efficiency"] / anchor
    raise PlanInputError(f"no {precision} GEMM benchmark for {arch} in the kernel data")


def _fold_output_dims(query: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Move what M or N exceeds the table by onto the other (log2): M x N output tiles set a GEMM's
    parallelism, so (2048, 25600, k) runs like (12800, 4096, k), not like (2048, 4096, k)."""
    m, n, k = query[..., 0], query[..., 1], query[..., 2]
    m, n = m + np.maximum(n - top[1], 0), n + np.maximum(m - top[0], 0)
    return np.stack([m, n, k], axis=-1)


def distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows, index of each row among them): np.unique(axis=0) without its slow row sort,
    by numbering each column's values and then the combined numbers (all 1-D sorts)."""
    codes = np.zeros(len(rows), dtype=np.int64)
    for column in rows.T:
        values, inverse = np.unique(column, return_inverse=True)
        codes = codes * len(values) + inverse.reshape(-1)
    _, first, index = np.unique(codes, return_index=True, return_inverse=True)
    return rows[first], index.reshape(-1)


def gemm_efficiency(m, n, k, gpu_name: str, precision: str = "bf16") -> np.ndarray:
    """Fraction of the ``precision`` peak a GEMM of shape (m, n, k) reaches (arrays broadcast)."""
    arch = architecture(gpu_name)
    if arch is None:
        raise PlanInputError(f"no kernel benchmarks for {gpu_name}")
    logs, effs = _gemm_table()
    query = np.stack(np.broadcast_arrays(*(np.log2(np.maximum(np.asarray(v, dtype=float), 1.0)) for v in (m, n, k))), axis=-1)
    # A layout search asks for ~10^5 layouts but only a few distinct shapes: interpolate each shape once.
    shapes, index = distinct_rows(query.reshape(-1, 3))
    shapes = np.clip(_fold_output_dims(shapes, logs.max(axis=0)), logs.min(axis=0), logs.max(axis=0))
    distance = np.linalg.norm(shapes[:, None, :] - logs, axis=-1)
    nearest = np.argsort(distance, axis=-1)[:, :GEMM_IDW_NEIGHBOURS]
    weights = 1.0 / np.maximum(np.take_along_axis(distance, nearest, axis=-1), 1e-9) ** GEMM_IDW_POWER
    value = (weights * effs[nearest]).sum(axis=-1) / weights.sum(axis=-1)
    return np.minimum(value[index.reshape(-1)].reshape(query.shape[:-1]) * _gemm_scale(arch, precision), MAX_EFFICIENCY)
