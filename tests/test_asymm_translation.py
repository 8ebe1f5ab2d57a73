"""The legacy asymm_dit input, translated into the block vocabulary, counts what the model it describes computes.

Each variant of the AsymmDiTSpec builds reference_model.dit.AsymmDiT (the PyTorch Mochi-like model, from the
AsymmDiTSpec itself) and is compared, to the unit, with the counts of asymm_to_video_dit(spec):
- parameters: numel of the reference model (weights tied between streams counted once);
- forward FLOPs at batch 1: torch.utils.flop_counter.FlopCounterMode. Mochi projects and pools the padded
  caption of max_text_tokens rows and runs its blocks on the valid text tokens only; the reference model's
  forward hands its blocks the whole padded caption (masked), so its blocks are counted again on
  [visual; valid text] (reference_blocks_flops);
- saved activations: the bytes each block keeps for backward (saved_tensors_hooks, reference_model.profiling)
  per visual and per text token, as the difference between two clips: what every sample keeps once
  (modulation vectors, the conditioning's activations) cancels.
The Mochi preset written in the vocabulary is the translation of Mochi's legacy description.
"""
from pathlib import Path

import pytest
import yaml

from estimators.catalog.models import load_model
from estimators.counts.blocks import block_saved
from estimators.counts.dit import dit_forward_flops, dit_params
from estimators.specs.asymm_dit import AsymmDiTSpec, asymm_to_video_dit
from estimators.specs.dit_blocks import VideoDiTSpec
from tests.independent import MOCHI_LAYOUT, numel
from tests.test_exact_counts import DIT_PARAMS, FULL_BLOCK_PARAMS, LAST_BLOCK_PARAMS

torch = pytest.importorskip("torch")

from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from reference_model.dit import AsymmDiT  # noqa: E402
from reference_model.profiling import block_saved_bytes  # noqa: E402
from reference_model.system import load_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# The reference config's DiT: 4 blocks, 4 heads of 24 (attention 96), visual 96, text 64, 16 caption tokens, T5 width 64.
BASE = load_config("default").dit
VARIANTS = {
    "mochi_layout": {},
    "shared_text_stream": {"text_stream": "shared", "text_width": BASE.visual_width, "last_block_updates_text": True},
    "no_learned_rope": {"learned_rope": False},
    "no_caption_pool": {"attn_pool_heads": 0},
    "gelu_mlp": {"mlp_activation": "gelu"},
    "last_block_updates_text": {"last_block_updates_text": True},
    "no_qk_norm": {"qk_norm": False},
    "visual_wider_than_attention": {"visual_width": 104, "cond_width": 104},
}
# (latent frames, height, width) with 1x1 patches, and valid caption tokens (at most the config's 16)
CLIPS = [((4, 4, 4), 16), ((3, 4, 6), 0), ((2, 6, 4), 5)]
FP32 = 4  # the reference model runs in fp32: activations and statistics alike
# The reference masks caption padding with an additive fp32 attention mask, one value a token, that each
# block's attention keeps for backward (Mochi drops the padding instead; the derivation leaves it out).
MASK_BYTES_PER_TOKEN = FP32


def variant(name: str) -> AsymmDiTSpec:
    return BASE.model_copy(update=VARIANTS[name])


def model_inputs(spec: AsymmDiTSpec, latent: tuple, text: int) -> tuple:
    torch.manual_seed(0)
    return (torch.randn(1, spec.in_channels, *latent), torch.rand(1), torch.randn(1, text, spec.text_feature_dim),
            torch.ones(1, text, dtype=torch.bool))


def count_flops(fn) -> int:
    """FlopCounterMode's count. It has no formula for the CPU flash kernel the reference's masked attention
    takes, so attention runs on PyTorch's math backend: the same score and value products as batched matmuls."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
        fn()
    return counter.get_total_flops()


def reference_blocks_flops(model: AsymmDiT, inputs: tuple, valid_text: int) -> int:
    """FLOPs of the reference's blocks run on the visual tokens and the first ``valid_text`` caption rows,
    from the inputs its own forward hands the first block."""
    captured = {}
    handle = model.blocks[0].register_forward_pre_hook(lambda module, args: captured.setdefault("args", args))
    with torch.no_grad():
        model(*inputs)
    handle.remove()
    x, y, cond, rope, mask = captured["args"]
    y, mask = y[:, :valid_text], mask[:, :valid_text]

    def run():
        nonlocal x, y
        for block in model.blocks:
            x, y = block(x, y, cond, rope, mask)

    return count_flops(run)


def reference_forward_flops(spec: AsymmDiTSpec, model: AsymmDiT, latent: tuple, valid_text: int) -> int:
    """Mochi's forward at batch 1: the reference's own forward on the padded caption, its blocks replaced by
    the blocks on the valid text rows."""
    inputs = model_inputs(spec, latent, spec.max_text_tokens)
    whole = count_flops(lambda: model(*inputs))
    padded_blocks = reference_blocks_flops(model, inputs, spec.max_text_tokens)
    return whole - padded_blocks + reference_blocks_flops(model, inputs, valid_text)


@pytest.mark.parametrize("name", VARIANTS)
def test_translated_variant_parameters_match_the_reference_model(name):
    spec = variant(name)
    assert numel(AsymmDiT(spec)) == sum(dit_params(asymm_to_video_dit(spec)).values())


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("latent, valid_text", CLIPS)
def test_translated_variant_forward_flops_match_the_reference_model(name, latent, valid_text):
    spec = variant(name)
    visual_tokens = latent[0] * latent[1] * latent[2]
    expected = sum(dit_forward_flops(asymm_to_video_dit(spec), visual_tokens, valid_text).values())
    assert reference_forward_flops(spec, AsymmDiT(spec).eval(), latent, valid_text) == expected


def measured_block_bytes(spec: AsymmDiTSpec, recompute: str, frames: int, text: int) -> list[int]:
    """Bytes each block keeps for backward at batch 1 on a clip of frames x 4 x 4 latent positions."""
    model = AsymmDiT(spec, recompute=recompute)
    return block_saved_bytes(model, model_inputs(spec, (frames, 4, 4), text))


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("recompute", ["none", "selective", "full"])
def test_translated_variant_saved_bytes_per_token_match_the_reference_model(name, recompute):
    spec = variant(name)
    translated = asymm_to_video_dit(spec)
    predicted = [block_saved(translated, group, recompute) for group in translated.blocks for _ in range(group.count)]
    base = measured_block_bytes(spec, recompute, 4, 8)
    more_visual = measured_block_bytes(spec, recompute, 6, 8)  # 2 more latent frames: 32 more visual tokens
    more_text = measured_block_bytes(spec, recompute, 4, 16)  # 8 more caption tokens
    mask = MASK_BYTES_PER_TOKEN if recompute == "none" else 0  # only the attention keeps its mask
    assert len(predicted) == len(base) == spec.num_layers
    for (visual, text), b, v, t in zip(predicted, base, more_visual, more_text, strict=True):
        assert (v - b) / 32 == FP32 * (visual.activation + visual.stats) + mask
        assert (t - b) / 8 == FP32 * (text.activation + text.stats) + mask


def test_mochi_preset_is_the_translation_of_mochis_legacy_description(mochi):
    assert isinstance(mochi.dit, VideoDiTSpec)
    assert asymm_to_video_dit(MOCHI_LAYOUT) == mochi.dit


def test_reference_model_at_mochi_size_has_mochis_parameters():
    # mochi-architecture.md: 10,027,677,744 parameters; reference_model/dit.py built on the meta device
    with torch.device("meta"):
        model = AsymmDiT(MOCHI_LAYOUT)
    assert numel(model) == DIT_PARAMS
    assert numel(model.blocks[0]) == FULL_BLOCK_PARAMS and numel(model.blocks[-1]) == LAST_BLOCK_PARAMS


def test_legacy_files_load_into_the_vocabulary():
    # examples/models/asymm-dit.yaml is Mochi at 24 blocks: Mochi's parts outside the blocks
    # 10,027,677,744 - 47 x 207,641,600 - 169,886,720 = 98,635,824, then 23 full blocks and the last one:
    # 98,635,824 + 23 x 207,641,600 + 169,886,720 = 5,044,279,344
    example = load_model(str(REPO / "examples" / "models" / "asymm-dit.yaml"))
    assert isinstance(example.dit, VideoDiTSpec)
    assert [group.count for group in example.dit.blocks] == [23, 1]
    assert sum(dit_params(example.dit).values()) == 5_044_279_344
    for path in (REPO / "tests" / "reference_tiny.yaml", *sorted((REPO / "reference_model" / "configs").glob("*.yaml"))):
        legacy = AsymmDiTSpec.model_validate(yaml.safe_load(path.read_text())["dit"])
        assert numel(AsymmDiT(legacy)) == sum(dit_params(asymm_to_video_dit(legacy)).values()), path
