"""What a GPT (decoder-only LLM: the back-test's rows) saves for backward, per layer and at the loss, by
implementation (counts/saved.py IMPLEMENTATIONS), in bytes a token.

``megatron-te`` (Megatron-LM / Megatron-Core with Transformer Engine): Korthikanti et al. 2022, Table 2 and sec.
4.1, generalised to grouped-query attention (k, v of kv width) and a gated MLP of width f. A layer keeps, in bf16:
each norm's input (2 x 2h); the q/k/v projection's input (2h), q (2h), k and v (2 x 2kv), the out-projection's
input (2h) and, unfused, the scores: softmax output, its dropout mask and output (5 a s, per head and key); the
MLP's input (2h), its first layer's output and the activation's output (4f, a gated MLP 8f: both halves, the
activation and their product); and 1-byte dropout masks after attention and MLP (h each) for a GPT trained
with dropout (GPT-3 style, non-gated); Llama-style gated models train without dropout. GPT-3 (kv = h, f = 4h):
34 h + 5 a s, Korthikanti's figure. Without sequence parallelism tensor parallelism leaves the norm inputs, the
two matmul inputs and the masks (10 h of 34) on every rank (Table 2's 10 + 24/t). Selective recompute drops the
5 a s scores; flash attention never stores them (its log-sum-exp, 4 bytes a head, is left out). Full: the
layer's input, 2h. Output layer and loss, on the last stage: Megatron-LM theoretical_memory_usage.py, "inputs
to output layer and CE loss", 4 (h + V) bytes a token; the fused vocab-parallel cross entropy works in place.

``pytorch-reference`` (eager PyTorch, a Hugging Face / torchtitan Llama with SDPA flash attention): as above
plus what eager modules keep: each RMSNorm its fp32 upcast input and the normalised bf16 tensor its weight
multiplies (6h instead of 2h; LlamaRMSNorm: hidden_states.to(float32), ..., weight * hidden.to(dtype)), and the
out-projection's input is a contiguous copy of the attention output (transpose + reshape), 2h besides the
output flash keeps. Selective: torchtitan's op-level policy (op_level_selective). At the loss: the output layer's input (2h) and the final norm, the fp32 log-softmax
output cross entropy saves (4V), and, transient in its backward, the fp32 incoming gradient and the fp32 input
gradient (8V; PyTorch _log_softmax_backward_data; the bf16 logits are freed by then): torch.nn.functional
.cross_entropy on logits.float(), as torchtitan, torchtune and transformers call it.

How the stack runs that cross entropy (LossKernel, a stack property: data/stacks/stacks.yaml loss_compiled and
loss_chunks): eager, as above; or under torch.compile (torchtitan's components/loss.py build_cross_entropy_loss:
torch.compile(cross_entropy_loss) when training.compile is set, 2025; torchtune's training.compile_loss, which
compiles CEWithChunkedOutputLoss.compute_cross_entropy, the upcast and cross entropy of one chunk). Inductor's
partition of ``cross_entropy(logits.float(), labels)`` (torch 2.13, checked on CPU: tests/test_compiled_loss.py)
saves the bf16 logits and two fp32 numbers a row (the row maximum and log-sum-exp), not the fp32 log-softmax,
and its fused backward writes only the bf16 gradient of the logits: saved 2V + 8, working 2V bytes a token.
Chunked (torchtune CEWithChunkedOutputLoss, num_output_chunks 8: the output layer makes 8 chunks of logits along
the sequence and each is upcast and reduced on its own): every chunk's saved tensors stay until backward (all
tokens' worth), but the backward runs chunk by chunk, so the transient is one chunk's: working / chunks.
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.specs.models import GPTSpec
from estimators.units import BF16_BYTES, FP32_BYTES

MODES = ("none", "selective", "full")
DROPOUT_MASK_BYTES = 1  # a bool mask a dropout keeps
SCORE_BYTES_PER_HEAD_KEY = 5  # softmax output 2, dropout mask 1, dropout output 2 (Korthikanti Table 2)
EAGER_RMS_NORM_BYTES_PER_WIDTH = FP32_BYTES + BF16_BYTES  # fp32 input copy and the normalised tensor the weight multiplies
MEGATRON_OUTPUT_LAYER_BYTES = FP32_BYTES  # theoretical_memory_usage.py: 4 (h + V) a token
INPUT_ID_BYTES = 8  # int64 token ids (theoretical_memory_usage.py "input to embedding": 8 s b)
EAGER_LOSS_SAVED_FP32_COPIES = 1  # log-softmax output
EAGER_LOSS_WORKING_FP32_COPIES = 2  # its backward: incoming gradient and input gradient
COMPILED_LOSS_ROW_STATS = 2  # fp32 row maximum and log-sum-exp inductor's forward saves beside the bf16 logits


@dataclass(frozen=True)
class LossKernel:
    """How a stack runs the cross entropy: compiled or eager, and in how many chunks of tokens (module docstring)."""

    compiled: bool = False
    chunks: int = 1


EAGER_LOSS = LossKernel()


@dataclass(frozen=True)
class LayerBytes:
    """Bytes a token saves in one layer under a recompute mode, and the share outside the tensor-parallel regions."""

    total: float
    replicated: float


def _widths(spec: GPTSpec) -> tuple[int, int, int]:
    return spec.hidden_size, spec.hidden_size // spec.num_heads * spec.num_kv_heads, spec.ffn_hidden_size


def dropout(spec: GPTSpec) -> bool:
    """GPT-3-style (non-gated) models train with dropout; Llama-style gated ones without."""
    return not spec.gated_mlp


def gpt_layer_bytes(spec: GPTSpec, implementation: str, flash_attention: bool) -> dict[str, LayerBytes]:
    """Bytes a token saves in one layer, by recompute mode (module docstring)."""
    h, kv, f = _widths(spec)
    eager = implementation != "megatron-te"
    masks = 2 * h * DROPOUT_MASK_BYTES if dropout(spec) else 0
    norm = EAGER_RMS_NORM_BYTES_PER_WIDTH * h if (eager and spec.gated_mlp) else BF16_BYTES * h
    mlp_hidden = BF16_BYTES * f * (4 if spec.gated_mlp else 2)
    replicated = 2 * norm + 2 * BF16_BYTES * h + masks  # norms, the two matmul inputs, masks
    attention = BF16_BYTES * (h + 2 * kv) + (2 if eager else 1) * BF16_BYTES * h  # q, k, v, the out-projection's input (and copy)
    split = attention + mlp_hidden
    scores = 0 if flash_attention else SCORE_BYTES_PER_HEAD_KEY * spec.num_heads * spec.seq_len
    if eager:
        selective = op_level_selective(spec)
    else:
        selective = LayerBytes(replicated + split, replicated)
    return {
        "none": LayerBytes(replicated + split + scores, replicated),
        "selective": selective,
        "full": LayerBytes(BF16_BYTES * h, BF16_BYTES * h),
    }


def gpt_gemm_inputs(spec: GPTSpec) -> int:
    """Elements a token keeps as matmul inputs in one layer: q/k/v's, the out-projection's, the MLP's first and second
    layers' (counts/saved.py gemm_inputs says what FP8 does to them)."""
    h, _, f = _widths(spec)
    return 3 * h + f


def op_level_selective(spec: GPTSpec) -> LayerBytes:
    """torchtitan's op-level selective checkpointing (torchtitan parallelize_llama.py, _save_list and mm_count): the layer
    keeps its input, the attention kernel's output and every other matmul's output in forward order, the rest is
    recomputed. Llama's matmuls: wq, wk, wv, wo, w1, w3, w2: saved wq (h), wv (kv), w1 (f), w2 (h); a non-gated MLP's
    fc1, fc2 after the four attention projections: fc1 (f)."""
    h, kv, f = _widths(spec)
    outputs = [("q", h), ("k", kv), ("v", kv), ("o", h)] + ([("w1", f), ("w3", f), ("w2", h)] if spec.gated_mlp else [("fc1", f), ("fc2", h)])
    kept = [name for index, (name, _) in enumerate(outputs) if index % 2 == 0]
    widths = dict(outputs)
    saved = h + h + sum(widths[name] for name in kept)  # the layer input and the attention output
    replicated = h + sum(widths[name] for name in kept if name in ("o", "w2", "fc2"))  # the input and row-parallel outputs
    return LayerBytes(BF16_BYTES * saved, BF16_BYTES * replicated)


@dataclass(frozen=True)
class LossBytes:
    """Per token at the output layer and the loss: kept for backward, and transient while the loss runs backward."""

    saved: float
    working: float


def gpt_loss_bytes(spec: GPTSpec, implementation: str, kernel: LossKernel = EAGER_LOSS) -> LossBytes:
    """Output layer and cross entropy (module docstring); ``kernel``: how the stack runs the loss (eager implementations)."""
    h, v = spec.hidden_size, spec.vocab_size
    if implementation == "megatron-te":
        return LossBytes(MEGATRON_OUTPUT_LAYER_BYTES * (h + v), 0.0)
    norm = EAGER_RMS_NORM_BYTES_PER_WIDTH * h if spec.gated_mlp else BF16_BYTES * h
    if kernel.compiled:
        saved, working = BF16_BYTES * v + COMPILED_LOSS_ROW_STATS * FP32_BYTES, BF16_BYTES * v
    else:
        saved, working = EAGER_LOSS_SAVED_FP32_COPIES * FP32_BYTES * v, EAGER_LOSS_WORKING_FP32_COPIES * FP32_BYTES * v
    return LossBytes(BF16_BYTES * h + norm + saved, working / kernel.chunks)
