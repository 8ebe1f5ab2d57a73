"""Kernel efficiencies from published benchmarks (data/kernels/*.yaml): attention and GEMMs, per GPU kind.

Attention: a curve per (kernel, architecture, direction, causal mask, precision, head dim) of TFLOP/s
against sequence length, as the benchmark plots it, as a fraction of the peak of the GPU it was measured
on; a GPU prefers the curves measured on itself, else its architecture's. The efficiency at a sequence
length is interpolated linearly in log2(seq) between the two nearest points of the curve (clamped to its
ends: long sequences have plateaued in every published figure); between head dims, linearly in
log2(head dim) of the two nearest curves (clamped). A causal query takes the non-causal efficiency at its
head dim times the causal/non-causal ratio of the head dims where one GPU's runs publish both (interpolated
in log2 head dim, clamped; a ratio never mixes two GPUs' figures), unless a causal curve was measured on
the GPU itself; a direction without causal curves borrows the same kernel's forward ratio. A backward
query without a curve for that precision uses the BF16 backward (FlashAttention-3 has no FP8 backward).

Which kernels run where is data too (each kernel's runs_on): one asked for where it does not run, or
without a published benchmark there, or an FP8 kernel under BF16, is refused with the kernels that can.

GEMMs: measured TFLOP/s by shape (M, N, K), interpolated by inverse distance weighting (Shepard 1968, power
GEMM_IDW_POWER, the GEMM_IDW_NEIGHBOURS nearest points) in log2 space, after folding what M or N exceeds
the table by onto the other (M x N output tiles set a GEMM's parallelism) and clamping the query to the
table's range. A GPU uses its architecture's own table for the precision where there is one, else the H100
reference table's shape; a cited large-GEMM efficiency (by GPU, then architecture) scales the table so
that its 4096^3 point equals it.

A GPU whose tensor cores are throttled against the sibling whose tables it reads (H20 against H100:
attention.yaml's tensor_rate_transfers) has every attention and GEMM efficiency carried over by the
tensor-core-rate rule: with r its tensor-core rate per SM over the sibling's, the sibling's non-math time
stays while its math time grows by 1/r, so e becomes 1 / (1 + (1/e - 1) r) (serial: the conservative bound).

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
ANCHOR_GEMM_DIM = 4096  # every table's largest cube, where cited efficiencies attach
EVERY_ARCHITECTURE = "all"
REFERENCE = "reference"


@lru_cache(maxsize=None)
def _data(name: str) -> dict:
    return read_data("kernels", f"{name}.yaml")


def architecture(gpu_name: str) -> str | None:
    """The architecture whose kernel tables apply to a GPU, or None (no tables: e.g. a CPU profile)."""
    for arch, entry in _data("attention")["architectures"].items():
        if gpu_name in entry["gpus"]:
            return arch
    return None


def kernel_transfer(gpu_name: str) -> str | None:
    """How a GPU's kernel efficiencies were transferred from a sibling's benchmarks, or None (its own)."""
    arch = architecture(gpu_name)
    return None if arch is None else _data("attention")["architectures"][arch].get("transfers", {}).get(gpu_name)


def tensor_rate_ratio(gpu_name: str, precision: str) -> float | None:
    """r = (peak / SMs of the GPU) / (peak / SMs of the sibling whose tables it reads) in ``precision``,
    where the data states a tensor-core-rate transfer for the GPU, else None."""
    arch = architecture(gpu_name)
    entry = None if arch is None else _data("attention")["architectures"][arch].get("tensor_rate_transfers", {}).get(gpu_name)
    if entry is None:
        return None
    own_per_sm = entry["peak_tflops"][precision] / entry["sms"]["value"]
    sibling_per_sm = entry["sibling_peak_tflops"][precision] / entry["sibling_sms"]["value"]
    return own_per_sm / sibling_per_sm


def serial_rate_transfer(efficiency, ratio: float) -> np.ndarray:
    """Efficiency on a GPU whose tensor-core rate per SM is ``ratio`` times the sibling's, from the
    sibling's: its non-math time (1/e - 1 per unit of math) stays, its math time grows by 1/ratio, the two
    run one after the other, so e' = 1 / (1 + (1/e - 1) ratio) = e / (e + (1 - e) ratio)."""
    e = np.asarray(efficiency, dtype=float)
    return e / (e + (1.0 - e) * ratio)


def transferred_efficiency(efficiency, gpu_name: str, precision: str) -> np.ndarray:
    """A sibling's efficiency as this GPU reaches it (unchanged unless its tensor cores are throttled)."""
    ratio = tensor_rate_ratio(gpu_name, precision)
    return np.asarray(efficiency, dtype=float) if ratio is None else serial_rate_transfer(efficiency, ratio)


def kernel_names() -> tuple[str, ...]:
    """Every attention kernel the data names."""
    return tuple(_data("attention")["kernels"])


def kernel_description(name: str) -> str:
    """What the data says a kernel is."""
    return _data("attention")["kernels"][name]["description"]


def kernel_precision(name: str) -> str:
    """The precision a kernel's forward runs in ('bf16' unless it is an FP8 kernel)."""
    return _data("attention")["kernels"][name].get("precision", "bf16")


def default_kernel(gpu_name: str) -> str | None:
    """The attention kernel a plan on this GPU uses unless told otherwise."""
    arch = architecture(gpu_name)
    return None if arch is None else _data("attention")["defaults"][arch]["kernel"]


def runs_on(name: str, arch: str) -> bool:
    """Whether the kernel exists on the architecture (its own documentation)."""
    where = _data("attention")["kernels"][name]["runs_on"]
    return where == EVERY_ARCHITECTURE or arch in where


def _curve_arch(arch: str) -> str:
    """The architecture whose curves a GPU of ``arch`` reads (a transfer names a sibling's)."""
    return _data("attention")["architectures"][arch].get("same_efficiency_as", arch)


def _peak_tflops(curve: dict) -> float:
    """Peak of the GPU a curve was measured on, in the curve's precision."""
    data = _data("attention")
    gpu = curve.get("measured_on")
    measured = data["measured_gpus"][gpu] if gpu else data["architectures"][curve["arch"]]["measured_on"]
    return measured[f"peak_tflops_{curve['precision']}"]


def _curve_source(curve: dict) -> str:
    """The GPU a curve was measured on."""
    return curve.get("measured_on") or _data("attention")["architectures"][curve["arch"]]["measured_on"]["gpu"]


def _interp_log2(x, xs, ys) -> np.ndarray:
    return np.interp(np.log2(np.maximum(np.asarray(x, dtype=float), 1.0)), np.log2(xs), ys)


def _by_head_dim(curves: list[dict], gpu_name: str) -> dict[int, dict]:
    """One curve per head dim: the one measured on this GPU where there is one, else the first listed."""
    chosen: dict[int, dict] = {}
    for curve in curves:
        dim = curve["head_dim"]
        if dim not in chosen or (_curve_source(curve) == gpu_name and _curve_source(chosen[dim]) != gpu_name):
            chosen[dim] = curve
    return dict(sorted(chosen.items()))


def _over_head_dims(per_dim: dict[int, np.ndarray], head_dim: int) -> np.ndarray:
    """Values known at some head dims, interpolated linearly in log2(head dim), clamped."""
    dims = list(per_dim)
    values = list(per_dim.values())
    if len(dims) == 1:
        return values[0]
    position = np.interp(np.log2(head_dim), np.log2(dims), np.arange(len(dims)))
    low = int(np.floor(position))
    high = min(low + 1, len(dims) - 1)
    weight = position - low
    return (1 - weight) * values[low] + weight * values[high]


@dataclass(frozen=True)
class AttentionKernel:
    """One attention kernel on one GPU: efficiency by sequence length for a head dim."""

    name: str
    arch: str
    gpu: str = ""

    def _all_curves(self, direction: str, causal: bool, precision: str) -> list[dict]:
        name = self.name
        if precision == "bf16":
            name = _data("attention")["kernels"][name].get("bf16_passes_from", name)
        arch = _curve_arch(self.arch)
        return [c for c in _data("attention")["curves"] if c["kernel"] == name and c["arch"] == arch
                and c["direction"] == direction and c["causal"] == causal and c["precision"] == precision]

    def _curves(self, direction: str, causal: bool, precision: str) -> dict[int, dict]:
        return _by_head_dim(self._all_curves(direction, causal, precision), self.gpu)

    @staticmethod
    def _efficiency(curve: dict, seq) -> np.ndarray:
        return _interp_log2(seq, curve["seq"], np.array(curve["tflops"]) / _peak_tflops(curve))

    def has_data(self) -> bool:
        """Whether a published forward curve exists for this kernel on this GPU's architecture."""
        return any(self._curves("forward", causal, kernel_precision(self.name)) for causal in (False, True))

    def runs_in(self, direction: str, precision: str) -> str:
        """Precision this kernel runs a pass in when the plan asks for ``precision``."""
        if precision == "fp8" and (self._curves(direction, False, "fp8") or self._curves(direction, True, "fp8")):
            return "fp8"
        return "bf16"

    def _causal_ratios(self, direction: str, run: str, seq) -> dict[int, np.ndarray]:
        """Causal / non-causal efficiency at each head dim where one GPU's runs publish both (a ratio never
        mixes two GPUs' or two software versions' figures): this GPU's own runs first (a direction without
        any borrows its forward ratio), then a sibling's."""
        for own_only in (True, False):
            for source_direction, source_run in ((direction, run), ("forward", run), ("forward", "bf16")):
                plain = self._all_curves(source_direction, False, source_run)
                ratios = {}
                for c in self._all_curves(source_direction, True, source_run):
                    if own_only and _curve_source(c) != self.gpu:
                        continue
                    match = [p for p in plain if p["head_dim"] == c["head_dim"] and _curve_source(p) == _curve_source(c)]
                    if match and c["head_dim"] not in ratios:
                        ratios[c["head_dim"]] = self._efficiency(c, seq) / self._efficiency(match[0], seq)
                if ratios:
                    return dict(sorted(ratios.items()))
        raise PlanInputError(f"attention kernel {self.name}: no causal benchmark on {self.arch} to scale its non-causal one by")

    def _causal(self, direction: str, run: str, seq, plain: dict[int, dict]) -> dict[int, np.ndarray]:
        """Causal efficiency at each head dim: a causal curve measured on this GPU where there is one, else
        the non-causal curve times the causal/non-causal ratio interpolated over head dims."""
        own = {c["head_dim"]: c for c in self._all_curves(direction, True, run) if _curve_source(c) == self.gpu}
        ratios = None
        out = {}
        for dim, curve in plain.items():
            if dim in own:
                out[dim] = self._efficiency(own[dim], seq)
                continue
            ratios = ratios if ratios is not None else self._causal_ratios(direction, run, seq)
            out[dim] = self._efficiency(curve, seq) * _over_head_dims(ratios, dim)
        return out

    def efficiency(self, seq, head_dim: int, direction: str, causal: bool = False, precision: str = "bf16") -> np.ndarray:
        """Fraction of the peak of ``runs_in(direction, precision)`` at sequence length(s) ``seq``."""
        run = self.runs_in(direction, precision)
        return transferred_efficiency(self._sibling_efficiency(seq, head_dim, direction, causal, run), self.gpu, run)

    def _sibling_efficiency(self, seq, head_dim: int, direction: str, causal: bool, run: str) -> np.ndarray:
        """Efficiency as the curves give it (the GPU they were measured on), in precision ``run``."""
        plain = self._curves(direction, False, run)
        if not plain:
            only_causal = self._curves(direction, True, run) if causal else {}
            if not only_causal:
                raise PlanInputError(f"attention kernel {self.name} has no {'causal ' if causal else ''}{direction} data on {self.arch}")
            return _over_head_dims({dim: self._efficiency(c, seq) for dim, c in only_causal.items()}, head_dim)
        if causal:
            return _over_head_dims(self._causal(direction, run, seq, plain), head_dim)
        return _over_head_dims({dim: self._efficiency(c, seq) for dim, c in plain.items()}, head_dim)


def available_kernels(gpu_name: str, precision: str = "bf16") -> tuple[str, ...]:
    """Kernels that run on this GPU with a published benchmark there, and suit the plan's precision."""
    arch = architecture(gpu_name)
    if arch is None:
        return ()
    names = []
    for name in kernel_names():
        if not runs_on(name, arch) or (kernel_precision(name) == "fp8" and precision != "fp8"):
            continue
        if name == UNFUSED or AttentionKernel(name, arch, gpu_name).has_data():
            names.append(name)
    return tuple(names)


def attention_kernel(name: str, gpu_name: str, precision: str | None = None) -> AttentionKernel:
    """The named kernel on a GPU; one-line refusal when it does not run there, has no published benchmark
    there, or runs FP8 under a BF16 plan (``precision`` None skips that check)."""
    arch = architecture(gpu_name)
    if name not in kernel_names():
        raise PlanInputError(f"--kernel {name}: expected one of {', '.join(kernel_names())}")
    if arch is None:
        raise PlanInputError(f"no kernel benchmarks for {gpu_name}")
    usable = ", ".join(available_kernels(gpu_name, precision or "bf16"))
    kernel = AttentionKernel(name, arch, gpu_name)
    if not runs_on(name, arch):
        where = _data("attention")["kernels"][name].get("where", f"it runs on {', '.join(_data('attention')['kernels'][name]['runs_on'])}")
        raise PlanInputError(f"--kernel {name} does not run on {gpu_name} ({arch}): {where}; kernels there: {usable}")
    if name != UNFUSED and not kernel.has_data():
        raise PlanInputError(f"--kernel {name}: no published benchmark of it on {gpu_name} ({arch}) in the kernel data; kernels there: {usable}")
    if precision is not None and kernel_precision(name) == "fp8" and precision != "fp8":
        raise PlanInputError(f"--kernel {name} runs attention in FP8: it needs --precision fp8 (under {precision}: {usable})")
    return kernel


@dataclass(frozen=True)
class GemmTable:
    """Measured shapes of one table: log2 of [M, N, K] per point and the efficiency at each."""

    logs: np.ndarray
    efficiencies: np.ndarray

    def anchor(self) -> float:
        """Efficiency at the 4096^3 point (single GEMM)."""
        return float(self.efficiencies[np.all(self.logs == np.log2(ANCHOR_GEMM_DIM), axis=1)][0])


def _table(points, peak_tflops: float) -> GemmTable:
    """A table's points as (M = b m, N, K); where several batch sizes give the same (M, N, K) the least
    batched one stands (a single GEMM is what the entry describes; the batched copies only extend M)."""
    points = np.array(sorted(points, key=lambda p: p[0]), dtype=float)
    shapes = np.column_stack([points[:, 0] * points[:, 1], points[:, 2], points[:, 3]])
    _, first = np.unique(shapes, axis=0, return_index=True)
    keep = np.sort(first)
    return GemmTable(np.log2(shapes[keep]), points[keep, 4] / peak_tflops)


@lru_cache(maxsize=None)
def _gemm_table(arch: str, precision: str) -> GemmTable:
    """The table of ``arch`` for ``precision`` (REFERENCE: the H100 reference table)."""
    if arch == REFERENCE:
        ref = _data("gemm")["reference_table"]
        return _table(ref["points"], ref["measured_on"]["peak_tflops"])
    table = _data("gemm")["tables"][arch]
    return _table(table["points"][precision], table["measured_on"]["peak_tflops"][precision])


def gemm_source(gpu_name: str, precision: str) -> tuple[str, str, float]:
    """(table a GPU's GEMMs read: its architecture or REFERENCE, that table's precision, the scale applied)."""
    arch = architecture(gpu_name)
    if arch is None:
        raise PlanInputError(f"no kernel benchmarks for {gpu_name}")
    tables = _data("gemm")["tables"]
    own = arch in tables and precision in tables[arch]["points"]
    source = arch if arch in tables else REFERENCE
    table_precision = precision if own else "bf16"
    entries = _data("gemm")["large_gemm_efficiency"]
    cited = [e for e in entries if e.get("gpu") == gpu_name and e["precision"] == precision]
    cited = cited or [e for e in entries if e.get("arch") == arch and e["precision"] == precision]
    if cited:
        return source, table_precision, cited[0]["efficiency"] / _gemm_table(source, table_precision).anchor()
    if own:
        return source, table_precision, 1.0
    raise PlanInputError(f"no {precision} GEMM benchmark for {gpu_name} ({arch}) in the kernel data")


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
    source, table_precision, scale = gemm_source(gpu_name, precision)
    table = _gemm_table(source, table_precision)
    logs, effs = table.logs, table.efficiencies
    query = np.stack(np.broadcast_arrays(*(np.log2(np.maximum(np.asarray(v, dtype=float), 1.0)) for v in (m, n, k))), axis=-1)
    # A layout search asks for ~10^5 layouts but only a few distinct shapes: interpolate each shape once.
    shapes, index = distinct_rows(query.reshape(-1, 3))
    shapes = np.clip(_fold_output_dims(shapes, logs.max(axis=0)), logs.min(axis=0), logs.max(axis=0))
    distance = np.linalg.norm(shapes[:, None, :] - logs, axis=-1)
    nearest = np.argsort(distance, axis=-1)[:, :GEMM_IDW_NEIGHBOURS]
    weights = 1.0 / np.maximum(np.take_along_axis(distance, nearest, axis=-1), 1e-9) ** GEMM_IDW_POWER
    value = (weights * effs[nearest]).sum(axis=-1) / weights.sum(axis=-1)
    sibling = np.minimum(value[index.reshape(-1)].reshape(query.shape[:-1]) * scale, MAX_EFFICIENCY)
    return transferred_efficiency(sibling, gpu_name, precision)
