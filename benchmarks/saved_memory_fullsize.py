"""Saved activations of every preset's diffusers class at full size in bf16 (measured on the meta device with
fused attention and torch's F.rms_norm, diffusers' own RMSNorm / MochiRMSNorm eager as on a GPU,
tests/saved_fullsize.py) against the planner's implementations: prints, per preset, the measured GB, the
'diffusers' estimate and the plain-PyTorch convention as ratios. Printed (diffusers 0.42.1, torch 2.13.0), GB and
diffusers / pytorch-reference ratios: mochi-10b 630.4 1.000x 0.686x; wan2.1-t2v-14b 437.6 1.000x 0.846x;
wan2.1-t2v-1.3b 117.6 1.000x 0.870x; hunyuanvideo-13b 1189.6 1.000x 0.815x; cogvideox-5b 106.7 1.000x 0.957x;
cogvideox-2b 47.7 1.000x 0.957x; ltx-video-2b 27.5 0.996x 0.904x; wan2.2-t2v-a14b (one expert) 1009.0 1.000x.

    PYTHONPATH=$PWD python3 -m benchmarks.saved_memory_fullsize
"""
from estimators.catalog.models import load_model
from estimators.counts.geometry import clip_geometry
from estimators.counts.saved_lora import model_saved_bytes
from tests import saved_fullsize as measured
from tests.test_fullsize_memory import COSMOS, MOCHI, WAN22
from tests.test_video_dit_exact import PRESETS


def main() -> None:
    print(f"{'preset':18s} {'measured GB':>12s} {'diffusers':>10s} {'pytorch-reference':>18s} {'outside blocks GB':>18s}")
    for preset, cls_name, config, latent in (MOCHI, *PRESETS, WAN22, COSMOS):
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
