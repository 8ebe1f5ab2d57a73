"""fvcore counts of the reference models, converted to the estimators' convention, per component.

fvcore's FlopCountAnalysis counts one per multiply-add; the estimators count two (FLOPS_PER_MAC), so
every fvcore figure is multiplied by FLOPS_PER_MAC here. fvcore does not know
``scaled_dot_product_attention``; its handle counts QK^T and AV: 2 x B x H x S_q x S_k x D MACs.
fvcore's own handles for normalisation layers are switched off: like FlopCounterMode and the estimators,
the count covers matmuls, convolutions and attention (norms are element-wise, priced by bytes).
"""
from __future__ import annotations

import torch
from fvcore.nn import FlopCountAnalysis, parameter_count
from fvcore.nn.jit_handles import get_shape

from estimators.counts.flops import FLOPS_PER_MAC

SDPA_MATMULS = 2  # QK^T and AV
NORM_OPS = ("aten::layer_norm", "aten::group_norm", "aten::batch_norm", "aten::instance_norm")


def sdpa_macs(inputs, outputs) -> int:
    """MACs of scaled_dot_product_attention(q (..., S_q, D), k (..., S_k, D), v)."""
    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    batch = 1
    for dim in q[:-2]:
        batch *= dim
    return SDPA_MATMULS * batch * q[-2] * k[-2] * q[-1]


def not_counted(inputs, outputs) -> int:
    """Handle for ops outside the convention (fvcore's own None only silences unknown ops)."""
    return 0


def analyse(model: torch.nn.Module, inputs: tuple) -> FlopCountAnalysis:
    """fvcore analysis with our SDPA handle and quiet warnings for the element-wise ops it skips."""
    analysis = FlopCountAnalysis(model, inputs).set_op_handle("aten::scaled_dot_product_attention", sdpa_macs)
    analysis = analysis.set_op_handle(**{op: not_counted for op in NORM_OPS})
    return analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)


def flops_by_module(analysis: FlopCountAnalysis) -> dict[str, int]:
    """FLOPs (2 per MAC) of every module path."""
    return {name: FLOPS_PER_MAC * macs for name, macs in analysis.by_module().items()}


def parameters(model: torch.nn.Module) -> dict[str, int]:
    """fvcore's parameter counts by module path ('' is the whole model)."""
    return dict(parameter_count(model))
