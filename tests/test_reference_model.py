"""The reference model: fvcore counts equal the estimators', the VAE keeps 6k+1 frames, training resumes
bit for bit, generated files open with PyAV, evaluation reports against an untrained baseline."""
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from estimators.counts.dit import dit_forward_flops, dit_params
from estimators.counts.text_encoders import t5_encoder_flops, t5_encoder_params
from estimators.counts.vaes import vae_decoder_flops, vae_decoder_params, vae_encoder_flops, vae_encoder_params
from estimators.specs.asymm_dit import asymm_to_video_dit
from plan_cli.main import app
from reference_model.counting import analyse, flops_by_module, parameters  # fvcore
from reference_model.dit import AsymmDiT
from reference_model.pipeline import train
from reference_model.system import load_config
from reference_model.text_encoder import T5Encoder
from reference_model.vae import VideoVAE
from reference_model.video_io import read_video  # PyAV

TINY = str(Path(__file__).parent / "reference_tiny.yaml")
DEFAULT = load_config("default")


def variant(depth, heads, head_dim, visual, text_width, text_tokens, patch, t5_layers, t5_width):
    """A config differing from the default in depth, widths, heads, text length, patch and T5 size."""
    dit = DEFAULT.dit.model_copy(update=dict(num_layers=depth, num_heads=heads, head_dim=head_dim, visual_width=visual,
                                             cond_width=visual, text_width=text_width, max_text_tokens=text_tokens,
                                             patch_size=patch, text_feature_dim=t5_width))
    t5 = DEFAULT.text_encoder.model_copy(update=dict(num_layers=t5_layers, d_model=t5_width))
    return dit, t5


CONFIGS = [
    # (dit, t5, frames, height, width)
    (DEFAULT.dit, DEFAULT.text_encoder, 19, 32, 32),
    (*variant(3, 2, 32, 80, 48, 9, 2, 1, 32), 13, 48, 32),
    (*variant(5, 6, 16, 72, 40, 12, 1, 3, 96), 25, 16, 40),
]


@pytest.mark.parametrize("dit_spec, t5_spec, frames, height, width", CONFIGS)
def test_fvcore_counts_equal_estimators(dit_spec, t5_spec, frames, height, width):
    vae_spec = DEFAULT.vae
    latent = ((frames - 1) // 6 + 1, height // 8, width // 8)
    tokens = latent[0] * (latent[1] // dit_spec.patch_size) * (latent[2] // dit_spec.patch_size)
    text = dit_spec.max_text_tokens
    dit = AsymmDiT(dit_spec).eval()
    inputs = (torch.randn(1, 12, *latent), torch.rand(1), torch.randn(1, text, dit_spec.text_feature_dim), torch.ones(1, text, dtype=torch.bool))
    counted = flops_by_module(analyse(dit, inputs))
    expected = dit_forward_flops(asymm_to_video_dit(dit_spec), tokens, text)
    assert counted[""] == sum(expected.values())
    assert counted["blocks"] == expected["attention"] + expected["linear_visual"] + expected["linear_text"] + expected["modulation"]
    assert counted["final_mod"] + counted["final_proj"] == expected["final_layer"]
    assert parameters(dit)[""] == sum(dit_params(asymm_to_video_dit(dit_spec)).values())
    vae = VideoVAE(vae_spec).eval()
    encoder = flops_by_module(analyse(vae.encoder, (torch.rand(1, 3, frames, height, width),)))
    enc_expected = vae_encoder_flops(vae_spec, frames, height, width)
    assert encoder[""] == sum(enc_expected.values())
    for i in range(1, len(vae_spec.encoder_stages)):
        assert encoder[f"entries.{i}"] + encoder[f"stages.{i}"] == enc_expected[f"stage{i}"]
    decoder = flops_by_module(analyse(vae.decoder, (torch.randn(1, 12, *latent),)))
    assert decoder[""] == sum(vae_decoder_flops(vae_spec, *latent).values())
    assert parameters(vae.encoder)[""] == sum(vae_encoder_params(vae_spec).values())
    assert parameters(vae.decoder)[""] == sum(vae_decoder_params(vae_spec).values())
    t5 = T5Encoder(t5_spec).eval()
    ids, mask = torch.zeros(1, text, dtype=torch.long), torch.ones(1, text, dtype=torch.bool)
    assert flops_by_module(analyse(t5, (ids, mask)))[""] == sum(t5_encoder_flops(t5_spec, text).values())
    assert parameters(t5)[""] == sum(t5_encoder_params(t5_spec).values())


@pytest.mark.parametrize("frames", [1, 7, 13, 25])
def test_vae_round_trips_6k_plus_1_frames(frames):
    vae = VideoVAE(DEFAULT.vae).eval()
    with torch.no_grad():
        z = vae.encode(torch.rand(1, 3, frames, 16, 24) * 2 - 1)
        assert z.shape == (1, 12, (frames - 1) // 6 + 1, 2, 3)
        assert vae.decode(z).shape == (1, 3, frames, 16, 24)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = train(TINY, out)
    return out, result


def test_resume_after_interrupt_repeats_the_losses_bit_for_bit(tiny_run, tmp_path):
    _, uninterrupted = tiny_run
    interrupted = train(TINY, tmp_path, stop_after=3)  # checkpoint at step 3, then the "crash"
    assert interrupted["dit_step"] == 3
    resumed = train(TINY, tmp_path)
    assert resumed["dit_losses"] == uninterrupted["dit_losses"]
    assert len(resumed["dit_losses"]) == 6


@pytest.mark.parametrize("suffix", ["mp4", "webm", "avi"])
def test_generated_file_opens_with_requested_shape(tiny_run, tmp_path, suffix):
    out, _ = tiny_run
    path = tmp_path / f"clip.{suffix}"
    prompt = json.dumps({"prompt": "a large red circle moves left quickly", "frames": 13, "fps": 10, "seed": 3})
    result = CliRunner().invoke(app, ["reference", "generate", prompt, "-o", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    frames, fps = read_video(path)
    assert frames.shape == (13, 32, 32, 3)
    assert fps == 10


def test_evaluate_reports_against_baseline(tiny_run):
    out, _ = tiny_run
    result = CliRunner().invoke(app, ["reference", "evaluate", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    for key in ("adherence", "baseline_adherence", "temporal_consistency"):
        assert 0 <= doc[key] <= 1
    import jsonschema

    jsonschema.validate(doc, json.loads(CliRunner().invoke(app, ["schema", "reference-evaluate"]).stdout))
    assert doc["kind"] == "reference-evaluate" and doc["schema_version"]


def test_generate_without_a_run_is_one_line_error(tmp_path):
    result = CliRunner().invoke(app, ["reference", "generate", "a red circle", "-o", str(tmp_path / "x.mp4"), "--out", str(tmp_path / "none")])
    assert result.exit_code == 2 and result.stderr.startswith("error:")


def test_the_readme_reference_commands_run_on_a_trained_run(tiny_run, tmp_path, monkeypatch):
    import shlex

    from tests.test_readme_commands import NEEDING_TORCH

    out, _ = tiny_run
    monkeypatch.chdir(tmp_path)
    commands = [c for c in NEEDING_TORCH if c.split()[1] == "reference" and c.split()[2] in ("generate", "evaluate")]
    assert len(commands) >= 3
    for command in commands:
        result = CliRunner().invoke(app, shlex.split(command)[1:] + ["--out", str(out)])
        assert result.exit_code == 0, f"{command}: {result.output}"
    frames, fps = read_video(tmp_path / "blue.webm")
    assert frames.shape[0] == 25 and fps == 12  # the README's JSON prompt: 25 frames at 12 fps


@pytest.mark.parametrize("fps", [12.5, 29.97])
def test_the_frame_rate_printed_is_the_one_written(tiny_run, tmp_path, fps):
    out, _ = tiny_run
    path = tmp_path / "clip.mp4"
    result = CliRunner().invoke(app, ["reference", "generate", json.dumps({"prompt": "a red circle", "fps": fps}), "-o", str(path),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    _, written = read_video(path)
    assert written == pytest.approx(fps) and f"at {fps:g} fps" in result.output
