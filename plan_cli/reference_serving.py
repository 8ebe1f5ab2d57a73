"""`plan reference serve` and `plan reference loadtest`: the reference system over HTTP and the closed loop
against the serving model (need torch; imported lazily)."""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from estimators.documents.schema import emitted
from estimators.errors import PlanInputError
from estimators.serving.results import LoadTestResult
from plan_cli.common import AsJson, emit_json, friendly_errors, input_errors
from plan_cli.render import terminal
from plan_cli.render_serving import narrow_table

DEFAULT_RUN = Path("runs/reference")
MAX_QUEUE = 1_000
MAX_KEEP = 10_000
MAX_LIMIT_S = 3_600
DEFAULT_LOADS = (0.3, 0.6, 0.8)


def _stop_on_sigterm(signum, frame):  # a terminated server still removes its clips
    raise KeyboardInterrupt


def serve(
    out: Annotated[Path, typer.Option(help="Run folder with the trained model.")] = DEFAULT_RUN,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback unless you mean to expose it).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one, printed).")] = 8000,
    queue: Annotated[int, typer.Option(help="Requests waiting at most; more are refused with 503.")] = 16,
    keep: Annotated[int, typer.Option(help="Finished clips kept for download (the oldest go first).")] = 64,
    max_frames: Annotated[int, typer.Option(help="Frames a request may ask for at most.")] = 61,
):
    """Serve the reference model over HTTP: POST /clips (text or JSON prompt), GET /clips/ID[?wait=S],
    GET /clips/ID/video, DELETE /clips/ID; ids are unguessable and never listed."""
    from plan_cli.reference_cmds import _torch_module

    for name, value, high in (("--queue", queue, MAX_QUEUE), ("--keep", keep, MAX_KEEP), ("--port", port, 65_535)):
        if not (0 if name == "--port" else 1) <= value <= high:
            raise PlanInputError(f"{name} {value}: expected {0 if name == '--port' else 1} to {high:,}")
    if not 1 <= max_frames <= 1_000:
        raise PlanInputError(f"--max-frames {max_frames}: expected 1 to 1,000")
    if not host.strip():
        raise PlanInputError("--host '': expected an address (an empty one would listen on every interface)")
    server_module = _torch_module("server")
    with input_errors(FileNotFoundError, ValueError):
        try:
            server = server_module.open_server(out, host, port, queue, keep, max_frames)
        except OSError as exc:
            raise PlanInputError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})") from None
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    bound_host, bound_port = server.server_address[:2]
    typer.echo(f"serving on http://{bound_host}:{bound_port} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.service.close()


def loadtest(
    out: Annotated[Path, typer.Option(help="Run folder with the trained model (its config sets the clip).")] = DEFAULT_RUN,
    url: Annotated[Optional[str], typer.Option(help="A running server (loopback only); default: start one for the test.")] = None,
    rates: Annotated[Optional[str], typer.Option(help="Arrival rates, clips a second, e.g. 1,2,3 [default: --loads of the measured capacity].")] = None,
    loads: Annotated[str, typer.Option(help="Rates as shares of the capacity measured before the test, when --rates is not given.")] = "0.3,0.6,0.8",
    requests: Annotated[int, typer.Option(help="Requests a rate (at most 1,000).")] = 200,
    unloaded: Annotated[int, typer.Option(help="Requests sent one after another first, to measure the service time.")] = 10,
    limit_s: Annotated[float, typer.Option(help="Seconds a rate may take at most.")] = 900.0,
    as_json: AsJson = False,
):
    """Drive the reference server with Poisson arrivals at several rates; measured p50/p95 latency and
    throughput against the serving model's prediction for this CPU."""
    from plan_cli.reference_cmds import _torch_module
    from reference_model.loadtest import MAX_RATES, MAX_REQUESTS

    check = _torch_module("serving_check")
    rate_list = _numbers(rates, "--rates") if rates else None
    load_list = _numbers(loads, "--loads")
    if rate_list is not None and not all(0 < r <= 1_000 for r in rate_list):
        raise PlanInputError(f"--rates {rates}: each must be more than 0 and at most 1,000 clips a second")
    if not all(0 < x < 1 for x in load_list):
        raise PlanInputError(f"--loads {loads}: each must be between 0 and 1 (a share of the capacity)")
    if len(rate_list or load_list) > MAX_RATES:
        raise PlanInputError(f"at most {MAX_RATES} rates")
    if not 1 <= requests <= MAX_REQUESTS or not 1 <= unloaded <= 100:
        raise PlanInputError(f"--requests: 1 to {MAX_REQUESTS:,}; --unloaded: 1 to 100")
    if not 1 <= limit_s <= MAX_LIMIT_S:
        raise PlanInputError(f"--limit-s {limit_s}: 1 to {MAX_LIMIT_S:,} seconds")
    if not (out / "config.yaml").is_file():
        raise PlanInputError(f"--out {out}: no trained reference model; run `plan reference train` first")
    if not as_json:
        typer.echo("measuring this CPU, then driving the reference server (minutes)", err=True)
    result = check.run_loadtest(out, url, rate_list, tuple(load_list), requests, unloaded, limit_s)
    if as_json:
        emit_json(emitted(result))
    else:
        print_loadtest(result, terminal())


def _numbers(text: str, option: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise PlanInputError(f"{option} '{text}': expected comma-separated numbers") from None


def print_loadtest(result: LoadTestResult, console: Console) -> None:
    """Measured against predicted, rate by rate."""
    console.print(f"service time (one request at a time): measured {result.measured_service_s * 1e3:.1f} ms, predicted "
                  f"{result.predicted_service_s * 1e3:.1f} ms ({result.service_error:+.1%}); {result.steps} steps, {result.guidance}, "
                  f"{result.frames} frames, {result.threads} model thread")
    columns = ["rate/s", "load", "done", "p50", "pred p50", "p95", "pred p95", "p95 err", "queue p95", "clips/s", "pred/s"]
    fmt = lambda v: "-" if v is None else f"{v * 1e3:.0f}"  # noqa: E731
    rows = [[f"{r.rate_per_s:.2f}", f"{r.predicted_utilization:.0%}", f"{r.completed}/{r.requests}", fmt(r.measured_p50_s),
             fmt(r.predicted_p50_s), fmt(r.measured_p95_s), fmt(r.predicted_p95_s), "-" if r.p95_error is None else f"{r.p95_error:+.1%}",
             fmt(r.queue_p95_s), f"{r.measured_throughput_per_s:.2f}", f"{r.predicted_throughput_per_s:.2f}"] for r in result.rates]
    table = narrow_table("Reference server under Poisson load: measured vs predicted (latencies in ms)", columns, rows, console,
                         ("done", "queue p95", "pred/s"))
    console.print(table)
    mape = result.p95_mape_below_saturation
    console.print(f"p95 mean absolute error below {90}% load: " + ("-" if mape is None else f"{mape:.1%}") + f" (target: {result.target}); "
                  "queue p95: the M/D/1 p95 given the generation time the server measured during that rate")


def register(reference_app: typer.Typer) -> None:
    """Add the serving commands to `plan reference`."""
    reference_app.command("serve")(friendly_errors(serve))
    reference_app.command("loadtest")(friendly_errors(loadtest))
