"""A parallel layout: how the GPUs of a cluster split the work."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from estimators.specs.base import Spec

Recompute = Literal["none", "selective", "full"]
ZeroStage = Literal[0, 1, 2, 3]


class Layout(Spec):
    """Degrees of each parallelism and the memory-saving knobs. tp x pp x cp x dp = GPUs."""

    tp: PositiveInt = Field(default=1, description="Tensor-parallel degree (with sequence parallelism).")
    pp: PositiveInt = Field(default=1, description="Pipeline-parallel stages.")
    cp: PositiveInt = Field(default=1, description="Context-parallel degree (the token sequence split).")
    dp: PositiveInt = Field(default=1, description="Data-parallel degree.")
    zero: ZeroStage = Field(default=1, description="ZeRO stage over data parallel (3 = FSDP full shard).")
    micro_batch: PositiveInt = Field(default=1, description="Clips a GPU processes per forward/backward.")
    recompute: Recompute = Field(default="full", description="Activation recomputation: none, selective, full.")
    vpp: PositiveInt = Field(default=1, description="Virtual pipeline stages a GPU (interleaved 1F1B).")
    cp_kind: Literal["ulysses", "ring"] = Field(default="ulysses", description="Context-parallel algorithm.")

    @property
    def num_gpus(self) -> int:
        """GPUs the layout occupies."""
        return self.tp * self.pp * self.cp * self.dp

    @property
    def label(self) -> str:
        """Compact text, e.g. 'tp2 cp4 pp1 dp64 z2 mb1 none ring' (the one way every output writes a layout)."""
        kind = f" {self.cp_kind}" if self.cp > 1 else ""
        vpp = f" v{self.vpp}" if self.vpp > 1 else ""
        return f"tp{self.tp} cp{self.cp} pp{self.pp}{vpp} dp{self.dp} z{self.zero} mb{self.micro_batch} {self.recompute}{kind}"
