"""The diffusers implementation's saved activations against diffusers' classes at full size, in bf16.

Each preset's diffusers class is built at its published config on the meta device in bf16, batch 1, its
default clip, and one training forward (model and fp32 MSE loss) runs inside saved_tensors_hooks with
fused attention and torch's F.rms_norm, diffusers' own RMSNorm / MochiRMSNorm eager as on a GPU
(tests/saved_fullsize.py says how and why); every storage is counted once, parameters left out. The whole model
(every block, embedders, RoPE tables, final layer, loss) must be within 3% of counts.saved_lora.model_saved_bytes
with implementation 'diffusers' (issue 18). Measured here: within 0.5% for every preset (mochi 630.4 GB,
hunyuanvideo-13b 1189.6, ltx 27.5 with the eager norms: benchmarks/saved_memory_fullsize.py); about 10 s for the seven.
"""
import pytest

from estimators.catalog.models import load_model
from estimators.counts.geometry import clip_geometry
from estimators.counts.saved_lora import model_saved_bytes
from tests import independent as ind
from tests import saved_fullsize as measured
from tests.test_new_presets_exact import COSMOS_14B_V2W
from tests.test_video_dit_exact import PRESETS

TOLERANCE = 0.03  # issue 18: the whole model within 3%
BF16 = 2
MOCHI = ("mochi-10b", "MochiTransformer3DModel", {}, (28, 60, 106))  # 163x480x848: (163-1)/6+1 = 28 latent frames of 60x106
# one of Wan 2.2 A14B's two experts, each a WanTransformer3DModel of Wan 2.1 14B's config (tests/test_new_presets_exact.py),
# at its 81x720x1280 clip: 21 latent frames of 90x160
WAN22 = ("wan2.2-t2v-a14b", "WanTransformer3DModel", ind.WAN_14B, (21, 90, 160))
# Cosmos-Predict2 14B (diffusers' CosmosTransformer3DModel at its converted config) at its 93x704x1280 clip: 24 latent frames of
# 88x160; its modulated, gated cross-attention (cross_modulated) keeps the normalised tensor and the gate's input
COSMOS = ("cosmos-predict2-14b", "CosmosTransformer3DModel", COSMOS_14B_V2W, (24, 88, 160))


def _measure_and_predict(preset, cls_name, config):
    system = load_model(preset)
    clip = system.default_clip
    geo = clip_geometry(system.vae, system.dit, clip.frames, clip.height, clip.width)
    latent = (geo.latent_frames, geo.latent_height, geo.latent_width)
    got = measured.measure_preset(cls_name, config, latent, clip.text_tokens)
    predicted = model_saved_bytes(system.dit, geo.visual_tokens, clip.text_tokens, "diffusers", "none", BF16)
    return got, predicted


@pytest.mark.parametrize("preset, cls_name, config, latent", [MOCHI, *PRESETS, WAN22, COSMOS],
                         ids=[MOCHI[0]] + [p[0] for p in PRESETS] + [WAN22[0], COSMOS[0]])
def test_whole_model_saved_bytes_match_diffusers_at_full_size(preset, cls_name, config, latent):
    got, predicted = _measure_and_predict(preset, cls_name, config)
    assert abs(sum(predicted.values()) / got.total - 1) <= TOLERANCE, (sum(predicted.values()), got.total, got.by_part)


def test_mochi_upcasts_are_what_the_plain_convention_misses():
    # Mochi's fp32 norms, modulation and RoPE are about half its saved bytes: the plain-PyTorch convention
    # (bf16 everywhere) undercounts by more than 15%, the diffusers implementation does not
    got, _ = _measure_and_predict(*MOCHI[:3])
    assert got.by_dtype["float32"] / got.total > 0.45
    system = load_model("mochi-10b")
    plain = model_saved_bytes(system.dit, 44_520, 256, "pytorch-reference", "none", BF16)
    assert sum(plain.values()) / got.total < 0.85


def test_meta_measurement_sees_the_fused_kernels():
    # one flash attention saves q, k, v, output (bf16) and a log-sum-exp a head and query (fp32), nothing else
    import torch

    heads, rows, head_dim = 2, 8, 4
    q = torch.empty(1, heads, rows, head_dim, device="meta", dtype=torch.bfloat16, requires_grad=True)
    module = torch.nn.Module()
    got = measured.measure(module, lambda: torch.nn.functional.scaled_dot_product_attention(q * 1, q * 1, q * 1), lambda out: out)
    bf16_tensor = heads * rows * head_dim * BF16
    assert got.total == 4 * bf16_tensor + heads * rows * 4  # q * 1 three times: three fresh tensors, a product by a number keeps none
    assert got.by_dtype == {"bfloat16": 4 * bf16_tensor, "float32": heads * rows * 4}


def _without_eager_qk_norms(block):
    return block.model_copy(update={"diffusers_fp32": block.diffusers_fp32.model_copy(update={"qk_norms": "none"})})


def test_mochi_eager_qk_norms_are_what_separates_13_1_from_10_9_gb_a_block():
    # benchmarks/mochi_block_conventions.py: one middle block keeps 13.10 GB with diffusers' MochiRMSNorm eager and
    # 10.90 GB with a fused RMSNorm swapped in. The difference is norm_q's and norm_k's fp32 input copy and fp32
    # normalised tensor (the probe in tests/saved_fullsize.py's docstring): 2 norms x 2 tensors x 44,520 tokens x
    # 3,072 (24 heads x 128) x 4 bytes = 2,188,247,040 bytes; the text stream's norm_added_q/k add 2 x 2 x 256 x 3,072 x 4
    from estimators.counts.saved import block_saved_by
    from estimators.units import FP32_BYTES

    spec = load_model("mochi-10b").dit
    block = spec.blocks[0]
    assert block.diffusers_fp32.qk_norms == "mochi_rms_norm"
    eager, fused = (block_saved_by(spec, b, "none", "diffusers") for b in (block, _without_eager_qk_norms(block)))
    extra = [(e.activation - f.activation) * BF16 + (e.stats - f.stats) * FP32_BYTES for e, f in zip(eager, fused)]
    assert 44_520 * extra[0] == 2_188_247_040 and 256 * extra[1] == 2 * 2 * 256 * 3_072 * 4
    assert block_saved_by(spec, block, "none", "megatron-te") == block_saved_by(spec, _without_eager_qk_norms(block), "none", "megatron-te")


def test_diffusers_rmsnorm_runs_its_eager_code_and_torch_rms_norm_the_fused_kernel():
    # diffusers' RMSNorm with a bf16 scale keeps its input, an fp32 copy (pow), rstd a row (fp32) and the bf16 cast its
    # scale multiplies; torch.nn.RMSNorm (F.rms_norm, fused on CUDA) its input and rstd a row (the scale is a parameter)
    import torch
    from diffusers.models.normalization import RMSNorm

    rows, width = 8, 16
    x = torch.empty(1, rows, width, device="meta", dtype=torch.bfloat16, requires_grad=True)
    bf16_tensor, fp32_row = rows * width * BF16, rows * 4
    for module, expected in ((RMSNorm(width, 1e-6), {"bfloat16": 2 * bf16_tensor, "float32": 2 * bf16_tensor + fp32_row}),
                             (torch.nn.RMSNorm(width, 1e-6), {"bfloat16": bf16_tensor, "float32": fp32_row})):
        module = module.to(device="meta", dtype=torch.bfloat16)
        got = measured.measure(module, lambda m=module: m(x * 1), lambda out: out)
        assert got.by_dtype == expected, (type(module), got.by_dtype)
