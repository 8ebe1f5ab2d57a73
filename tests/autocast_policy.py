"""CUDA autocast's op policy, emulated on the meta device (this CPU build cannot run CUDA autocast: it needs CUDA
tensors), for tests that measure what a module saves under autocast.

The policy is PyTorch's (torch.amp docs, "Autocast Op Reference", CUDA): ops on the "can autocast to float16" list
run on low-precision copies of their floating inputs (matmuls, linear, convolutions, attention); ops on the
"can autocast to float32" list on fp32 copies (layer_norm, group_norm, softmax, exp, log, pow, rsqrt, sum, the
losses, ...); the rest run as their inputs' types promote. Casts of leaf tensors that require grad (the weights)
are cached for the region, other casts are made per op (at::autocast::cached_cast). A TorchFunctionMode applies
it above autograd, so every cast is recorded as autocast's are. The attention swap of tests/saved_fullsize.py is
wrapped so its q, k and v are cast first (scaled_dot_product_attention is on the low-precision list).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

LOW_PRECISION_OPS = {F.linear, torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.mm, torch.bmm, torch.addmm,
                     torch.baddbmm, F.conv1d, F.conv2d, F.conv3d}
FP32_OPS = {F.layer_norm, F.group_norm, torch.exp, torch.Tensor.exp, torch.log, torch.pow, torch.Tensor.pow, torch.rsqrt,
            torch.Tensor.rsqrt, F.softmax, F.log_softmax, torch.softmax, torch.Tensor.softmax, torch.sum, torch.Tensor.sum,
            F.mse_loss, F.cross_entropy, torch.norm, F.normalize, torch.cumsum, F.softplus}


class EmulatedAutocast(TorchFunctionMode):
    """torch.autocast("cuda", dtype) as a function mode (module docstring)."""

    def __init__(self, dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        self.dtype, self.weight_casts = dtype, {}

    def _cast(self, value, dtype: torch.dtype):
        if not (isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != dtype):
            return value
        if dtype == self.dtype and value.is_leaf and value.requires_grad:
            return self.weight_casts.setdefault(id(value), value.to(dtype))
        return value.to(dtype)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        dtype = self.dtype if func in LOW_PRECISION_OPS else (torch.float32 if func in FP32_OPS else None)
        if dtype is not None:
            args = tuple(self._cast(a, dtype) for a in args)
            kwargs = {k: self._cast(v, dtype) for k, v in kwargs.items()}
        return func(*args, **kwargs)


@contextlib.contextmanager
def emulated_autocast(dtype: torch.dtype = torch.bfloat16):
    """Inside tests/saved_fullsize.fused_kernels(): the emulated policy, attention on low-precision q, k, v."""
    fused = F.scaled_dot_product_attention

    def attention(query, key, value, *args, **kwargs):
        return fused(*(t.to(dtype) for t in (query, key, value)), *args, **kwargs)

    F.scaled_dot_product_attention = attention
    try:
        with EmulatedAutocast(dtype):
            yield
    finally:
        F.scaled_dot_product_attention = fused
