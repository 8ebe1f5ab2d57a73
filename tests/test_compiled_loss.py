"""The GPT path's loss as each stack runs it (counts/gpt.py LossKernel): what eager and compiled cross entropy save
for backward, checked against torch 2.13 on CPU, and the stacks the memory back-test's rows name."""
from __future__ import annotations

import csv

import pytest
import torch
import torch.nn.functional as F

from estimators.catalog.stacks import load_stack
from estimators.counts.gpt import EAGER_LOSS, LossKernel, gpt_loss_bytes
from estimators.specs.models import GPTSpec
from estimators.units import BF16_BYTES, FP32_BYTES
from tests.test_backtest import MEMORY_CSV

ROWS, VOCAB = 64, 1000  # a small logits matrix: what is saved a row does not depend on the sizes
SPEC = GPTSpec(num_layers=2, hidden_size=256, num_heads=4, num_kv_heads=4, ffn_hidden_size=512, gated_mlp=False,
               vocab_size=VOCAB, seq_len=128)
OUTPUT_LAYER_INPUT_BYTES = 2 * BF16_BYTES * SPEC.hidden_size  # non-gated: the final norm's input and the output layer's input, bf16


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float(), labels)  # as torchtitan's cross_entropy_loss and torchtune's compute_cross_entropy


def _saved_bytes_a_row(fn) -> float:
    """Bytes a row of logits the loss saves for backward, storages deduplicated, the int64 labels left out."""
    logits = torch.randn(ROWS, VOCAB, dtype=torch.bfloat16, requires_grad=True)
    labels = torch.randint(0, VOCAB, (ROWS,))
    storages = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.dtype != torch.int64:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(logits, labels)
    return sum(size for size in storages.values() if size > FP32_BYTES) / ROWS  # the scalar loss's own number left out


def test_eager_cross_entropy_saves_the_fp32_log_softmax():
    expected = gpt_loss_bytes(SPEC, "pytorch-reference", EAGER_LOSS).saved - OUTPUT_LAYER_INPUT_BYTES  # 4 V
    assert _saved_bytes_a_row(_cross_entropy) == expected == FP32_BYTES * VOCAB


def test_compiled_cross_entropy_saves_the_bf16_logits_and_two_numbers_a_row():
    # inductor's partition keeps the bf16 input and the fp32 row maximum and log-sum-exp: 2 V + 8
    torch._dynamo.reset()
    measured = _saved_bytes_a_row(torch.compile(_cross_entropy))
    expected = gpt_loss_bytes(SPEC, "pytorch-reference", LossKernel(compiled=True)).saved - OUTPUT_LAYER_INPUT_BYTES
    assert measured == expected == BF16_BYTES * VOCAB + 2 * FP32_BYTES


@pytest.mark.parametrize("compiled", [False, True])
def test_chunks_divide_the_backward_transient_not_what_is_saved(compiled: bool):
    whole = gpt_loss_bytes(SPEC, "pytorch-reference", LossKernel(compiled=compiled))
    chunked = gpt_loss_bytes(SPEC, "pytorch-reference", LossKernel(compiled=compiled, chunks=8))
    assert chunked.saved == whole.saved and chunked.working == pytest.approx(whole.working / 8)
    # eager backward: fp32 incoming and input gradients (8 V); compiled: the bf16 input gradient alone (2 V)
    assert whole.working == (BF16_BYTES if compiled else 2 * FP32_BYTES) * VOCAB


def test_megatron_keeps_its_fused_loss_whatever_the_kernel():
    assert gpt_loss_bytes(SPEC, "megatron-te", LossKernel(compiled=True, chunks=8)) == gpt_loss_bytes(SPEC, "megatron-te")


def test_rows_name_the_loss_their_source_ran():
    rows = {r["id"]: r for r in csv.DictReader(MEMORY_CSV.open(newline=""))}
    kernels = {rid: (bool(load_stack(r["stack"]).loss_compiled.value), int(load_stack(r["stack"]).loss_chunks.value))
               for rid, r in rows.items() if r["num_layers"]}
    assert kernels["tt-8b-h200-32"] == kernels["tt-8b-h200-64"] == (True, 1)  # torchtitan 2025-06, --training.compile
    assert kernels["ttune-70b-lora"] == kernels["ttune-405b-qlora"] == (True, 8)  # torchtune compile_loss, 8 chunks
    assert kernels["tt-8b-fsdp-fp8"] == (False, 1)  # torchtitan 2024-12 left the loss eager
