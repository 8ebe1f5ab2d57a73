"""The reference system served over HTTP (reference_model/server.py) and the closed loop: the load test's
measured p50/p95 against the serving model's prediction for this CPU, with a generous bound (the machine
is shared with other runs)."""
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from estimators.errors import PlanInputError
from estimators.serving.queueing import fleet_percentiles
from plan_cli.main import app
from reference_model.loadtest import loopback_url
from reference_model.server import open_server
from reference_model.serving_check import run_loadtest
from reference_model.system import ReferenceSystem, load_config
from reference_model.video_io import read_video

TINY = Path(__file__).parent / "reference_tiny.yaml"  # 2 sampling steps
# The closed loop's bounds in this test (the README reports the real figures against the 20% target; here
# other runs share the two cores and move a clip's time by up to 2x within a minute): the composed service
# time within a factor of three of the measured one, and the queue's p95 given the generation time the
# server measured during the same rate within a factor of 2.5 of the measured p95 (30 requests, loads
# well below saturation: a busier machine that pushes a rate past 60% load leaves it unchecked).
SERVICE_RATIO, P95_RATIO = 3.0, 2.5
STEADY_LOAD = 0.6


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A run folder with untrained weights: the server's timing does not depend on what the model learnt."""
    out = tmp_path_factory.mktemp("run")
    config = load_config(str(TINY))
    system = ReferenceSystem.build(config)
    (out / "config.yaml").write_text(TINY.read_text())
    torch.save(system.vae.state_dict(), out / "vae.pt")
    torch.save({"dit": system.dit.state_dict(), "step": 0}, out / "dit.pt")
    return out


@pytest.fixture()
def server(run):
    srv = open_server(run, port=0, queue_limit=4, keep=8)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", srv
    srv.shutdown()
    srv.server_close()
    srv.service.close()


def call(base, method, path, body=None, content_type="application/json"):
    request = urllib.request.Request(base + path, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_text_and_json_prompts_become_downloadable_clips(server, tmp_path):
    base, _ = server
    status, body = call(base, "POST", "/clips", b"a large red circle moves right", "text/plain")
    assert status == 202
    first = json.loads(body)["id"]
    status, body = call(base, "POST", "/clips", json.dumps({"prompt": "a blue square", "frames": 13, "fps": 10, "format": "webm"}).encode())
    assert status == 202
    second = json.loads(body)["id"]
    assert len(first) >= 32 and first != second  # 24 random bytes, URL-safe
    for clip_id, suffix, frames in ((first, "mp4", 19), (second, "webm", 13)):
        status, body = call(base, "GET", f"/clips/{clip_id}?wait=60")
        assert status == 200 and json.loads(body)["status"] == "done"
        status, video = call(base, "GET", f"/clips/{clip_id}/video")
        assert status == 200
        path = tmp_path / f"clip.{suffix}"
        path.write_bytes(video)
        assert read_video(path)[0].shape[0] == frames
    assert call(base, "DELETE", f"/clips/{first}")[0] == 204
    assert call(base, "GET", f"/clips/{first}")[0] == 404
    assert call(base, "GET", f"/clips/{'A' * 32}/video")[0] == 404


@pytest.mark.parametrize("body, content_type, status, words", [
    (b'{"prompt": "x", "frames": 20}', "application/json", 400, "6k+1"),
    (b'{"prompt": "x", "frames": 997}', "application/json", 400, "frames"),
    (b'{"prompt": "x", "format": "gif"}', "application/json", 400, "format"),
    (b'{"prompt": "x", "fps": "fast"}', "application/json", 400, "fps"),
    (b'{"prompt": "x", "colour": "red"}', "application/json", 400, "unknown"),
    (b"[1, 2]", "application/json", 400, "object"),
    (b"\xff\xfe", "text/plain", 400, "UTF-8"),
    (b"x" * 20_000, "text/plain", 413, "bytes"),
    (b"x" * 3_000, "text/plain", 413, "prompt"),
])
def test_bad_requests_get_clear_errors(server, body, content_type, status, words):
    base, _ = server
    got, answer = call(base, "POST", "/clips", body, content_type)
    assert got == status and words in json.loads(answer)["error"]


def test_a_full_queue_is_refused_with_503(run):
    srv = open_server(run, port=0, queue_limit=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        status, body = call(f"http://127.0.0.1:{srv.server_address[1]}", "POST", "/clips", b"a red circle", "text/plain")
        assert status == 503 and "queue full" in json.loads(body)["error"]
    finally:
        srv.shutdown()
        srv.server_close()
        srv.service.close()


def test_clips_live_in_a_private_folder_removed_at_stop(run):
    srv = open_server(run, port=0)
    folder = srv.service.folder
    assert folder.stat().st_mode & 0o077 == 0
    srv.server_close()
    srv.service.close()
    assert not folder.exists()


def test_only_loopback_servers_are_load_tested():
    assert loopback_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    for url in ("http://10.0.0.1:8000", "https://127.0.0.1:8000", "ftp://localhost"):
        with pytest.raises(PlanInputError):
            loopback_url(url)


def test_loadtest_prediction_within_a_generous_bound(run):
    # a server process of its own (as `plan reference loadtest` starts it): the clients' threads do not share its interpreter
    result = run_loadtest(run, None, None, (0.25, 0.45), requests=30, unloaded=5, limit_s=300)
    assert result.server == "spawned"
    assert 1 / SERVICE_RATIO < result.predicted_service_s / result.measured_service_s < SERVICE_RATIO
    checked = 0
    for rate in result.rates:
        assert rate.completed == rate.requests
        load = rate.rate_per_s * rate.measured_service_s
        if load < STEADY_LOAD:  # the machine slowed under the test: 40 requests near saturation have no steady state
            assert rate.queue_p95_s == fleet_percentiles(rate.rate_per_s, 1, 1, rate.measured_service_s)[0.95]
            assert 1 / P95_RATIO < rate.queue_p95_s / rate.measured_p95_s < P95_RATIO, (rate.rate_per_s, rate.measured_p95_s, rate.queue_p95_s)
            checked += 1
    assert checked >= 1


def test_serve_command_refuses_bad_options(tmp_path):
    runner = CliRunner()
    for args in (["--queue", "0"], ["--port", "70000"], ["--max-frames", "0"]):
        result = runner.invoke(app, ["reference", "serve", "--out", str(tmp_path), *args])
        assert result.exit_code == 2 and result.stderr.startswith("error:"), result.output
    result = runner.invoke(app, ["reference", "loadtest", "--out", str(tmp_path / "none")])
    assert result.exit_code == 2 and "plan reference train" in result.stderr
    # an empty host would listen on every interface
    result = runner.invoke(app, ["reference", "serve", "--out", str(tmp_path), "--host", ""])
    assert result.exit_code == 2 and "--host" in result.stderr


def test_loadtest_refuses_a_server_that_does_not_answer_before_measuring(run):
    start = time.monotonic()
    for url, words in (("http://127.0.0.1:1", "no server answers"), ("http://[::1", "expected http://HOST:PORT")):
        result = CliRunner().invoke(app, ["reference", "loadtest", "--out", str(run), "--url", url, "--rates", "1", "--requests", "1"])
        assert result.exit_code == 2 and words in result.stderr, result.output
    assert time.monotonic() - start < 30  # refused before minutes of device measurement


def test_a_rate_near_saturation_is_reported_without_a_prediction():
    # a rate the prediction puts at 99% load (the measured capacity a little higher than predicted): the M/D/1
    # queue has no steady state there, so no percentile is predicted, and the test still reports what was measured
    from types import SimpleNamespace

    from reference_model.serving_check import _rate_row

    measured = SimpleNamespace(rate_per_s=0.993, requests=60, completed=60, rejected=0, p50_s=3.0, p95_s=6.0, throughput_per_s=0.9,
                               median_generation_s=0.8)
    row = _rate_row(measured, service_s=1.0)
    assert row.predicted_p95_s is None and row.p95_error is None and row.predicted_utilization == pytest.approx(0.993)
    assert row.queue_p95_s is not None  # at the generation time measured during the rate (0.79 load) the queue settles
