"""Saved activations of every preset's diffusers class at full size in bf16 (measured on the meta device with
fused attention and RMSNorm, tests/saved_fullsize.py) against the planner's implementations: prints, per
preset, the measured GB, the 'diffusers' estimate and the plain-PyTorch convention as ratios.

    PYTHONPATH=$PWD python3 -m benchmarks.saved_memory_fullsize
"""
from estimators.catalog.models import load_model
from estimators.counts.geometry import clip_geometry
from estimators.counts.saved_lora import model_saved_bytes
from tests import saved_fullsize as measured
from tests.test_fullsize_memory import MOCHI
from tests.test_video_dit_exact import PRESETS


def main() -> None:
    print(f"{'preset':18s} {'measured GB':>12s} {'diffusers':>10s} {'pytorch-reference':>18s} {'outside blocks GB':>18s}")
    for preset, cls_name, config, latent in (MOCHI, *PRESETS):
        system = load_model(preset)
        clip = system.default_clip
        geo = clip_geometry(system.vae, system.dit, clip.frames, clip.height, clip.width)
        got = measured.measure_preset(cls_name, config, latent, clip.text_tokens).total
        parts = {impl: model_saved_bytes(system.dit, geo.visual_tokens, clip.text_tokens, impl, "none", 2)
                 for impl in ("diffusers", "pytorch-reference")}
        ratios = [sum(p.values()) / got for p in parts.values()]
        outside = sum(v for k, v in parts["diffusers"].items() if not k.startswith("blocks"))
        print(f"{preset:18s} {got / 1e9:12.1f} {ratios[0]:9.3f}x {ratios[1]:17.3f}x {outside / 1e9:18.2f}")


if __name__ == "__main__":
    main()
