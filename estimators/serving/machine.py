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
from estimators.time.compute_rates import ComputeRates, compute_rates
from estimators.units import BF16_BYTES, FP32_BYTES

PRECISION_BYTES = {"fp32": FP32_BYTES, "bf16": BF16_BYTES, "fp16": BF16_BYTES, "fp8": BF16_BYTES}


@dataclass(frozen=True)
class Machine:
    """A device and what serving reads of it."""

    rates: ComputeRates
    device: ServingDevice
    encoding: ContainerEncoding
    tf32_ratio: float

    @property
    def gpu(self) -> GPUSpec:
        return self.rates.gpu

    @property
    def profile(self) -> DeviceProfile:
        return self.rates.profile

    @property
    def precision(self) -> str:
        return self.rates.precision

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


def gpu_machine(gpu: GPUSpec, precision: str, kernel: Optional[str], profile: Optional[DeviceProfile] = None,
                device: Optional[ServingDevice] = None) -> Machine:
    """A GPU kind with its bundled profile and serving figures (or the ones given: a measured CPU)."""
    profile = profile or load_profile(gpu.name)
    return Machine(rates=compute_rates(gpu, profile, kernel, precision), device=device or serving_device(gpu),
                   encoding=container_encoding(), tf32_ratio=tf32_peak_per_bf16_peak())
