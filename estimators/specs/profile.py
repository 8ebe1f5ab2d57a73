"""Device profiles: what published kernel benchmarks and datasheets cannot give, with provenance.

A profile is a data file (``data/profiles/<GPU>.yaml``, loaded by catalog/profiles.py) saying how each figure was obtained and, for
fitted ones, which calibration rows they were fitted to (``benchmarks/fit_profiles.py``).

On GPUs with kernel tables (estimators/time/kernels.py) compute time comes from those tables times one
fitted ``compute_derate``; the saturating curves eff(x) = eff_max * x / (x + x_half) (a roofline whose
fixed per-kernel overhead is amortised over the work size x; Williams et al. 2009) are used only by
devices without tables (the CPU reference model, measured by `plan profile`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from pydantic import Field

from estimators.specs.base import Spec


@dataclass(frozen=True)
class LinkProfile:
    """Achievable fraction of each tier's bandwidth and the per-step latency (from a device profile)."""

    nvlink_efficiency: float
    nic_efficiency: float
    nvlink_latency_s: float
    nic_latency_s: float


class DeviceProfile(Spec):
    """Achieved fractions of a GPU's datasheet peaks."""

    gpu: str = Field(description="GPU name the profile applies to.")
    provenance: str = Field(description="How the figures were obtained (fit, measurement, assumption).")
    date: str = Field(description="When they were obtained.")
    fitted: tuple[str, ...] = Field(default=(), description="Names of the figures fitted to calibration rows.")
    fitted_rows: tuple[str, ...] = Field(default=(), description="Calibration-file row ids the fitted figures were fitted to.")
    compute_derate: float = Field(
        default=1.0, gt=0, le=1,
        description="Fraction of the published kernel-benchmark throughput a GEMM or attention kernel keeps inside a "
        "training step (clocks under sustained power, launch gaps, cache pollution); 1 where curves are measured in place.",
    )
    matmul_efficiency_max: Optional[float] = Field(default=None, gt=0, le=1, description="Large-GEMM fraction of peak (devices without kernel tables).")
    matmul_half_dim: Optional[float] = Field(default=None, ge=0, description="Matmul width at which efficiency is half of max.")
    attention_efficiency_max: Optional[float] = Field(default=None, gt=0, le=1, description="Long-sequence attention fraction of peak (devices without kernel tables).")
    attention_half_seq: Optional[float] = Field(default=None, ge=0, description="Sequence length at which attention efficiency halves.")
    memory_efficiency: float = Field(gt=0, le=1, description="Achieved fraction of HBM bandwidth for element-wise ops.")
    nvlink_efficiency: Optional[float] = Field(
        default=None, gt=0, le=1, description="Measured fraction of the scale-up link's one-way bandwidth (devices without "
        "published collective figures, e.g. the CPU reference model; GPUs use their published bus bandwidths).")
    nic_efficiency: Optional[float] = Field(default=None, gt=0, le=1, description="Measured fraction of NIC bandwidth (as above).")
    nvlink_latency_s: Optional[float] = Field(default=None, ge=0, description="Measured latency of one ring step inside a node (as above).")
    nic_latency_s: Optional[float] = Field(default=None, ge=0, description="Measured latency of one ring step across nodes (as above).")
    layer_overhead_s: float = Field(
        default=0.0, ge=0,
        description="Fixed seconds a layer costs per pass beyond its FLOPs and bytes (kernel launches, framework "
        "dispatch); negligible for large GPU layers (0 where not measured), large for small CPU layers.",
    )
    selective_recompute_overhead_s: float = Field(
        default=0.0, ge=0,
        description="Extra seconds a layer costs per micro-batch under selective recompute (the checkpoint "
        "machinery that decides op by op what to keep); 0 where not measured.",
    )

    @property
    def links(self) -> Optional[LinkProfile]:
        """The measured link part, as the communication model takes it (None: use the GPU's published figures)."""
        values = (self.nvlink_efficiency, self.nic_efficiency, self.nvlink_latency_s, self.nic_latency_s)
        return None if any(v is None for v in values) else LinkProfile(*values)

    def matmul_efficiency(self, dim):
        """Fraction of peak for matmuls whose per-GPU width is ``dim`` (scalar or array)."""
        dim = np.asarray(dim, dtype=float)
        return self.matmul_efficiency_max * dim / (dim + self.matmul_half_dim)

    def attention_efficiency(self, seq):
        """Fraction of peak for flash attention over sequences of ``seq`` tokens."""
        seq = np.asarray(seq, dtype=float)
        return self.attention_efficiency_max * seq / (seq + self.attention_half_seq)
