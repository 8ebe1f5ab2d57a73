"""Model files: the bundled examples load and plan; a file with several mistakes gets every one back,
one plain line each, with exit code 2."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from estimators.catalog.models import load_model
from plan_cli.main import app

EXAMPLES = sorted((Path(__file__).parent.parent / "examples" / "models").glob("*.yaml"))
runner = CliRunner()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_load(path):
    assert load_model(str(path)).name.startswith("my-")


def test_five_mistakes_give_five_lines_and_exit_2(tmp_path):
    text = (EXAMPLES[0].parent / "video-dit-cross-attention.yaml").read_text()
    for old, new in [
        ("num_heads: 12 ", "num_heads: abc "),        # not a number
        ("count: 20", "count: 0"),                      # below 1
        ("rope: fixed_3d", "rope: learned"),            # not an allowed choice
        ("  patch_size: 2 ", "  patch_sise: 2 "),       # misspelt field (one problem, not also 'patch_size missing')
        ("vae: wan-vae", "vae: wan-vea"),               # unknown component
    ]:
        assert old in text
        text = text.replace(old, new)
    bad = tmp_path / "five.yaml"
    bad.write_text(text)
    result = runner.invoke(app, ["estimate", "--model", str(bad)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    expected = [
        "dit.num_heads: expected a whole number, got 'abc'",
        "dit.blocks[0].count: expected a whole number >= 1, got 0",
        "dit.rope: expected one of 'none', 'fixed_3d' or 'learned_3d', got 'learned'",
        "dit.patch_sise: not a field; did you mean 'patch_size'?",
        "vae: unknown component 'wan-vea'",
    ]
    assert len(lines) == 5, result.stderr
    for fragment in expected:
        assert sum(fragment in line for line in lines) == 1, (fragment, result.stderr)
    assert "Extra inputs" not in result.stderr and "Input should" not in result.stderr


@pytest.mark.parametrize("preset, option, rule", [
    ("wan2.1-t2v-14b", ["--frames", "80"], "frames must be 4k+1"),
    ("hunyuanvideo-13b", ["--frames", "128"], "frames must be 4k+1"),
    ("cogvideox-2b", ["--frames", "50"], "frames must be 4k+1"),
    ("ltx-video-2b", ["--frames", "160"], "frames must be 8k+1"),
    ("ltx-video-2b", ["--height", "500"], "multiple of 32"),  # 32x spatial VAE, 1x1 patches
    ("wan2.1-t2v-1.3b", ["--text-tokens", "513"], "exceeds the model's 512"),
])
def test_clip_rules_of_each_vae_in_the_message(preset, option, rule):
    result = runner.invoke(app, ["estimate", "--model", preset, *option])
    assert result.exit_code == 2 and rule in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("preset", ["wan2.1-t2v-14b", "hunyuanvideo-13b", "cogvideox-5b", "ltx-video-2b", "mochi-10b"])
def test_every_preset_plans_at_its_clip_with_the_json_keys(preset):
    import json

    result = runner.invoke(app, ["estimate", "--model", preset, "--gpus", "H100x256", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    for key in ("dit", "text_encoder", "vae_encoder", "vae_decoder"):
        assert doc["params"][key] > 0
    assert doc["tokens_per_sample"]["visual"] > 0 and doc["tokens_per_sample"]["text"] > 0
    assert doc["flops_per_sample"]["dit_forward"] > 0
    assert "params_vs_published" in doc and "notes" in doc["model"]


@pytest.mark.parametrize("preset", ["wan2.1-t2v-14b", "hunyuanvideo-13b", "cogvideox-2b", "ltx-video-2b", "mochi-10b"])
def test_training_problem_keeps_every_forward_flop(preset):
    # the per-layer averages the layout search uses add back up to the DiT's forward FLOPs
    from estimators.counts.dit import dit_forward_flops
    from estimators.counts.problem import video_problem
    from estimators.specs.workload import TrainingStage, Workload

    system = load_model(preset)
    clip = system.default_clip
    stage = TrainingStage(name="s", height=clip.height, width=clip.width, frames=clip.frames, text_tokens=clip.text_tokens, steps=1, global_batch=8)
    prob = video_problem(system, stage, Workload(stages=(stage,)))
    total = sum(dit_forward_flops(system.dit, prob.streams[0].tokens, clip.text_tokens).values())
    assert prob.forward_flops == pytest.approx(total, rel=1e-12)
