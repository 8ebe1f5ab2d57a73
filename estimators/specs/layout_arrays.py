"""Many parallel layouts at once, as parallel numpy arrays, so a search evaluates them vectorised."""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from estimators.specs.layout import Layout

RECOMPUTE_CODES = {"none": 0, "selective": 1, "full": 2}
RECOMPUTE_NAMES = {code: name for name, code in RECOMPUTE_CODES.items()}
ALL_LAYERS = -1  # recompute_layers: every layer of the stage


@dataclass(frozen=True)
class LayoutArrays:
    """Column ``i`` of every array is one layout."""

    tp: np.ndarray
    pp: np.ndarray
    cp: np.ndarray
    dp: np.ndarray
    zero: np.ndarray
    micro_batch: np.ndarray
    recompute: np.ndarray  # RECOMPUTE_CODES
    vpp: np.ndarray
    cp_ring: np.ndarray  # bool: ring attention instead of Ulysses
    recompute_layers: np.ndarray | None = None  # layers of a stage recomputed (ALL_LAYERS: every one); None: all
    offload: np.ndarray | None = None  # bool: activations of the layers not recomputed offloaded to host; None: none
    sp: np.ndarray | None = None  # bool: sequence parallelism with tensor parallelism; None: on
    optimizer_offload: np.ndarray | None = None  # bool: optimizer states on the host; None: none

    def __post_init__(self):
        defaults = {"recompute_layers": ALL_LAYERS, "offload": False, "sp": True, "optimizer_offload": False}
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.full(len(self.tp), value))

    def __len__(self) -> int:
        return len(self.tp)

    @classmethod
    def from_layouts(cls, layouts: list[Layout]) -> "LayoutArrays":
        """Pack specs into arrays."""
        return cls(
            tp=np.array([l.tp for l in layouts]),
            pp=np.array([l.pp for l in layouts]),
            cp=np.array([l.cp for l in layouts]),
            dp=np.array([l.dp for l in layouts]),
            zero=np.array([l.zero for l in layouts]),
            micro_batch=np.array([l.micro_batch for l in layouts]),
            recompute=np.array([RECOMPUTE_CODES[l.recompute] for l in layouts]),
            vpp=np.array([l.vpp for l in layouts]),
            cp_ring=np.array([l.cp_kind == "ring" for l in layouts]),
            recompute_layers=np.array([ALL_LAYERS if l.recompute_layers is None else l.recompute_layers for l in layouts]),
            offload=np.array([l.offload for l in layouts]),
            sp=np.array([l.sp for l in layouts]),
            optimizer_offload=np.array([l.optimizer_offload for l in layouts]),
        )

    def micro_batches(self, global_batch: int) -> np.ndarray:
        """Micro-batches a step (float; not whole where the layout does not divide the batch)."""
        return global_batch / (self.dp * self.micro_batch)

    def stage_layers(self, num_layers: int) -> np.ndarray:
        """Layers on the busiest pipeline stage: uneven splits round up (stage balance sets the pace)."""
        return np.ceil(num_layers / (self.pp * self.vpp)) * self.vpp

    def recomputed_of(self, layers: np.ndarray) -> np.ndarray:
        """Of a stage's ``layers``, those recomputed (0 without recompute)."""
        chosen = np.where(self.recompute_layers == ALL_LAYERS, layers, np.minimum(self.recompute_layers, layers))
        return np.where(self.recompute == RECOMPUTE_CODES["none"], 0.0, chosen)

    def recompute_share(self, layers: np.ndarray, mode: str | None = None) -> np.ndarray:
        """Share of a stage's ``layers`` recomputed (by ``mode`` only, when given)."""
        fraction = self.recomputed_of(layers) / np.maximum(layers, 1)
        return fraction if mode is None else np.where(self.recompute == RECOMPUTE_CODES[mode], fraction, 0.0)

    def recomputed_layers(self, num_layers: int) -> np.ndarray:
        """Layers of the busiest stage (by count) that are recomputed (0 without recompute)."""
        return self.recomputed_of(self.stage_layers(num_layers))

    def recompute_fraction(self, num_layers: int, mode: str | None = None) -> np.ndarray:
        """Share of the busiest stage's layers recomputed (by ``mode`` only, when given)."""
        return self.recompute_share(self.stage_layers(num_layers), mode)

    def take(self, index) -> "LayoutArrays":
        """The layouts at ``index`` (a mask or integer array)."""
        return LayoutArrays(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def layout(self, i: int) -> Layout:
        """Layout ``i`` as a spec."""
        return Layout(
            tp=int(self.tp[i]), pp=int(self.pp[i]), cp=int(self.cp[i]), dp=int(self.dp[i]),
            zero=int(self.zero[i]), micro_batch=int(self.micro_batch[i]),
            recompute=RECOMPUTE_NAMES[int(self.recompute[i])], vpp=int(self.vpp[i]),
            cp_kind="ring" if self.cp_ring[i] else "ulysses",
            recompute_layers=None if self.recompute_layers[i] == ALL_LAYERS else int(self.recompute_layers[i]), offload=bool(self.offload[i]),
            sp=bool(self.sp[i]), optimizer_offload=bool(self.optimizer_offload[i]),
        )
