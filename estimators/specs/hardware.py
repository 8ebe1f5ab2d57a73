"""Accelerator specs. Hardware is data: every figure carries its source and the date it was read."""
from __future__ import annotations

import datetime
from typing import Annotated, Optional

from pydantic import Field

from estimators.specs.base import Spec
from estimators.specs.bounds import Bound

# 2^20 GPUs is five times the largest cluster announced by 2025; the layout search of a cluster grows with
# the divisors of its size (estimators/search/layout_search.py bounds the layouts themselves).
MAX_GPUS = 1_048_576


class Figure(Spec):
    """One datasheet figure in SI units, with provenance."""

    value: Optional[float] = Field(description="The figure in SI units; null where the part lacks it.")
    source: str = Field(description="Document the figure was read from.")
    date: datetime.date = Field(description="Date it was read (ISO).")
    low: Optional[float] = Field(default=None, description="Low end of a quoted range.")
    high: Optional[float] = Field(default=None, description="High end of a quoted range.")


class GPUSpec(Spec):
    """One GPU type in its standard node."""

    name: str = Field(description="Canonical name, used in --gpus NAMExCOUNT.")
    aliases: tuple[str, ...] = Field(default=(), description="Other names accepted on the command line.")
    description: str = Field(description="What exactly this entry describes.")
    peak_flops_bf16: Figure = Field(description="Dense BF16 Tensor Core peak, FLOP/s.")
    peak_flops_fp8: Figure = Field(description="Dense FP8 Tensor Core peak, FLOP/s (null: none).")
    peak_flops_fp32: Optional[Figure] = Field(default=None, description="FP32 peak, FLOP/s (CPU profiles; GPUs train in bf16/fp8).")
    hbm_bytes: Figure = Field(description="Device memory, bytes.")
    hbm_bandwidth_bytes_per_s: Figure = Field(description="Device memory bandwidth, bytes/s.")
    nvlink_bytes_per_s_per_direction: Figure = Field(description="NVLink bandwidth one way, bytes/s.")
    nic_bytes_per_s: Figure = Field(description="Scale-out network per GPU, bytes/s (400 Gb/s = 50e9).")
    gpus_per_node: Figure = Field(description="GPUs sharing one NVLink domain.")
    board_power_w: Figure = Field(description="Board power, watts.")
    price_usd_per_gpu_hour: Figure = Field(description="Rental price per GPU-hour, US dollars.")
    host_link_bytes_per_s_per_direction: Optional[Figure] = Field(
        default=None, description="GPU-to-host link one way, bytes/s (PCIe; activation offload is timed over it; null: no offload)."
    )

    def peak_flops(self, precision: str) -> float:
        """Dense peak for 'bf16', 'fp8' or 'fp32'; raises for a precision the part lacks."""
        figure = {"fp8": self.peak_flops_fp8, "fp32": self.peak_flops_fp32}.get(precision, self.peak_flops_bf16)
        if figure is None or figure.value is None:
            from estimators.errors import PlanInputError

            raise PlanInputError(f"{self.name} has no {precision} tensor cores")
        return figure.value

    @property
    def node_size(self) -> int:
        """GPUs per node as an integer."""
        return int(self.gpus_per_node.value)


class Cluster(Spec):
    """A homogeneous cluster: a GPU type and a count."""

    gpu: GPUSpec = Field(description="GPU type.")
    num_gpus: Annotated[int, Bound(1, MAX_GPUS, unit="GPUs")] = Field(description="Total GPUs.")
