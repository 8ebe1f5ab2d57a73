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
# Every datasheet figure and price is an amount, never negative (a negative price would print a negative cost); a
# price of 0 is a machine already owned (the CPU profile of the reference model).
Amount = Annotated[float, Bound(0, 1e30, why="no hardware figure or price comes near it")]


class Figure(Spec):
    """One datasheet figure in SI units, with provenance."""

    value: Optional[Amount] = Field(description="The figure in SI units; null where the part lacks it.")
    source: str = Field(description="Document the figure was read from.")
    date: datetime.date = Field(description="Date it was read (ISO).")
    low: Optional[Amount] = Field(default=None, description="Low end of a quoted range.")
    high: Optional[Amount] = Field(default=None, description="High end of a quoted range.")


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
    gpus_per_node: Figure = Field(description="GPUs in one server (clusters are whole servers; each GPU has its own NIC on its own rail).")
    board_power_w: Figure = Field(description="Board power, watts.")
    price_usd_per_gpu_hour: Figure = Field(description="Rental price per GPU-hour, US dollars.")
    nvlink_domain_gpus: Optional[Figure] = Field(
        default=None, description="GPUs sharing one scale-up domain (NVLink / NVSwitch, Infinity Fabric, or a PCIe server): "
        "8 in an HGX node, 72 in a GB200 NVL72 rack. Tensor parallelism stays inside it; null: one server.")
    scale_up_busbw_bytes_per_s: Optional[Figure] = Field(
        default=None, description="Published ring bus bandwidth (nccl-tests convention) inside the scale-up domain, bytes/s.")
    nvls_busbw_bytes_per_s: Optional[Figure] = Field(
        default=None, description="Published all-reduce bus bandwidth with in-switch reduction (NVLink SHARP), bytes/s; null: none.")
    nic_busbw_bytes_per_s: Optional[Figure] = Field(
        default=None, description="Published bus bandwidth one GPU's NIC carries across servers, bytes/s.")
    collective_library: Optional[str] = Field(default=None, description="NCCL or RCCL (whose algorithms time the collectives).")
    scale_up_fabric: str = Field(default="NVLink", description="Name of the scale-up link (NVLink, Infinity Fabric, PCIe).")
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
        """GPUs per server as an integer (clusters come in whole servers)."""
        return int(self.gpus_per_node.value)

    @property
    def domain_size(self) -> int:
        """GPUs in one scale-up (NVLink) domain: the largest tensor-parallel group, the edge past which a group
        crosses NICs."""
        figure = self.nvlink_domain_gpus
        return self.node_size if figure is None or figure.value is None else int(figure.value)


class Cluster(Spec):
    """A homogeneous cluster: a GPU type and a count."""

    gpu: GPUSpec = Field(description="GPU type.")
    num_gpus: Annotated[int, Bound(1, MAX_GPUS, unit="GPUs")] = Field(description="Total GPUs.")
