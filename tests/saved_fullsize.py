"""What a diffusers video transformer saves for backward at full size, in bf16, measured on the meta device.

How: the model is built on PyTorch's ``meta`` device (shapes and dtypes, no storage, no arithmetic) in
bf16, batch 1, its preset's default clip, all caption tokens valid; one training forward (the model, then
the loss an FSDP2 fine-tuning script takes: the mean squared error of the prediction and the target, both
upcast to fp32) runs inside ``torch.autograd.graph.saved_tensors_hooks``. Every tensor autograd packs is
recorded once per storage (``untyped_storage()._cdata``, the StorageImpl address, which views share and
which stays unique while the graph holds the tensors); parameters are left out (they are model states).

Fused-kernel semantics only where a CUDA training run really calls a fused kernel:
- attention: ``torch.nn.functional.scaled_dot_product_attention`` is swapped for FusedAttention, an
  autograd Function that saves what flash/cuDNN attention saves: q, k, v, the output and an fp32
  log-sum-exp a query row and head (FlashAttention-2, Dao 2023, Algorithm 2; PyTorch's
  _scaled_dot_product_flash_attention returns the same logsumexp (batch, heads, queries) in fp32).
- torch's RMSNorm: ``torch.nn.functional.rms_norm`` (torch.nn.RMSNorm: Wan's and LTX's q/k norms) is swapped
  for FusedRMSNorm, which saves its input, its scale and an fp32 rstd a row, as PyTorch's own CUDA kernel
  _fused_rms_norm does (on the meta device F.rms_norm decomposes into eager ops instead). The input keeps
  the dtype the module hands it.
- diffusers' own norms are NOT swapped: they run their eager code, as they do on a GPU. diffusers 0.42.1
  models/normalization.py RMSNorm.forward is pure PyTorch except on an Ascend NPU (``is_torch_npu_available()``
  -> torch_npu.npu_rms_norm): ``variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)``,
  ``hidden_states * torch.rsqrt(variance + self.eps)``, a cast to the scale's dtype, ``* self.weight``; so
  autograd keeps an fp32 copy of the input (pow's input), the input and rstd, and the bf16 cast the scale
  multiplies. MochiRMSNorm.forward multiplies its scale before the cast back, keeping the normalised tensor
  in fp32. (Mochi's q and k: two fp32 tensors of (1, 44520, 24, 128), 547 MB each, 1.09 GB a norm.)
- LayerNorm needs no swap: aten's native_layer_norm already saves input, mean and rstd.
Everything else is PyTorch's eager autograd as diffusers calls it (the fp32 upcasts of modulation and
RoPE included). ``fused_kernels(fused_diffusers_norms=True)`` also swaps diffusers' RMSNorm and MochiRMSNorm
for FusedRMSNorm: a what-if (benchmarks/mochi_block_conventions.py), not what a CUDA run does. Meta tensors
need no memory: the whole model forward takes about a second or two.
"""
from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass

import diffusers
import torch
import torch.nn.functional as F

from tests import independent as ind

FP32 = torch.float32


class FusedAttention(torch.autograd.Function):
    """SDPA with flash-attention saving: q, k, v, output and an fp32 log-sum-exp (batch, heads, queries)."""

    @staticmethod
    def forward(ctx, query, key, value, attn_mask, scale):
        with torch.no_grad():
            out = _ORIGINAL_SDPA(query, key, value, attn_mask=attn_mask, scale=scale)
        lse = torch.empty(query.shape[:-1], dtype=FP32, device=query.device)
        ctx.save_for_backward(query, key, value, out, lse)
        ctx.attn_mask, ctx.scale = attn_mask, scale
        return out

    @staticmethod
    def backward(ctx, grad):
        query, key, value, _, _ = ctx.saved_tensors
        with torch.enable_grad():
            inputs = [t.detach().requires_grad_() for t in (query, key, value)]
            out = _ORIGINAL_SDPA(*inputs, attn_mask=ctx.attn_mask, scale=ctx.scale)
            grads = torch.autograd.grad(out, inputs, grad)
        return (*grads, None, None)


class FusedRMSNorm(torch.autograd.Function):
    """RMSNorm saving its input, its scale and an fp32 rstd a row; the output dtype as ``compute`` gives it."""

    @staticmethod
    def forward(ctx, x, weight, compute):
        with torch.no_grad():
            out = compute(x)
        rstd = torch.empty(x.shape[:-1], dtype=FP32, device=x.device)
        ctx.save_for_backward(x, weight, rstd)
        ctx.compute = compute
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, _ = ctx.saved_tensors
        with torch.enable_grad():
            inputs = [x.detach().requires_grad_()] + ([weight.detach().requires_grad_()] if weight is not None else [])
            out = ctx.compute(inputs[0])
            grads = torch.autograd.grad(out, inputs, grad)
        return grads[0], (grads[1] if weight is not None else None), None


_ORIGINAL_SDPA = F.scaled_dot_product_attention


def _fused_sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    assert dropout_p == 0.0 and not is_causal and not enable_gqa
    return FusedAttention.apply(query, key, value, attn_mask, scale)


def _fused_module_forward(original):
    def forward(self, x):
        return FusedRMSNorm.apply(x, getattr(self, "weight", None), lambda h: original(self, h))
    return forward


def _fused_functional(original):
    def rms_norm(x, normalized_shape, weight=None, eps=None):
        return FusedRMSNorm.apply(x, weight, lambda h: original(h, normalized_shape, weight, eps))
    return rms_norm


@contextlib.contextmanager
def fused_kernels(fused_diffusers_norms: bool = False):
    """Swap attention and torch's F.rms_norm for their fused-kernel autograd Functions (see the module docstring);
    ``fused_diffusers_norms``: diffusers' RMSNorm and MochiRMSNorm too (a what-if; on CUDA they run eagerly)."""
    from diffusers.models import normalization

    swaps = [(F, "scaled_dot_product_attention", _fused_sdpa), (F, "rms_norm", _fused_functional(F.rms_norm))]
    if fused_diffusers_norms:
        swaps += [(cls, "forward", _fused_module_forward(cls.forward)) for cls in (normalization.RMSNorm, normalization.MochiRMSNorm)]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in swaps]
    for owner, name, new in swaps:
        setattr(owner, name, new)
    try:
        yield
    finally:
        for owner, name, old in saved:
            setattr(owner, name, old)


@dataclass(frozen=True)
class SavedMeasurement:
    """Bytes saved for backward, by where they were packed: the top-level submodule path, with the block
    index kept (``transformer_blocks.3``), and ``loss`` for the loss outside the model."""

    by_part: dict[str, int]
    by_dtype: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_part.values())


def _module_tracker(model):
    """A stack of the top-level parts running now (block lists keep their index)."""
    stack, handles = [], []
    for name, module in model.named_modules():
        parts = name.split(".")
        if not name or (len(parts) > 1 and not (len(parts) == 2 and parts[1].isdigit())):
            continue
        if len(parts) == 1 and isinstance(module, torch.nn.ModuleList):
            continue
        handles.append(module.register_forward_pre_hook(lambda m, a, n=name: stack.append(n) and None))
        handles.append(module.register_forward_hook(lambda m, a, o: stack.pop() and None))
    return stack, handles


def measure(model, call, loss_of) -> SavedMeasurement:
    """Bytes autograd saves in ``loss_of(call())``, each storage once, parameters left out."""
    params = {p.untyped_storage()._cdata for p in model.parameters()}
    seen, keep = {}, []
    by_part, by_dtype = defaultdict(int), defaultdict(int)
    stack, handles = _module_tracker(model)

    def pack(t):
        storage = t.untyped_storage()
        key = storage._cdata
        if key not in params and key not in seen:
            seen[key] = storage.nbytes()
            keep.append(t)
            by_part[stack[-1] if stack else "loss"] += storage.nbytes()
            by_dtype[str(t.dtype).replace("torch.", "")] += storage.nbytes()
        return t

    try:
        with ind.meta_counting(), fused_kernels(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss_of(call())
    finally:
        for handle in handles:
            handle.remove()
    return SavedMeasurement(dict(by_part), dict(by_dtype))


def _meta(*shape, dtype=torch.bfloat16):
    return torch.empty(*shape, device="meta", dtype=dtype)


def bf16_model(cls_name: str, config: dict):
    """A diffusers class on the meta device in bf16, trainable."""
    with torch.device("meta"):
        model = getattr(diffusers, cls_name)(**config)
    return model.to(torch.bfloat16).train()


def training_call(model, latent: tuple[int, int, int], text_tokens: int):
    """One conditional forward at batch 1 of a diffusers video transformer, all caption tokens valid, in bf16."""
    cfg, name = model.config, type(model).__name__
    text = _meta(1, text_tokens, cfg.get("text_dim") or cfg.get("text_embed_dim") or cfg.get("caption_channels"))
    step = _meta(1, dtype=FP32)
    mask = torch.ones(1, text_tokens, device="meta", dtype=torch.bool)
    frames, height, width = latent
    if name == "WanTransformer3DModel":
        return lambda: model(hidden_states=_meta(1, cfg.in_channels, *latent), timestep=step, encoder_hidden_states=text, return_dict=False)[0]
    if name == "HunyuanVideoTransformer3DModel":
        return lambda: model(hidden_states=_meta(1, cfg.in_channels, *latent), timestep=step, encoder_hidden_states=text,
                             encoder_attention_mask=mask, pooled_projections=_meta(1, cfg.pooled_projection_dim), guidance=step,
                             return_dict=False)[0]
    if name == "CogVideoXTransformer3DModel":
        rope = None
        if cfg.use_rotary_positional_embeddings:
            rope = (_meta(frames * height * width // cfg.patch_size**2, cfg.attention_head_dim, dtype=FP32),) * 2
        return lambda: model(hidden_states=_meta(1, frames, cfg.in_channels, height, width), encoder_hidden_states=text, timestep=step,
                             image_rotary_emb=rope, return_dict=False)[0]
    if name == "LTXVideoTransformer3DModel":
        return lambda: model(hidden_states=_meta(1, frames * height * width, cfg.in_channels), encoder_hidden_states=text, timestep=step,
                             encoder_attention_mask=mask, num_frames=frames, height=height, width=width, return_dict=False)[0]
    if name == "CosmosTransformer3DModel":
        latent_channels = cfg.out_channels  # in_channels adds the condition mask's channel

        def cosmos():
            with cosmos_resize_stand_in():
                return model(hidden_states=_meta(1, latent_channels, *latent), timestep=step, encoder_hidden_states=text,
                             condition_mask=_meta(1, 1, *latent), padding_mask=_meta(1, 1, 8 * height, 8 * width), return_dict=False)[0]
        return cosmos
    if name == "MochiTransformer3DModel":
        return lambda: model(hidden_states=_meta(1, cfg.in_channels, *latent), encoder_hidden_states=text, timestep=step,
                             encoder_attention_mask=mask, return_dict=False)[0]
    raise ValueError(name)


@contextlib.contextmanager
def cosmos_resize_stand_in():
    """diffusers' Cosmos resizes its padding mask with torchvision (not installed here); a nearest resize saves nothing
    for backward (the mask needs no gradient), so a stand-in returning the resized shape is used."""
    import types
    from unittest import mock

    def resize(mask, size, interpolation=None):
        return torch.empty(*mask.shape[:-2], *size, device=mask.device, dtype=mask.dtype)

    transforms = types.SimpleNamespace(functional=types.SimpleNamespace(resize=resize), InterpolationMode=types.SimpleNamespace(NEAREST=None))
    with mock.patch("diffusers.models.transformers.transformer_cosmos.transforms", transforms, create=True):
        yield


def mse_loss_fp32(prediction):
    """The flow-matching loss as diffusers' training scripts take it: MSE of prediction and target, in fp32."""
    target = torch.empty(prediction.shape, device=prediction.device, dtype=prediction.dtype)
    return F.mse_loss(prediction.float(), target.float())


class LoraLinear(torch.nn.Module):
    """A frozen linear with a LoRA adapter as PEFT builds it with lora_dropout 0: base(x) + B(A(x)) x scaling."""

    def __init__(self, base: torch.nn.Linear, rank: int):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.lora_A = torch.nn.Linear(base.in_features, rank, bias=False, device="meta", dtype=torch.bfloat16)
        self.lora_B = torch.nn.Linear(rank, base.out_features, bias=False, device="meta", dtype=torch.bfloat16)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * 1.0


LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")  # finetrainers' and diffusers' scripts' --target_modules


def add_lora(model, rank: int) -> int:
    """Freeze the model and put adapters of ``rank`` on every LORA_TARGETS linear; the adapters' parameters."""
    model.requires_grad_(False)
    targets = [name for name, module in model.named_modules()
               if isinstance(module, torch.nn.Linear) and any(name == t or name.endswith("." + t) for t in LORA_TARGETS)]
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoraLinear(getattr(parent, child), rank)) if not child.isdigit() else parent.__setitem__(
            int(child), LoraLinear(parent[int(child)], rank))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def measure_preset(cls_name: str, config: dict, latent: tuple[int, int, int], text_tokens: int, lora_rank: int | None = None) -> SavedMeasurement:
    """A preset's diffusers class at its published config, one training forward of its default clip (with LoRA
    adapters of ``lora_rank`` on the attention projections, the rest frozen, when given)."""
    model = bf16_model(cls_name, config)
    if lora_rank is not None:
        add_lora(model, lora_rank)
    return measure(model, training_call(model, latent, text_tokens), mse_loss_fp32)
