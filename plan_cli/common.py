"""What every `plan` command shares: option types, one-line errors, JSON output."""
from __future__ import annotations

import inspect
import json
import sys
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from estimators.catalog.files import malformed_data, users_data_folder
from estimators.errors import PlanInputError
from estimators.specs.messages import plain_words
from plan_cli.validation import COMMAND_CONTEXT, non_finite_keys, option_spelling

EXIT_BAD_INPUT = 2
# What reading tables of a malformed data folder raises (a missing key, a number where a mapping belongs).
MALFORMED_DATA = (KeyError, TypeError, IndexError, AttributeError)
GB = 1e9

# Options shared by every command that plans a run (estimate, simulate).
Gpus = Annotated[str, typer.Option(help="Cluster as NAMExCOUNT, e.g. H100x512; for plan estimate with --deadline-days or --budget-usd, kinds without counts, e.g. H100,H200,B200.")]
Model = Annotated[str, typer.Option(help="Preset name or a YAML/JSON model file.")]
Height = Annotated[Optional[int], typer.Option(help="Clip height in pixels [default: the model's clip].")]
Width = Annotated[Optional[int], typer.Option(help="Clip width in pixels [default: the model's clip].")]
Frames = Annotated[Optional[int], typer.Option(help="Frames a clip, by the VAE's rule (Mochi 6k+1, Wan/HunyuanVideo/CogVideoX/Cosmos 4k+1, LTX 8k+1, Step-Video 17k) [default: the model's clip].")]
Fps = Annotated[Optional[float], typer.Option(help="Frames per second [default: the model's].")]
TextTokens = Annotated[Optional[int], typer.Option(help="Caption tokens a clip [default: the model's].")]
Clips = Annotated[int, typer.Option(help="Distinct clips in the dataset.")]
Epochs = Annotated[float, typer.Option(help="Passes over the dataset.")]
Steps = Annotated[Optional[int], typer.Option(help="Optimizer steps (overrides clips x epochs).")]
GlobalBatch = Annotated[int, typer.Option(help="Clips per optimizer step.")]
Precision = Annotated[str, typer.Option(help="Compute precision: bf16 or fp8.")]
LayoutText = Annotated[Optional[str], typer.Option("--layout", help="Fixed layout 'tp=1,pp=1,cp=1,dp=512,zero=3,micro_batch=1,recompute=full'; without dp, the given knobs are pinned and the rest searched.")]
Stages = Annotated[list[str], typer.Option("--stage", help="A training stage as key=value pairs overriding the clip options, e.g. 'height=240,width=432,steps=20000'; repeat for several stages.")]
WorkloadFile = Annotated[Optional[Path], typer.Option("--workload", help="YAML/JSON workload file with stages (replaces the clip options).")]
OnlineText = Annotated[bool, typer.Option(help="Run T5 every step instead of precomputing embeddings.")]
OnlineLatents = Annotated[bool, typer.Option(help="Run the VAE encoder every step instead of precomputing latents.")]
Objective = Annotated[str, typer.Option(help="Rank searched layouts by 'time' or 'cost' (GPU-seconds x price; on one fixed cluster the same order as time: to choose GPU kind and count by cost, use plan estimate --deadline-days or --budget-usd).")]
Prices = Annotated[list[str], typer.Option("--price", help="Override a GPU's price: KIND=USD per GPU-hour, e.g. H100=2.49. Repeatable.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]
Kernel = Annotated[Optional[str], typer.Option(help="Attention kernel: cudnn, flash-attention-3, flash-attention-3-fp8, flash-attention-2 or unfused (default: cudnn on Hopper and Blackwell, flash-attention-2 on A100).")]
ExpertsResident = Annotated[Optional[str], typer.Option(help="A model split into experts by noise level (wan2.2-t2v-a14b): 'one' trains each expert in a run of its own, one expert in memory; 'all' trains them in one run holding every expert [default: the model's].")]
Stack = Annotated[Optional[str], typer.Option(help="Training stack: its overlaps, what it saves for backward and how it keeps model states: megatron-core (default), diffusers-fsdp2, pytorch-fsdp2, megatron-lm-2021 or no-overlap.")]
TrainingText = Annotated[Optional[str], typer.Option("--training", help="What is trained and how its states are kept, as key=value pairs: method=full|lora, lora_rank=16, lora_targets=attention|all-linear, states=mixed|bf16, optimizer=adamw|adamw-8bit, frozen_weights=bf16|nf4 (LoRA base).")]



def friendly_errors(command):
    """Bad input: one line on stderr and exit code 2, never a traceback. A spec built from the options that
    fails its checks is worded with the options as typed (option_spelling). The command also receives its
    typer context, kept in COMMAND_CONTEXT while it runs (which options were typed, how each is spelled)."""
    signature = inspect.signature(command, eval_str=True)

    @wraps(command)
    def wrapper(ctx: typer.Context, **kwargs):
        token = COMMAND_CONTEXT.set(ctx)
        try:
            return command(**kwargs)
        except PlanInputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except ValidationError as exc:
            typer.echo(f"error: {plain_words(exc, option_spelling())}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except MALFORMED_DATA as exc:
            if not users_data_folder():
                raise  # the bundled data are tested: this is a bug, shown in full
            typer.echo(f"error: {malformed_data(exc)}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        finally:
            COMMAND_CONTEXT.reset(token)

    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
    wrapper.__signature__ = signature.replace(parameters=[*signature.parameters.values(), context])
    return wrapper


def emit_json(document: dict) -> None:
    """One JSON document on stdout; strict JSON, so a non-finite figure is an error, never 'NaN' or 'Infinity'."""
    try:
        text = json.dumps(document, indent=2, default=float, allow_nan=False)
    except ValueError:
        raise PlanInputError(f"the result holds a non-finite figure ({non_finite_keys(document)[0]}): the inputs are out of the model's range") from None
    sys.stdout.write(text + "\n")


@contextmanager
def input_errors(*kinds: type[Exception]):
    """Turn the given exception types into PlanInputError (a missing run folder, a bad prompt)."""
    try:
        yield
    except kinds as exc:
        raise PlanInputError(str(exc)) from None
