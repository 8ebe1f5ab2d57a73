"""One device a replica runs on, resolved once: its compute rates (kernel tables or measured curves, the
training profile's derates), its serving figures (host link, 3D-convolution efficiency, host cores) and
the container encoder's rate."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from estimators.catalog.profiles import load_profile
from estimators.catalog.serving import container_encoding, serving_device, tf32_peak_per_bf16_peak
from estimators.specs.hardware import GPUSpec
from estimators.specs.profile import DeviceProfile
from estimators.specs.serving import ContainerEncoding, ServingDevice
from estimators.time.comm import Fabric, collective_time_s
from estimators.time.compute_rates import ComputeRates, ReadsComputeRates, compute_rates
from estimators.time.kernels import architecture, available_kernels, default_kernel
from estimators.units import BF16_BYTES, FP32_BYTES

PRECISION_BYTES = {"fp32": FP32_BYTES, "bf16": BF16_BYTES, "fp16": BF16_BYTES, "fp8": BF16_BYTES}


@dataclass(frozen=True)
class Machine(ReadsComputeRates):
    """A device and what serving reads of it."""

    rates: ComputeRates
    device: ServingDevice
    encoding: ContainerEncoding
    tf32_ratio: float

    def collective_s(self, kind: str, buffer_bytes: float, ranks: int) -> float:
        """Seconds of one collective over ``ranks`` GPUs of a replica, as NCCL / RCCL's tuner times it on the
        kind's published bus bandwidths (a replica of up to 8 GPUs stays in one scale-up domain when the
        domain holds it, else it crosses NICs as training's groups do). One rank costs nothing."""
        if ranks <= 1:
            return 0.0
        fabric = Fabric.of(self.gpu, self.profile.links)
        return float(collective_time_s(kind, buffer_bytes, ranks, min(ranks, fabric.domain), fabric))

    @property
    def activation_bytes(self) -> int:
        """Bytes of an activation in the DiT (FP8 GEMMs still pass BF16 activations between them)."""
        return PRECISION_BYTES[self.precision]

    @property
    def hbm_bytes_per_s(self) -> float:
        """Achieved memory bandwidth of element-wise ops."""
        return self.gpu.hbm_bandwidth_bytes_per_s.value * self.profile.memory_efficiency

    def dense_peak_flops(self, precision: str) -> float:
        """Dense peak of a VAE precision: fp32 runs TF32 tensor cores on a GPU, plain fp32 on a CPU."""
        if precision == "fp32":
            figure = self.gpu.peak_flops_fp32
            if figure is not None and figure.value is not None:
                return figure.value
            return self.gpu.peak_flops("bf16") * self.tf32_ratio
        bf16 = self.gpu.peak_flops_bf16.value
        return bf16 if bf16 is not None else self.gpu.peak_flops("fp32")


def serving_kernel_for(gpu_name: str, precision: str, typed: Optional[str], official: str) -> Optional[str]:
    """The attention kernel on a GPU: the one typed (refused where it cannot run, as training refuses it), else
    the model's official one where it runs with a published benchmark, else the GPU's own default as training
    takes it (FlashAttention-2 has no B200 benchmark: cuDNN there). None for a device without kernel tables
    (a measured CPU uses its profile's curves)."""
    if not architecture(gpu_name):
        return None
    if typed:
        return typed
    return official if official in available_kernels(gpu_name, precision) else default_kernel(gpu_name)


def gpu_machine(gpu: GPUSpec, precision: str, kernel: Optional[str], profile: Optional[DeviceProfile] = None,
                device: Optional[ServingDevice] = None) -> Machine:
    """A GPU kind with its bundled profile and serving figures (or the ones given: a measured CPU)."""
    profile = profile or load_profile(gpu.name)
    return Machine(rates=compute_rates(gpu, profile, kernel, precision), device=device or serving_device(gpu),
                   encoding=container_encoding(), tf32_ratio=tf32_peak_per_bf16_peak())
