"""The reference system served over HTTP: one replica (one generation at a time), a bounded queue, clips
reachable only through the unguessable id returned to their requester.

  POST   /clips              text/plain prompt, or JSON {"prompt", "frames", "fps", "seed", "format"}
                             -> 202 {"id", "status_url", "video_url"}; 503 when the queue is full
  GET    /clips/ID[?wait=S]  status {"status": queued|running|done|failed, ...}; waits up to S seconds
                             (at most MAX_WAIT_S) for the clip to finish
  GET    /clips/ID/video     the MP4, WebM or AVI once done (409 before; the clip stays until deleted
                             or evicted, the oldest finished first, beyond --keep clips)
  DELETE /clips/ID           forget the clip and delete its file
  GET    /health             {"status": "ok", "queued", "running", "kept"}

Ids are secrets.token_urlsafe(24) (192 random bits); there is no listing; an unknown id and a deleted one
answer the same 404; requests are logged without paths (no ids, no prompts). Clips live in a private
folder (mode 0700) removed when the server stops. Request bodies, prompt length, frames and the queue are
bounded; every error is JSON {"error": ...} with a 4xx/5xx status. The model runs on one intra-op
thread: it is too small to gain from more, and OpenMP threads spin against other processes.
"""
from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs, urlsplit

import torch
from pydantic import ValidationError

from estimators.errors import PlanInputError
from estimators.specs.messages import Spelling, plain_words
from reference_model.pipeline import clip_request, trained_system
from reference_model.prompts import MAX_PROMPT_CHARS, GenerateRequest
from reference_model.prompts import parse_request as prompt_fields
from reference_model.sample import generate
from reference_model.system import ReferenceSystem
from reference_model.video_io import write_video

MAX_BODY_BYTES = 16 * 1024
MAX_WAIT_S = 60.0
DEFAULT_FORMAT = "mp4"
CONTENT_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "avi": "video/x-msvideo"}
ID_BYTES = 24
MODEL_THREADS = 1


class RequestError(ValueError):
    """A request the server refuses, with its HTTP status."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Clip:
    """One request's state; times are time.monotonic() readings."""

    request: dict
    submitted: float
    status: str = "queued"
    started: Optional[float] = None
    finished: Optional[float] = None
    path: Optional[Path] = None
    error: Optional[str] = None
    done: threading.Event = field(default_factory=threading.Event)

    def public(self, clip_id: str) -> dict:
        """What the requester may see (no prompt echoed back)."""
        out = {"id": clip_id, "status": self.status, "format": self.request["format"], "frames": self.request["frames"]}
        if self.started is not None:
            out["queued_s"] = self.started - self.submitted
        if self.finished is not None:
            out["generation_s"] = self.finished - self.started
            out["latency_s"] = self.finished - self.submitted
        if self.error:
            out["error"] = self.error
        return out


class ClipService:
    """The queue, the worker generating one clip at a time, and the clips kept for download."""

    def __init__(self, run: Path, queue_limit: int, keep: int, max_frames: int):
        self.system: ReferenceSystem = trained_system(run)
        self.queue_limit, self.keep, self.max_frames = queue_limit, keep, max_frames
        self.folder = Path(tempfile.mkdtemp(prefix="videoplan-clips-"))  # mode 0700
        self.clips: OrderedDict[str, Clip] = OrderedDict()
        self.waiting: list[str] = []
        self.lock = threading.Condition()
        self.running = True
        self.worker = threading.Thread(target=self._work, name="generator", daemon=True)
        self.worker.start()

    def submit(self, request: dict) -> str:
        """Queue a validated request; its id."""
        with self.lock:
            if len(self.waiting) >= self.queue_limit:
                raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE, f"queue full ({self.queue_limit} waiting); retry later")
            clip_id = secrets.token_urlsafe(ID_BYTES)
            self.clips[clip_id] = Clip(request=request, submitted=time.monotonic())
            self.waiting.append(clip_id)
            self.lock.notify_all()
            return clip_id

    def get(self, clip_id: str) -> Clip:
        with self.lock:
            clip = self.clips.get(clip_id)
        if clip is None:
            raise RequestError(HTTPStatus.NOT_FOUND, "no such clip")
        return clip

    def delete(self, clip_id: str) -> None:
        with self.lock:
            clip = self.clips.pop(clip_id, None)
            if clip is not None and clip_id in self.waiting:
                self.waiting.remove(clip_id)
        if clip is None:
            raise RequestError(HTTPStatus.NOT_FOUND, "no such clip")
        if clip.path is not None:
            clip.path.unlink(missing_ok=True)

    def counts(self) -> dict:
        with self.lock:
            statuses = [c.status for c in self.clips.values()]
        return {"queued": statuses.count("queued"), "running": statuses.count("running"), "kept": statuses.count("done")}

    def _next(self) -> Optional[tuple[str, Clip]]:
        with self.lock:
            while self.running and not self.waiting:
                self.lock.wait()
            if not self.running:
                return None
            clip_id = self.waiting.pop(0)
            clip = self.clips[clip_id]
            clip.status, clip.started = "running", time.monotonic()
            return clip_id, clip

    def _work(self) -> None:
        torch.set_num_threads(MODEL_THREADS)
        while (item := self._next()) is not None:
            clip_id, clip = item
            try:
                path = self.folder / f"{secrets.token_hex(16)}.{clip.request['format']}"
                self._generate(clip.request, path)
                clip.path, clip.status = path, "done"
            except Exception as exc:  # a failed generation is reported to its requester, the server goes on
                clip.status, clip.error = "failed", f"generation failed: {type(exc).__name__}"
            clip.finished = time.monotonic()
            clip.done.set()
            self._evict()

    def _generate(self, request: dict, path: Path) -> None:
        sampling = self.system.config.sampling
        video = generate(self.system, [request["prompt"]], request["frames"], request["seed"], sampling.steps, sampling.guidance)[0]
        write_video(video, path, request["fps"], request["format"])

    def _evict(self) -> None:
        """Forget the oldest finished clips beyond ``keep``."""
        with self.lock:
            finished = [i for i, c in self.clips.items() if c.status in ("done", "failed")]
            doomed = finished[: max(len(finished) - self.keep, 0)]
            for clip_id in doomed:
                clip = self.clips.pop(clip_id)
                if clip.path is not None:
                    clip.path.unlink(missing_ok=True)

    def close(self) -> None:
        with self.lock:
            self.running = False
            self.lock.notify_all()
        self.worker.join(timeout=MAX_WAIT_S)
        shutil.rmtree(self.folder, ignore_errors=True)


def parse_request(body: bytes, content_type: str, service: ClipService) -> dict:
    """A clip request from a POST body: plain text or the JSON `plan reference generate` takes, read by the
    same strict, bounded spec (reference_model/prompts.py) and the VAE's frame rule, then the server's bounds."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be UTF-8 text") from None
    if content_type.startswith("application/json") and not text.lstrip().startswith("{"):
        raise RequestError(HTTPStatus.BAD_REQUEST, "a JSON body must be an object")
    origin = "prompt JSON" if text.lstrip().startswith("{") else "prompt"
    try:
        fields = prompt_fields(text)
    except (ValueError, PlanInputError) as exc:
        raise RequestError(HTTPStatus.BAD_REQUEST, str(exc).splitlines()[0]) from None
    if len(str(fields.get("prompt", ""))) > MAX_PROMPT_CHARS:
        raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"prompt: at most {MAX_PROMPT_CHARS} characters")
    try:
        request = GenerateRequest(**fields)
        clip = clip_request(request, service.system.config)
    except ValidationError as exc:
        raise RequestError(HTTPStatus.BAD_REQUEST, plain_words(exc, Spelling(origin=origin), model=GenerateRequest)) from None
    except (ValueError, TypeError, PlanInputError) as exc:
        raise RequestError(HTTPStatus.BAD_REQUEST, str(exc).splitlines()[0]) from None
    return checked({**clip, "format": request.format}, service.max_frames)


def checked(request: dict, max_frames: int) -> dict:
    """The server's own bounds on a parsed request (format filled in)."""
    if not 1 <= request["frames"] <= max_frames:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"frames: 1 to {max_frames} on this server")
    return {**request, "format": request["format"] or DEFAULT_FORMAT}


class Handler(BaseHTTPRequestHandler):
    """HTTP front of a ClipService (``server.service``)."""

    server_version = "videoplan-reference"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        """No access log: paths carry clip ids and bodies prompts, which only their requester may see."""

    def _reply(self, status: HTTPStatus, document: Optional[dict] = None, headers: Optional[dict] = None) -> None:
        body = b"" if document is None else json.dumps(document).encode()
        self.send_response(status)
        if document is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> tuple[list[str], dict]:
        url = urlsplit(self.path)
        return [p for p in url.path.split("/") if p], parse_qs(url.query)

    def _handle(self, method) -> None:
        try:
            method()
        except RequestError as exc:
            extra = {"Retry-After": "5"} if exc.status == HTTPStatus.SERVICE_UNAVAILABLE else None
            self._reply(exc.status, {"error": str(exc)}, extra)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self._handle(self._post)

    def do_GET(self) -> None:  # noqa: N802
        self._handle(self._get)

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle(self._delete)

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
        if int(length) > MAX_BODY_BYTES:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
        return self.rfile.read(int(length))

    def _post(self) -> None:
        parts, _ = self._route()
        if parts != ["clips"]:
            raise RequestError(HTTPStatus.NOT_FOUND, "POST /clips only")
        service = self.server.service
        request = parse_request(self._body(), self.headers.get("Content-Type", "text/plain"), service)
        clip_id = service.submit(request)
        self._reply(HTTPStatus.ACCEPTED, {"id": clip_id, "status": "queued", "status_url": f"/clips/{clip_id}",
                                          "video_url": f"/clips/{clip_id}/video"})

    def _get(self) -> None:
        parts, query = self._route()
        service = self.server.service
        if parts == ["health"]:
            self._reply(HTTPStatus.OK, {"status": "ok", **service.counts()})
            return
        if len(parts) == 2 and parts[0] == "clips":
            clip = service.get(parts[1])
            wait = _wait_seconds(query)
            if wait:
                clip.done.wait(wait)
            self._reply(HTTPStatus.OK, clip.public(parts[1]))
            return
        if len(parts) == 3 and parts[0] == "clips" and parts[2] == "video":
            self._send_video(service.get(parts[1]))
            return
        raise RequestError(HTTPStatus.NOT_FOUND, "no such resource")

    def _send_video(self, clip: Clip) -> None:
        if clip.status == "failed":
            raise RequestError(HTTPStatus.GONE, clip.error or "generation failed")
        if clip.status != "done" or clip.path is None or not clip.path.exists():
            raise RequestError(HTTPStatus.CONFLICT, f"not ready ({clip.status})")
        data = clip.path.read_bytes()
        fmt = clip.request["format"]
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES[fmt])
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Disposition", f'attachment; filename="clip.{fmt}"')
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _delete(self) -> None:
        parts, _ = self._route()
        if len(parts) != 2 or parts[0] != "clips":
            raise RequestError(HTTPStatus.NOT_FOUND, "DELETE /clips/ID only")
        self.server.service.delete(parts[1])
        self._reply(HTTPStatus.NO_CONTENT)


def _wait_seconds(query: dict) -> float:
    if "wait" not in query:
        return 0.0
    try:
        wait = float(query["wait"][0])
    except ValueError:
        raise RequestError(HTTPStatus.BAD_REQUEST, "wait: seconds") from None
    if not 0 <= wait <= MAX_WAIT_S:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"wait: 0 to {MAX_WAIT_S:g} seconds")
    return wait


class ClipServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: ClipService):
        super().__init__(address, Handler)
        self.service = service


def open_server(run: Path, host: str = "127.0.0.1", port: int = 0, queue_limit: int = 16, keep: int = 64,
                max_frames: int = 61) -> ClipServer:
    """A bound server (not yet serving): ``serve_forever()`` to serve; ``port`` 0 takes a free port."""
    return ClipServer((host, port), ClipService(run, queue_limit, keep, max_frames))
