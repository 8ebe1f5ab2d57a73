"""A parallel layout: how the GPUs of a cluster split the work."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, PositiveInt

from estimators.specs.base import Spec

Recompute = Literal["none", "selective", "full"]
ZeroStage = Literal[0, 1, 2, 3]


class Layout(Spec):
    """Degrees of each parallelism and the memory-saving knobs. tp x pp x cp x dp = GPUs."""

    tp: PositiveInt = Field(default=1, description="Tensor-parallel degree.")
    pp: PositiveInt = Field(default=1, description="Pipeline-parallel stages.")
    cp: PositiveInt = Field(default=1, description="Context-parallel degree (the token sequence split).")
    dp: PositiveInt = Field(default=1, description="Data-parallel degree.")
    zero: ZeroStage = Field(default=1, description="ZeRO stage over data parallel (3 = FSDP full shard).")
    micro_batch: PositiveInt = Field(default=1, description="Clips a GPU processes per forward/backward.")
    recompute: Recompute = Field(default="full", description="Activation recomputation: none, selective, full.")
    vpp: PositiveInt = Field(default=1, description="Virtual pipeline stages a GPU (interleaved 1F1B).")
    cp_kind: Literal["ulysses", "ring"] = Field(default="ulysses", description="Context-parallel algorithm.")
    recompute_layers: Optional[PositiveInt] = Field(
        default=None,
        description="Layers of each pipeline stage recomputed the recompute way, the rest saving everything (Megatron-Core "
        "recompute_num_layers with recompute_method block); None: every layer of the stage.",
    )
    offload: bool = Field(
        default=False,
        description="Saved activations of the layers not recomputed are copied to host memory in forward and back in backward "
        "(timed over the GPU's host link); two layers' worth stay on the GPU.",
    )
    sp: bool = Field(
        default=True,
        description="Sequence parallelism with tensor parallelism (Korthikanti et al. 2022): norms, residuals and dropout run on "
        "tokens/tp, so tensor parallelism splits every saved activation; false: those stay whole on every tensor-parallel rank.",
    )
    optimizer_offload: bool = Field(
        default=False,
        description="AdamW moments and any fp32 master copy live in host memory and the optimizer steps on the CPU (ZeRO-Offload, "
        "Ren et al. 2021): gradients go to the host and updated weights come back over the GPU's host link every step.",
    )

    @property
    def num_gpus(self) -> int:
        """GPUs the layout occupies."""
        return self.tp * self.pp * self.cp * self.dp

    @property
    def label(self) -> str:
        """Compact text, e.g. 'tp2 cp4 pp1 dp64 z2 mb1 none ring' or 'tp1 cp4 pp2 dp64 z1 mb1 fullx6 offload ring' (partial
        recompute of 6 layers a stage, activations offloaded): the one way every output writes a layout."""
        kind = f" {self.cp_kind}" if self.cp > 1 else ""
        vpp = f" v{self.vpp}" if self.vpp > 1 else ""
        partial = f"x{self.recompute_layers}" if self.recompute_layers is not None and self.recompute != "none" else ""
        offload = " offload" if self.offload else ""
        return (f"tp{self.tp} cp{self.cp} pp{self.pp}{vpp} dp{self.dp} z{self.zero} mb{self.micro_batch} "
                f"{self.recompute}{partial}{offload}{kind}")
