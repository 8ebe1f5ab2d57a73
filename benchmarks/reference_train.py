"""Train the default reference system from scratch on this CPU, time it, and score it.

Prints the wall time of training and the adherence of the trained model against an untrained one on
held-out prompts, and writes a frame strip of generated samples (docs/reference-samples.png).

Usage: python benchmarks/reference_train.py [--config default|quick] [--out runs/reference-bench]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

EXIT_BAD_INPUT = 2

SAMPLE_PROMPTS = [
    "a large red circle moves right quickly on a dark flat background the camera is still",
    "a large yellow square moves left quickly on a teal flat background the camera is still",
    "a large blue circle moves down quickly on a grey flat background the camera is still",
    "a large green square moves up quickly on a dark striped background the camera pans",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="default")
    parser.add_argument("--out", type=Path, default=Path("runs/reference-bench"))
    parser.add_argument("--strip", type=Path, default=Path("docs/reference-samples.png"))
    args = parser.parse_args()
    try:
        from reference_model.pipeline import evaluate_run, sample_strip, train
    except ImportError as exc:  # the core install (pip install -e .) has no torch
        print(f"error: this benchmark needs torch and the other test extras: python3 -m pip install -e '.[test]' ({exc})", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    shutil.rmtree(args.out, ignore_errors=True)
    start = time.perf_counter()
    result = train(args.config, args.out)
    elapsed = time.perf_counter() - start
    scores = evaluate_run(args.out)
    sample_strip(args.out, SAMPLE_PROMPTS, args.strip)
    print(f"config {args.config}: trained in {elapsed / 60:.1f} min (VAE loss {result['vae_losses'][-1]:.3f}, DiT loss {result['dit_losses'][-1]:.3f})")
    print(f"adherence {scores['adherence']:.2f} vs untrained {scores['baseline_adherence']:.2f} "
          f"(colour {scores['colour']:.2f} vs {scores['baseline_colour']:.2f}, direction {scores['direction']:.2f} vs {scores['baseline_direction']:.2f}) "
          f"on {scores['prompts']} held-out prompts")
    print(f"temporal consistency {scores['temporal_consistency']:.2f} vs untrained {scores['baseline_temporal_consistency']:.2f}")
    print(f"sample strip: {args.strip}")


if __name__ == "__main__":
    main()
