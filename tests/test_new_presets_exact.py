"""The presets of issue 19 against independent implementations on the meta device, to the unit: parameters by
numel and forward FLOPs of one conditional pass at batch 1 (FlopCounterMode), at each preset's default clip
and at a small one; their text encoders and VAEs likewise; Cosmos' modulated cross block's saved activations
against the diffusers block.

Default clips and latent shapes (VAE compression, then the DiT's patch):
wan2.2-t2v-a14b 81x720x1280 (Wan VAE 4x, 8x): 21 x 90 x 160, 2x2 -> 75,600 tokens, 512 UMT5 tokens
cosmos-predict2-14b 93x704x1280 (Wan VAE): 24 x 88 x 160, 2x2 -> 84,480 tokens, 512 T5 tokens
hunyuanvideo-1.5 121x720x1280 (16x, 4x): 31 x 45 x 80, 1x1 -> 111,600 tokens, 1000 + 256 glyph text tokens
open-sora-2.0 129x576x1024 (HunyuanVideo VAE 4x, 8x): 33 x 72 x 128, 2x2 -> 76,032 tokens, 512 T5 tokens
step-video-t2v-30b 204x544x992 (17-frame chunks -> 3 latent, 16x): 36 x 34 x 62, 1x1 -> 75,888 tokens
Open-Sora 2.0 and Step-Video have no implementation installed (exact: false): Open-Sora's MMDiT is Flux's
blocks, checked here against diffusers FluxTransformer2DModel without its cond_in embedding.
"""
import functools
import types
from unittest import mock

import pytest

from estimators.catalog.models import load_model
from estimators.counts.dit import dit_forward_flops, dit_params
from estimators.counts.geometry import clip_geometry
from estimators.counts.text_encoders import text_encoder_flops, text_encoder_params, text_encoder_tokens
from estimators.counts.vaes import vae_decoder_flops, vae_decoder_params, vae_encoder_flops, vae_encoder_params
from estimators.errors import PlanInputError
from estimators.planning.estimate import parameter_counts
from estimators.specs.dit_blocks import AttentionOptions, Conditioning, CrossBlock, MLPOptions, Modulation, QKNorm
from tests import independent as ind
from tests import independent_components as indc
from tests.test_block_memory import (
    HEAD_DIM,
    HEADS,
    TOLERANCE,
    D,
    L,
    N,
    measured_bytes,
    predicted_bytes,
    selective_bytes,
    spec_with,
)
from tests.test_components_exact import component

torch = ind.torch

# diffusers scripts/convert_cosmos_to_diffusers.py, Cosmos-2.0-Diffusion-14B-Video2World
COSMOS_14B_V2W = dict(in_channels=17, out_channels=16, num_attention_heads=40, attention_head_dim=128, num_layers=36, mlp_ratio=4.0,
                      text_embed_dim=1024, adaln_lora_dim=256, max_size=(128, 240, 240), patch_size=(1, 2, 2), rope_scale=(20 / 24, 2.0, 2.0),
                      concat_padding_mask=True, extra_pos_embed_type=None)
# diffusers scripts/convert_hunyuan_video1_5_to_diffusers.py, 720p_t2v
HUNYUAN_15_720P_T2V = dict(in_channels=65, out_channels=32, num_attention_heads=16, attention_head_dim=128, num_layers=54, num_refiner_layers=2,
                           mlp_ratio=4.0, patch_size=1, patch_size_t=1, qk_norm="rms_norm", text_embed_dim=3584, text_embed_2_dim=1472,
                           image_embed_dim=1152, rope_theta=256.0, rope_axes_dim=(16, 56, 56), use_meanflow=False, target_size=960, task_type="t2v")
# Open-Sora 2.0's MMDiT (configs/diffusion/inference/256px.py) in diffusers' Flux terms: 64 patch channels in, 19 double
# and 38 single blocks of 24 heads of 128, T5 4096-wide, CLIP pooled 768, no guidance embedding
FLUX_AS_OPEN_SORA = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128, num_attention_heads=24,
                         joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=False, axes_dims_rope=(16, 56, 56))
# the image slots diffusers' HunyuanVideo15Pipeline gives text-to-video (vision_num_semantic_tokens; zeros, masked out)
HUNYUAN_15_IMAGE_SLOTS = 729
PINNED_DIT_PARAMS = {"wan2.2-t2v-a14b": 14_288_491_584, "cosmos-predict2-14b": 14_265_285_632, "hunyuanvideo-1.5": 8_326_608_160}


def _meta(*shape):
    return torch.empty(*shape, device="meta")


@functools.cache
def diffusers_model(cls_name: str, config_name: str):
    """Each diffusers class built once on the meta device for every test that reads it."""
    return ind.meta_model(cls_name, globals()[config_name])


def total(parts: dict) -> int:
    return sum(parts.values())


def default_geometry(name):
    system = load_model(name)
    clip = system.default_clip
    return system, clip, clip_geometry(system.vae, system.dit, clip.frames, clip.height, clip.width)


@pytest.mark.parametrize("name, latent, tokens", [
    ("wan2.2-t2v-a14b", (21, 90, 160), 75_600), ("cosmos-predict2-14b", (24, 88, 160), 84_480), ("hunyuanvideo-1.5", (31, 45, 80), 111_600),
    ("open-sora-2.0", (33, 72, 128), 76_032), ("step-video-t2v-30b", (36, 34, 62), 75_888),
])
def test_default_clips_and_their_latents(name, latent, tokens):
    _, _, geo = default_geometry(name)
    assert (geo.latent_frames, geo.latent_height, geo.latent_width, geo.visual_tokens) == (*latent, tokens)


@pytest.mark.parametrize("name, frames, height, width, words", [
    ("step-video-t2v-30b", 205, 544, 992, "frames must be 17k"), ("hunyuanvideo-1.5", 121, 720, 1272, "multiple of 16"),
    ("cosmos-predict2-14b", 92, 704, 1280, "frames must be 4k\\+1"),
])
def test_clip_rules_of_the_new_vaes(name, frames, height, width, words):
    system = load_model(name)
    with pytest.raises(PlanInputError, match=words):
        clip_geometry(system.vae, system.dit, frames, height, width)


def test_wan22_experts_are_two_wan_transformers():
    # diffusers' Wan2.2 pipeline holds transformer (high noise) and transformer_2 (low noise), each WanTransformer3DModel
    system, clip, geo = default_geometry("wan2.2-t2v-a14b")
    model = ind.meta_model("WanTransformer3DModel", ind.WAN_14B)
    assert total(dit_params(system.dit)) == ind.numel(model) == PINNED_DIT_PARAMS["wan2.2-t2v-a14b"]
    counts = parameter_counts(system)
    assert counts.dit == 2 * ind.numel(model) and counts.dit_resident == ind.numel(model)  # one expert at a time by default
    counted = ind.video_dit_forward_flops(model, geo.latent_frames, geo.latent_height, geo.latent_width, clip.text_tokens)
    assert counted == total(dit_forward_flops(system.dit, geo.visual_tokens, clip.text_tokens))


def _cosmos_flops(model, latent, text_tokens):
    """diffusers resizes the padding mask with torchvision (not installed); a nearest resize costs no FLOPs, so a
    stand-in that returns the resized shape is used."""
    transforms = types.SimpleNamespace(functional=types.SimpleNamespace(resize=lambda m, size, interpolation=None: torch.empty(*m.shape[:-2], *size, device=m.device)),
                                       InterpolationMode=types.SimpleNamespace(NEAREST=None))
    frames, height, width = latent
    with mock.patch("diffusers.models.transformers.transformer_cosmos.transforms", transforms, create=True):
        return ind.count_flops(lambda: model(hidden_states=_meta(1, 16, *latent), timestep=_meta(1), encoder_hidden_states=_meta(1, text_tokens, 1024),
                                             condition_mask=_meta(1, 1, *latent), padding_mask=_meta(1, 1, 8 * height, 8 * width), return_dict=False))


@pytest.mark.parametrize("latent, text", [((24, 88, 160), 512), ((3, 8, 12), 7)])
def test_cosmos_predict2_14b_matches_diffusers(latent, text):
    system = load_model("cosmos-predict2-14b")
    model = diffusers_model("CosmosTransformer3DModel", "COSMOS_14B_V2W")
    assert total(dit_params(system.dit)) == ind.numel(model) == PINNED_DIT_PARAMS["cosmos-predict2-14b"]
    tokens = latent[0] * (latent[1] // 2) * (latent[2] // 2)
    assert _cosmos_flops(model, latent, text) == total(dit_forward_flops(system.dit, tokens, text))


def _hunyuan15_flops(model, latent, caption, glyph, image):
    """HunyuanVideo15Transformer3DModel.forward's modules in its order on the shapes it builds: its per-sample reorder of
    the context tokens by their masks (a concatenation, no FLOPs) needs mask values meta tensors do not have."""
    d = model.config.num_attention_heads * model.config.attention_head_dim
    context = caption + glyph + image

    def forward():
        step, x = _meta(1), _meta(1, model.config.in_channels, *latent)
        temb, rope = model.time_embed(step), model.rope(x)
        model.x_embedder(x)
        model.context_embedder(_meta(1, caption, model.config.text_embed_dim), step, torch.ones(1, caption, device="meta"))
        model.context_embedder_2(_meta(1, glyph, model.config.text_embed_2_dim))
        model.image_embedder(_meta(1, image, model.config.image_embed_dim))
        hidden, text = _meta(1, latent[0] * latent[1] * latent[2], d), _meta(1, context, d)
        for block in model.transformer_blocks:
            hidden, text = block(hidden, text, temb, torch.ones(1, context, device="meta"), rope)
        model.proj_out(model.norm_out(hidden, temb))

    return ind.count_flops(forward)


@pytest.mark.parametrize("latent, caption, image", [((31, 45, 80), 1000, 0), ((3, 4, 6), 7, HUNYUAN_15_IMAGE_SLOTS)])
def test_hunyuanvideo_15_matches_diffusers(latent, caption, image):
    # the default: text-to-video training without image tokens (train.py); diffusers' inference adds 729 masked slots
    system = load_model("hunyuanvideo-1.5")
    model = diffusers_model("HunyuanVideo15Transformer3DModel", "HUNYUAN_15_720P_T2V")
    assert total(dit_params(system.dit)) == ind.numel(model) == PINNED_DIT_PARAMS["hunyuanvideo-1.5"]
    glyph, siglip = system.dit.context_embedders
    dit = system.dit.model_copy(update={"context_embedders": (glyph, siglip.model_copy(update={"tokens": image}))})
    counted = _hunyuan15_flops(model, latent, caption, glyph.tokens, image)
    assert counted == total(dit_forward_flops(dit, latent[0] * latent[1] * latent[2], caption))


@pytest.mark.parametrize("visual, text", [(76_032, 512), (72, 7)])
def test_open_sora_20_blocks_are_flux_blocks(visual, text):
    system = load_model("open-sora-2.0")
    flux = diffusers_model("FluxTransformer2DModel", "FLUX_AS_OPEN_SORA")
    parts = dit_params(system.dit)
    assert parts["condition_embed"] == (17 * 2 * 2 + 1) * 3072  # cond_in: Linear(64 + 2 x 2, 3072)
    assert total(parts) - parts["condition_embed"] == ind.numel(flux)
    no_cond = system.dit.model_copy(update={"condition_embed_channels": 0})
    counted = ind.count_flops(lambda: flux(hidden_states=_meta(1, visual, 64), encoder_hidden_states=_meta(1, text, 4096), pooled_projections=_meta(1, 768),
                                           timestep=_meta(1), img_ids=_meta(visual, 3), txt_ids=_meta(text, 3), return_dict=False))
    assert counted == total(dit_forward_flops(no_cond, visual, text))


# Hugging Face config.json values (see each component file for its source)
T5_11B = {"d_model": 1024, "d_ff": 65536, "num_layers": 24, "num_heads": 128, "d_kv": 128, "vocab_size": 32128,
          "relative_attention_num_buckets": 32, "feed_forward_proj": "relu", "tie_word_embeddings": True}
BYT5_SMALL_GLYPH = {"d_model": 1472, "d_ff": 3584, "num_layers": 12, "num_heads": 6, "d_kv": 64, "vocab_size": 1510,
                    "relative_attention_num_buckets": 32, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False}
HUNYUAN_CLIP = {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16, "vocab_size": 47020,
                "max_position_embeddings": 512, "type_vocab_size": 2}
QWEN25_VL_7B_TEXT = {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
                     "vocab_size": 152064, "rope_theta": 1e6, "max_position_embeddings": 128000, "tie_word_embeddings": False,
                     "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}}


@pytest.mark.parametrize("name, kind, config, params, caption", [
    ("t5-11b", "t5", T5_11B, 4_864_791_552, 512),  # Cosmos: 512 tokens
    ("byt5-small-glyph", "t5", BYT5_SMALL_GLYPH, 219_314_944, 1000),  # always 256 tokens whatever the caption
    ("hunyuan-clip", "bert", HUNYUAN_CLIP, 352_035_840, 320),  # always 77 tokens
])
def test_new_encoder_text_models_exact(name, kind, config, params, caption):
    spec = component(name)
    model = indc.text_model(kind, config)
    assert total(text_encoder_params(spec)) == indc.numel(model) == params
    tokens = text_encoder_tokens(spec, caption)
    assert indc.text_forward_flops(model, tokens) == total(text_encoder_flops(spec, tokens))


def test_qwen25_vl_text_encoder_exact():
    spec = component("qwen2.5-vl-7b-text")
    assert text_encoder_tokens(spec, 1000) == 108 + 1000  # HunyuanVideo15Pipeline: template 108 + 1000 caption tokens
    full = indc.text_model("qwen2_5_vl_text", QWEN25_VL_7B_TEXT)
    assert total(text_encoder_params(spec)) == indc.numel(full) == 7_070_619_136
    # the DiT reads hidden_states[-3]: a 26-layer model runs exactly what feeds it
    run = indc.text_model("qwen2_5_vl_text", {**QWEN25_VL_7B_TEXT, "num_hidden_layers": spec.layers_run})
    assert spec.layers_run == 26
    assert indc.text_forward_flops(run, 1108) == total(text_encoder_flops(spec, 1108))


def test_step_llm_matches_its_published_checkpoint_size():
    # no implementation installed: stepfun-ai/stepvideo-t2v step_llm holds 9 bf16 shards of 4.98 + 7 x 4.79 + 0.623 GB
    # (sizes as the hub lists them, 3 significant digits), 39.133 GB; 2 bytes a parameter
    params = total(text_encoder_params(component("step-llm")))
    assert params == 19_579_600_896
    assert abs(2 * params / 39.133e9 - 1) < 0.002


def test_hunyuanvideo_15_vae_exact():
    spec = component("hunyuanvideo15-vae")
    model = indc.vae_model("hunyuanvideo15")  # the class defaults are the published configuration
    assert (total(vae_encoder_params(spec)), total(vae_decoder_params(spec))) == indc.vae_part_params(model) == (389_324_544, 871_309_571)
    # tiled (the README's enable_tiling): 272 x 400 pixels are 2 x 2 tiles of up to 256 every 192, edge tiles 80 and
    # 208 wide; latents 17 x 25 are 2 x 3 tiles of up to 16 every 12 (edges 5; 13 and 1)
    model.use_tiling = True
    assert indc.vae_encode_flops(model, 5, 272, 400) == total(vae_encoder_flops(spec, 5, 272, 400))
    assert indc.vae_decode_flops(model, 2, 17, 25) == total(vae_decoder_flops(spec, 2, 17, 25))
    model.use_tiling = False
    whole = spec.model_copy(update={"spatial_tiling": False})
    assert indc.vae_encode_flops(model, 5, 64, 96) == total(vae_encoder_flops(whole, 5, 64, 96))
    assert indc.vae_decode_flops(model, 3, 4, 6) == total(vae_decoder_flops(whole, 3, 4, 6))


def test_cosmos_modulated_cross_block_saves_what_diffusers_keeps():
    model = ind.meta_free("CosmosTransformer3DModel", dict(in_channels=8, out_channels=8, num_attention_heads=HEADS, attention_head_dim=HEAD_DIM,
                                                           num_layers=1, text_embed_dim=64, adaln_lora_dim=16, extra_pos_embed_type=None,
                                                           concat_padding_mask=False))
    block = model.transformer_blocks[0]
    rms = AttentionOptions(qkv_bias=False, out_bias=False, qk_norm=QKNorm(kind="rms"))
    spec = spec_with(CrossBlock(count=1, norm="layer", cross_norm="layer", cross_modulated=True, attention=rms, cross_attention=rms,
                                mlp=MLPOptions(activation="gelu", hidden=4 * D, bias=False), modulation=Modulation(kind="low_rank", outputs=9, groups=3, rank=16)),
                     caption_projection="none", text_feature_dim=64, conditioning=Conditioning(width=D, timestep_freq_dim=D))

    def case():
        torch.manual_seed(0)
        x, y = torch.randn(1, N, D, requires_grad=True), torch.randn(1, L, 64, requires_grad=True)
        emb, temb = torch.randn(1, D, requires_grad=True), torch.randn(1, 3 * D, requires_grad=True)
        rope = (torch.randn(N, HEAD_DIM), torch.randn(N, HEAD_DIM))
        return (lambda: block(x, y, emb, temb, rope)), [x, y], (emb, temb, *rope, y)

    call, _, shared = case()
    measured, predicted = measured_bytes(block, call, shared), predicted_bytes(spec, "none")
    assert abs(predicted / measured - 1) <= TOLERANCE, (predicted, measured)
    call, kept, shared = case()
    measured, predicted = selective_bytes(block, call, kept, shared), predicted_bytes(spec, "selective")
    assert abs(predicted / measured - 1) <= TOLERANCE, (predicted, measured)
