"""FLOP/s a GPU reaches on each kind of work of a training step: kernel tables x the fitted derate.

On a GPU with kernel tables (estimators/time/kernels.py): trained GEMMs run at the plan's precision (FP8 GEMMs
at their own efficiency on the FP8 peak), frozen encoders and the layers outside the blocks (embedders,
head) in BF16 (Transformer Engine's FP8 recipes keep them in higher precision), attention at the chosen
kernel's precision for each pass (BF16 unless the kernel has an FP8 version of that pass). Without tables
(a CPU profile), the profile's measured saturating curves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from estimators.errors import PlanInputError
from estimators.specs.hardware import GPUSpec
from estimators.specs.profile import DeviceProfile
from estimators.time.kernels import UNFUSED, AttentionKernel, attention_kernel, default_kernel, gemm_efficiency

HIGH_PRECISION = "bf16"  # what a GPU runs outside the FP8 GEMMs


@dataclass(frozen=True)
class ComputeRates:
    """Achieved FLOP/s by kind of work, for one GPU, profile, attention kernel and precision."""

    gpu: GPUSpec
    profile: DeviceProfile
    kernel: AttentionKernel | None  # None: the profile's curves (no kernel tables for this device)
    precision: str

    def gemm(self, m, n, k, precision: str | None = None) -> np.ndarray:
        """FLOP/s of GEMMs of shape (m, n, k) at ``precision`` (default: the plan's)."""
        precision = precision or self.precision
        if self.kernel is None:
            return self.gpu.peak_flops(self.precision) * self.profile.matmul_efficiency(n)
        return self.gpu.peak_flops(precision) * gemm_efficiency(m, n, k, self.gpu.name, precision) * self.profile.compute_derate

    def high_precision_gemm(self, m, n, k) -> np.ndarray:
        """FLOP/s of GEMMs that stay in BF16 under an FP8 plan (embedders, head, frozen encoders)."""
        return self.gemm(m, n, k, self.precision if self.kernel is None else HIGH_PRECISION)

    def attention_precision(self, direction: str) -> str:
        """Precision the attention kernel runs ``direction`` in under this plan."""
        if self.kernel is None:
            return self.precision
        return self.kernel.runs_in(direction, self.precision)

    def attention(self, seq, head_dim: int, heads_local, direction: str, causal: bool) -> np.ndarray:
        """FLOP/s of attention over sequences ``seq`` (in the kernel's own FLOP convention)."""
        if self.kernel is None:
            return self.gpu.peak_flops(self.precision) * self.profile.attention_efficiency(seq)
        if self.kernel.name == UNFUSED:
            # the score and value products are batched GEMMs (heads x rows, s, d) in BF16
            return self.high_precision_gemm(np.asarray(seq) * heads_local, seq, head_dim)
        precision = self.attention_precision(direction)
        eff = self.kernel.efficiency(seq, head_dim, direction, causal, self.precision)
        return self.gpu.peak_flops(precision) * eff * self.profile.compute_derate


def compute_rates(gpu: GPUSpec, profile: DeviceProfile, kernel: str | None, precision: str) -> ComputeRates:
    """Rates for a plan; ``kernel`` None takes the GPU's default kernel (none on devices without tables)."""
    name = kernel or default_kernel(gpu.name)
    if name is None and (profile.matmul_efficiency_max is None or profile.attention_efficiency_max is None):
        raise PlanInputError(f"{gpu.name}: no kernel benchmarks in data/kernels and no measured efficiency curves in its profile")
    return ComputeRates(gpu, profile, None if name is None else attention_kernel(name, gpu.name, precision), precision)


class ReadsComputeRates:
    """For a settings object holding ``rates`` (a ComputeRates): its GPU, device profile and precision, read through
    them (the training step's RunSettings and the serving Machine alike)."""

    @property
    def gpu(self) -> GPUSpec:
        return self.rates.gpu

    @property
    def profile(self) -> DeviceProfile:
        return self.rates.profile

    @property
    def precision(self) -> str:
        return self.rates.precision
