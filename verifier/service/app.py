"""The ASGI application: routes, limits, the worker pool's life cycle, JSON errors, metrics."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import __version__
from .._decode import Limits
from ..report import SCHEMA_VERSION
from ._access import AccessLog
from ._metrics import Metrics
from ._pool import TARGET, Saturated, WorkerPool
from ._upload import ClientGone, UploadError, UploadLimits, declared_length, spool

log = logging.getLogger("verifier.service")

STATIC = Path(__file__).with_name("static")
MODES = ("full", "fast")


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the service is started with. ``workers`` 0 = one per core; ``queue`` None = 8 per worker."""

    trust_pem: bytes | None = None
    store: str | None = None
    key: bytes | None = None
    workers: int = 0
    queue: int | None = None
    default_mode: str = "full"
    limits: Limits = field(default_factory=Limits)
    upload: UploadLimits | None = None
    max_uploads: int = 256  # request bodies read at once; beyond: 503 (an upload holds no worker)
    api_key: str | None = None  # required for writes to the manifest store (POST /manifests); None: no writes
    spool_dir: str | None = None
    target: str = TARGET  # "module:function" a worker runs per upload (tests swap in misbehaving ones)

    def __post_init__(self) -> None:
        if self.default_mode not in MODES:
            raise ValueError("default_mode must be 'full' or 'fast'")
        if self.trust_pem:
            from provenance.trust import TrustAnchors

            TrustAnchors.from_pem(self.trust_pem)  # fail at start-up, not on the first request

    @property
    def n_workers(self) -> int:
        return max(1, self.workers or os.cpu_count() or 1)

    @property
    def upload_limits(self) -> UploadLimits:
        return self.upload or UploadLimits(max_bytes=self.limits.max_bytes)


class ServiceState:
    """What the routes share: the config, the pool, the metrics, the upload counter, the spool folder."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.uploads = 0
        self.started = time.time()
        n = config.n_workers
        self.pool = WorkerPool(
            n,
            8 * n if config.queue is None else config.queue,
            {"trust": _anchors(config.trust_pem), "store": config.store, "key": config.key, "limits": config.limits},
            config.limits,
            target=config.target,
            on_restart=lambda reason: self.metrics.restarts.labels(reason).inc(),
        )
        self._spool: tempfile.TemporaryDirectory[str] | None = None
        self.on_stop: list[Callable[[], None]] = []  # blocking clean-ups run (in a thread) at shut-down

    @property
    def spool_dir(self) -> str:
        assert self._spool is not None, "the service is not started"
        return self._spool.name

    async def start(self) -> None:
        self._spool = tempfile.TemporaryDirectory(prefix="dirfa-verify-", dir=self.config.spool_dir)
        os.chmod(self._spool.name, 0o700)
        await self.pool.start()
        self.metrics.workers.set(self.pool.workers)

    async def stop(self) -> None:
        await self.pool.close()
        for close in reversed(self.on_stop):
            try:
                await anyio.to_thread.run_sync(close)
            except Exception:
                log.exception("clean-up at shut-down failed")
        if self._spool is not None:
            self._spool.cleanup()

    def saturation(self) -> dict[str, Any]:
        s = self.pool.stats()
        self.metrics.busy.set(s.busy)
        self.metrics.waiting.set(s.waiting)
        uploads_full = self.uploads >= self.config.max_uploads
        return {
            "workers": s.workers,
            "busy": s.busy,
            "queued": s.waiting,
            "queue_limit": s.queue_limit,
            "uploads": self.uploads,
            "upload_limit": self.config.max_uploads,
            "worker_restarts": s.restarts,
            "saturated": s.saturated or uploads_full,
        }

    async def receive_upload(self, request: Request, limits: UploadLimits | None = None) -> tuple[Path, int]:
        """Admit and spool the body (see :mod:`._upload`); raise UploadError / ClientGone / Saturated.
        ``limits``: a route's own (tighter) limits instead of the service's, e.g. for a manifest or a JSON query."""
        limits = limits or self.config.upload_limits
        declared = declared_length(request.headers.get("content-length"), limits)
        if self.uploads >= self.config.max_uploads:
            self.metrics.rejected.labels("uploads_full").inc()
            raise Saturated("too many uploads in progress")
        self.uploads += 1
        self.metrics.uploads.inc()
        try:
            path, size = await spool(_stream(request), declared, limits, self.spool_dir)
        finally:
            self.uploads -= 1
            self.metrics.uploads.dec()
        request.state.bytes_in = size
        self.metrics.upload_bytes.inc(size)
        return path, size


async def _stream(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise ClientGone("the client went away") from None


def _anchors(pem: bytes | None) -> Any:
    if not pem:
        return None
    from provenance.trust import TrustAnchors

    return TrustAnchors.from_pem(pem)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def _state(request: Request) -> ServiceState:
    return request.app.state.service


# --- routes ----------------------------------------------------------------------------------------------------


async def verify_route(request: Request) -> Response:
    """POST /verify[?mode=full|fast][&thumbnails=1]: the body is the file's bytes; the answer its report."""
    request.state.route = "/verify"
    svc = _state(request)
    query = request.query_params
    mode = query.get("mode", svc.config.default_mode)
    thumbnails = query.get("thumbnails", "0")
    if mode not in MODES or thumbnails not in ("0", "1") or set(query) - {"mode", "thumbnails"}:
        return error(400, "query parameters: mode=full|fast, thumbnails=0|1")
    try:
        svc.pool.check_admission()  # refuse at once, before reading a body that would only queue
    except Saturated as exc:
        svc.metrics.rejected.labels("saturated").inc()
        return error(503, str(exc), {"Retry-After": "1", "Connection": "close"})
    path = await receive_or_error(request, svc)
    if isinstance(path, Response):
        return path
    filename = _filename(request.headers.get("x-filename"))
    result = await verify_spooled(svc, path, {"mode": mode, "filename": filename, "thumbnails": thumbnails == "1"})
    if isinstance(result, Response):
        return result
    verdict = result.get("report", result)["verdict"]
    return JSONResponse(result, headers={"X-Dirfa-Verdict": verdict})


async def receive_or_error(request: Request, svc: ServiceState, limits: UploadLimits | None = None) -> Path | Response:
    """The spooled body's path (:meth:`ServiceState.receive_upload`), or the JSON error to answer (and counted)."""
    try:
        path, _ = await svc.receive_upload(request, limits)
    except Saturated as exc:
        svc.metrics.rejected.labels("saturated").inc()
        return error(503, str(exc), {"Retry-After": "1", "Connection": "close"})
    except UploadError as exc:
        svc.metrics.rejected.labels(f"http_{exc.status}").inc()
        return error(exc.status, str(exc), {"Connection": "close"})
    except ClientGone:
        svc.metrics.rejected.labels("client_gone").inc()
        return error(400, "the client went away before the body ended", {"Connection": "close"})
    return path


async def verify_spooled(svc: ServiceState, path: Path, overrides: dict[str, Any]) -> dict[str, Any] | Response:
    """Verify a spooled upload in the pool (the file is deleted afterwards) and count it: the worker's result
    (its ``"report"``, or the report itself, has a verdict), or the JSON error to answer (503 full, 500)."""
    mode = overrides["mode"]
    t = time.perf_counter()
    try:
        result = await svc.pool.verify(str(path), overrides)
    except Saturated as exc:
        svc.metrics.rejected.labels("saturated").inc()
        return error(503, str(exc), {"Retry-After": "1"})
    finally:
        path.unlink(missing_ok=True)
    report = result.get("report", result)
    if "verdict" not in report:  # the worker could not even build a report
        return error(500, str(report.get("error") or "verification failed"))
    svc.metrics.verify_seconds.labels(mode).observe(time.perf_counter() - t)
    svc.metrics.verifications.labels(mode, report["verdict"]).inc()
    return result


def _filename(value: str | None) -> str:
    """The upload's base name from ``X-Filename`` (percent-encoded UTF-8 accepted), never a path."""
    if not value:
        return "upload"
    name = os.path.basename(unquote(value, errors="replace").replace("\\", "/"))
    return "".join(c for c in name if c.isprintable())[:200] or "upload"


async def healthz(request: Request) -> Response:
    """GET /healthz: 200 {"status": "ok"} while requests can be taken, 503 {"status": "saturated"} when not."""
    request.state.route = "/healthz"
    svc = _state(request)
    sat = svc.saturation()
    body = {"status": "saturated" if sat["saturated"] else "ok", "version": __version__,
            "schema_version": SCHEMA_VERSION, **sat}  # fmt: skip
    return JSONResponse(body, status_code=503 if sat["saturated"] else 200)


async def livez(request: Request) -> Response:
    """GET /livez: 200 while the process answers at all (a liveness probe; saturation is not death)."""
    request.state.route = "/livez"
    return JSONResponse({"status": "alive", "version": __version__})


async def metrics(request: Request) -> Response:
    request.state.route = "/metrics"
    svc = _state(request)
    svc.saturation()
    return Response(svc.metrics.render(), media_type=svc.metrics.content_type)


async def index(request: Request) -> Response:
    request.state.route = "/"
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


# --- errors ----------------------------------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    message = exc.detail
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path} (allowed: {headers.get('Allow', 'none')})"
    elif exc.status_code == 404:
        message = f"no such endpoint: {request.url.path}"
    return error(exc.status_code, message, headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error(500, "internal error")


def create_app(config: ServiceConfig | None = None) -> Any:
    """The ASGI app (Starlette, wrapped in the access log). Serve it with uvicorn: ``verifier.service.cli``."""
    config = config or ServiceConfig()
    state = ServiceState(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    from .softbinding import routes as softbinding_routes

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/verify", verify_route, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/livez", livez, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *softbinding_routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.state.service = state

    def done(method: str, route: str, status: int, seconds: float) -> None:
        state.metrics.requests.labels(method, route, str(status)).inc()
        state.metrics.latency.labels(route).observe(seconds)

    wrapped = AccessLog(app, on_done=done)
    wrapped.state = state  # type: ignore[attr-defined]  # tests and the CLI reach the state through the wrapper
    return wrapped
