"""`plan serve`: latency, memory and throughput of serving a model on replicas of 1-8 GPUs; with a demand,
the cheapest fleet that meets it (parses, delegates, prints)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from estimators.catalog.gpus import parse_gpus
from estimators.catalog.models import load_model
from estimators.catalog.prices import parse_price_overrides, with_price
from estimators.documents.outputs import resolve_target
from estimators.documents.schema import emitted
from estimators.errors import PlanInputError
from estimators.serving.plan import serve_plan, serving_kernel
from estimators.serving.request import MAX_BATCH, ServeRequest, serve_request_for
from estimators.specs.models import VideoSystemSpec
from estimators.specs.serving import Demand
from estimators.time.kernels import attention_kernel
from plan_cli.common import AsJson, Fps, Frames, Height, Model, Prices, TextTokens, Width, emit_json, friendly_errors
from plan_cli.inputs import build
from plan_cli.render import terminal
from plan_cli.render_serving import print_serve_plan
from plan_cli.validation import check_input_file, option_label, spelled_as

PERCENTILE_OPTIONS = {50: "p50_s", 95: "p95_s", 99: "p99_s"}
HOURS = 24
MAX_BATCHES = 8
DEFAULT_SIM_REQUESTS = 200_000  # about 0.3 s; the p95 of 180,000 after warm-up is within 1% of the formula's


def _numbers(text: str, option: str, kind=float) -> tuple:
    """'1,2,4' -> (1, 2, 4); a one-line error naming the option otherwise."""
    try:
        values = tuple(kind(part) for part in text.split(","))
    except ValueError:
        raise PlanInputError(f"{option} '{text}': expected comma-separated numbers") from None
    return values


def _target(p50_s: Optional[float], p95_s: Optional[float], p99_s: Optional[float]) -> tuple[Optional[int], Optional[float]]:
    given = [(q, v) for q, v in ((50, p50_s), (95, p95_s), (99, p99_s)) if v is not None]
    if len(given) > 1:
        raise PlanInputError(f"{option_label(PERCENTILE_OPTIONS[given[0][0]])} and {option_label(PERCENTILE_OPTIONS[given[1][0]])} "
                             "cannot be combined: give one latency target")
    return given[0] if given else (None, None)


def _demand(clips_per_hour, hourly_profile, p50_s, p95_s, p99_s, availability) -> Optional[Demand]:
    percentile, target = _target(p50_s, p95_s, p99_s)
    if clips_per_hour is None:
        if target is not None or hourly_profile is not None:
            raise PlanInputError("a latency target or an hourly profile needs --clips-per-hour")
        return None
    if target is None:
        raise PlanInputError("--clips-per-hour needs a latency target: --p95-s SECONDS (or --p50-s, --p99-s)")
    profile = None if hourly_profile is None else _numbers(hourly_profile, "--hourly-profile")
    if profile is not None and len(profile) != HOURS:
        raise PlanInputError(f"--hourly-profile: expected {HOURS} weights (one an hour), got {len(profile)}")
    spelling = spelled_as({"latency_target_s": (PERCENTILE_OPTIONS[percentile], 1.0)})
    return build(Demand, dict(clips_per_hour=clips_per_hour, hourly_profile=profile, percentile=percentile,
                              latency_target_s=target, availability=availability), spelling)


def serve_request(model: str, gpus: str, frames, height, width, fps, text_tokens, steps, guidance, precision, kernel, vae_precision,
                  vae_tiling: Optional[bool], batch: str, demand: Optional[Demand], prices: list[str],
                  experts_resident: Optional[str] = None) -> ServeRequest:
    """The request from the options, the model's official inference settings filling what is not typed."""
    if Path(model).suffix:
        check_input_file(Path(model), "--model")
    system = load_model(model)
    if not isinstance(system, VideoSystemSpec):
        raise PlanInputError(f"--model {model}: this command serves video systems; GPT files are for 'plan backtest'")
    choice = parse_gpus(gpus, option_label("gpus"))
    if choice.cluster is not None and choice.cluster.num_gpus > 8:
        raise PlanInputError(f"{option_label('gpus')} '{gpus}': a replica is at most 8 GPUs (xDiT's splits inside one NVLink domain); give kinds to size the fleet")
    overrides = parse_price_overrides(prices)
    kinds = tuple(with_price(g, overrides) for g in (choice.kinds or (choice.cluster.gpu,)))
    batches = _numbers(batch, "--batch", int)
    if len(batches) > MAX_BATCHES or not all(1 <= b <= MAX_BATCH for b in batches):
        raise PlanInputError(f"--batch {batch}: up to {MAX_BATCHES} batches, each 1 to {MAX_BATCH}")
    request = serve_request_for(system, kinds, fixed_replica_gpus=None if choice.cluster is None else choice.cluster.num_gpus,
                                frames=frames, height=height, width=width, fps=fps, text_tokens=text_tokens, steps=steps, guidance=guidance,
                                precision=precision, kernel=kernel, vae_precision=vae_precision, vae_tiling=vae_tiling, batches=batches,
                                demand=demand, experts_resident=experts_resident)
    for gpu in kinds:  # a typed kernel that cannot run on a kind is refused before any timing, as training refuses it
        name = serving_kernel(request, gpu)
        if name is not None:
            attention_kernel(name, gpu.name, request.precision)
    return request


def serve(
    model: Model = "mochi-10b",
    gpus: Annotated[str, typer.Option(help="GPU kinds to try, e.g. H100,H200,B200 (replicas of 1-8 GPUs each), or one replica as NAMExCOUNT, e.g. H100x8.")] = "H100",
    frames: Frames = None, height: Height = None, width: Width = None, fps: Fps = None, text_tokens: TextTokens = None,
    steps: Annotated[Optional[int], typer.Option(help="Sampler steps [default: the model's official setting].")] = None,
    guidance: Annotated[Optional[str], typer.Option(help="none, batch-2, sequential-2, batch-3 or sequential-3 [default: the model's official setting].")] = None,
    precision: Annotated[str, typer.Option(help="DiT precision: bf16 or fp8.")] = "bf16",
    kernel: Annotated[Optional[str], typer.Option(help="Attention kernel: cudnn, flash-attention-3, flash-attention-2, ... [default: the one the model's official code runs].")] = None,
    vae_precision: Annotated[Optional[str], typer.Option(help="fp32, bf16 or fp16 [default: the model's official setting].")] = None,
    vae_tiling: Annotated[Optional[bool], typer.Option("--vae-tiling/--no-vae-tiling", help="Decode in spatial tiles [default: as the official code].")] = None,
    batch: Annotated[str, typer.Option(help="Requests a replica serves together, to try: e.g. 1,2,4.")] = "1",
    experts_resident: Annotated[Optional[str], typer.Option(help="A model split into experts (wan2.2-t2v-a14b): 'all' on the GPU, or 'one' with the idle expert on the host, swapped in at the boundary [default: as the official code].")] = None,
    clips_per_hour: Annotated[Optional[float], typer.Option(help="Demand: mean clips an hour (Poisson).")] = None,
    hourly_profile: Annotated[Optional[str], typer.Option(help="24 comma-separated weights of the day's hours; the busiest hour sizes the fleet.")] = None,
    p50_s: Annotated[Optional[float], typer.Option(help="Latency target at the median, seconds.")] = None,
    p95_s: Annotated[Optional[float], typer.Option(help="Latency target at p95, seconds.")] = None,
    p99_s: Annotated[Optional[float], typer.Option(help="Latency target at p99, seconds.")] = None,
    availability: Annotated[float, typer.Option(help="Probability enough replicas are up.")] = 0.999,
    price: Prices = [],
    simulate: Annotated[bool, typer.Option("--simulate/--no-simulate", help="Cross-check the chosen fleet's queue by simulation.")] = True,
    sim_requests: Annotated[int, typer.Option(help="Requests the simulation runs.")] = DEFAULT_SIM_REQUESTS,
    report: Annotated[Optional[Path], typer.Option(help="Also write the serving pages as a PDF here.")] = None,
    as_json: AsJson = False,
):
    """Latency, memory and throughput of serving a model on replicas of 1-8 GPUs (Ulysses, ring and CFG
    parallel); with --clips-per-hour and a latency target, the cheapest fleet."""
    from sim.serving_queue import check_fleet

    if precision not in ("bf16", "fp8"):
        raise PlanInputError(f"--precision {precision}: expected bf16 or fp8")
    if report is not None:
        resolve_target(report, "--report")
    demand = _demand(clips_per_hour, hourly_profile, p50_s, p95_s, p99_s, availability)
    if experts_resident not in (None, "one", "all"):
        raise PlanInputError(f"--experts-resident {experts_resident}: expected one or all")
    request = serve_request(model, gpus, frames, height, width, fps, text_tokens, steps, guidance, precision, kernel, vae_precision,
                            vae_tiling, batch, demand, price, experts_resident)
    plan = serve_plan(request)
    if simulate and plan.choice is not None:
        c = plan.choice
        check = check_fleet(plan.demand.peak_clips_per_hour / 3_600, c.replicas_for_load, c.batch, c.service_s, sim_requests)
        plan = plan.model_copy(update={"simulation": check})
    if report is not None:
        from reports.serving import write_serving_report

        write_serving_report(report, plan)
    if as_json:
        emit_json(emitted(plan))
    else:
        print_serve_plan(plan, terminal())
        if report is not None:
            typer.echo(f"wrote {report}")


def register(app: typer.Typer) -> None:
    """Add `plan serve` to the main app."""
    app.command()(friendly_errors(serve))
