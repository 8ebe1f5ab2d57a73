"""Model files: the bundled examples load and plan; a file with several mistakes gets every one back,
one plain line each, with exit code 2."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from estimators.presets import load_model
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
        "dit.rope: expected one of 'none' or 'fixed_3d', got 'learned'",
        "dit.patch_sise: not a field; did you mean 'patch_size'?",
        "vae: unknown component 'wan-vea'",
    ]
    assert len(lines) == 5, result.stderr
    for fragment in expected:
        assert sum(fragment in line for line in lines) == 1, (fragment, result.stderr)
    assert "Extra inputs" not in result.stderr and "Input should" not in result.stderr
