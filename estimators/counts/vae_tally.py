"""A running count of parameters and forward FLOPs while walking a VAE's layers in data-flow order.

Each family module (vae_wan.py, vae_hunyuan.py, ...) walks its architecture once, calling these methods
with the shapes it computes; parameters are added whether or not a layer runs on a given clip (a
temporal resampler that a one-frame clip never reaches still holds weights). FLOPs follow
torch.utils.flop_counter.FlopCounterMode: 2 per multiply-add of convolutions, matmuls and attention
products; bias adds, norms, activations, padding, interpolation and reshapes are not counted.
"""
from __future__ import annotations

from collections import defaultdict
from math import prod

from estimators.counts.flops import FLOPS_PER_MAC, attention_flops

# GroupNorm / LayerNorm with affine=True: a scale and a shift per channel.
AFFINE_NORM_PARAMS_PER_CHANNEL = 2
CONV3 = (3, 3, 3)
POINT3 = (1, 1, 1)


class Tally:
    """Parameters and FLOPs by part (``part`` names where the next counts go)."""

    def __init__(self) -> None:
        self.params: dict[str, int] = defaultdict(int)
        self.flops: dict[str, int] = defaultdict(int)
        self.part = ""
        # off while walking the same layers again (a second temporal tile): weights are held once
        self.count_params = True
        # elements of the largest transient tensor seen (a conv output, or a tensor named by transient())
        self.largest_transient = 0
        # every conv and dense layer run, and the elements they write (what element-wise ops then stream)
        self.layers_run = 0
        self.written_elements = 0

    def conv(self, c_in: int, c_out: int, kernel: tuple[int, ...], outputs: int, bias: bool = True) -> None:
        """A convolution of ``kernel`` evaluated at ``outputs`` output positions (frames x height x width)."""
        weights = c_in * c_out * prod(kernel)
        if self.count_params:
            self.params[self.part] += weights + (c_out if bias else 0)
        self.flops[self.part] += FLOPS_PER_MAC * outputs * weights
        self.transient(outputs * c_out)
        self.layers_run += 1
        self.written_elements += outputs * c_out

    def transient(self, elements: int) -> None:
        """A tensor of ``elements`` values that exists during the forward (largest one kept)."""
        self.largest_transient = max(self.largest_transient, elements)

    def norm(self, channels: int, per_channel: int = AFFINE_NORM_PARAMS_PER_CHANNEL) -> None:
        """A normalization with ``per_channel`` learned values per channel (no FLOPs counted)."""
        if self.count_params:
            self.params[self.part] += per_channel * channels

    def resnet_block(self, c_in: int, c_out: int, positions: int, norm_per_channel: int = AFFINE_NORM_PARAMS_PER_CHANNEL) -> None:
        """The causal video VAEs' residual block (Wan, HunyuanVideo 1 and 1.5, Step-Video): norm, 3x3x3 conv, twice;
        a 1x1x1 shortcut conv when the widths differ."""
        self.norm(c_in, norm_per_channel)
        self.conv(c_in, c_out, CONV3, positions)
        self.norm(c_out, norm_per_channel)
        self.conv(c_out, c_out, CONV3, positions)
        if c_in != c_out:
            self.conv(c_in, c_out, POINT3, positions)

    def linear(self, d_in: int, d_out: int, rows: int, bias: bool = True) -> None:
        """A dense layer applied to ``rows`` rows."""
        self.conv(d_in, d_out, (1,), rows, bias)

    def attention(self, sequences: int, length: int, width: int) -> None:
        """Score and value products of ``sequences`` independent self-attentions of ``length`` tokens."""
        self.flops[self.part] += attention_flops(length, length, width, batch=sequences)

