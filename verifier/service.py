"""``dirfa-verify-server``: the verifier as an HTTP service for upload pipelines (standard library only).

    POST /verify[?mode=fast|full]   body: the file's bytes (Content-Length required)
                                    -> 200 + the report as JSON (docs/report.schema.json), header X-Dirfa-Verdict
    GET  /healthz                   -> 200 {"status": "ok", "version": ..., "schema_version": ...}

Verifications run in a pool of worker PROCESSES (spawned, ``--workers``, default one per core): the server uses
every core, and a worker that a hostile file crashes in native code is replaced without taking the service down
(that request gets 500). Errors are JSON ``{"error": ...}``: 400 bad query, 404, 405, 411 no Content-Length, 413
body over ``Limits.max_bytes`` (refused before reading it), 408 a client that stops sending, 503 every worker and
queue slot busy (with Retry-After), 504 a verification over ``Limits.timeout_s``. It binds to 127.0.0.1 by default:
put it behind your own TLS / authentication proxy, as for any internal service.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import __version__
from ._decode import Limits
from ._verify import verify
from .report import SCHEMA_VERSION

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 60.0  # a client that sends nothing for this long gets 408
CHUNK = 1 << 20

# Worker-process state, set once by _init_worker.
_WORKER: dict[str, Any] = {}


def _init_worker(trust_pem: bytes | None, store: str | None, key: bytes | None, limits: Limits) -> None:
    from provenance.trust import TrustAnchors

    _WORKER.update(trust=TrustAnchors.from_pem(trust_pem) if trust_pem else None, store=store, key=key, limits=limits)


def _verify_in_worker(data: bytes, mode: str) -> dict[str, Any]:
    report = verify(
        data, trust=_WORKER["trust"], store=_WORKER["store"], key=_WORKER["key"], mode=mode, limits=_WORKER["limits"]
    )
    return report.to_dict()


class VerifierService:
    """The worker pool and its settings; :meth:`server` makes the HTTP server around it."""

    def __init__(
        self,
        *,
        trust_pem: bytes | None = None,
        store: str | None = None,
        key: bytes | None = None,
        workers: int | None = None,
        queue: int | None = None,
        default_mode: str = "full",
        limits: Limits | None = None,
    ) -> None:
        if default_mode not in ("full", "fast"):
            raise ValueError("default_mode must be 'full' or 'fast'")
        if trust_pem:
            from provenance.trust import TrustAnchors

            TrustAnchors.from_pem(trust_pem)  # fail at start-up, not on the first request
        self.limits = limits or Limits()
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.default_mode = default_mode
        self._initargs = (trust_pem, store, key, self.limits)
        # Requests admitted at once: the workers plus a short queue; beyond that 503 at once, not an unbounded backlog.
        self._slots = threading.BoundedSemaphore(self.workers + (self.workers if queue is None else queue))
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of a threaded server
            initializer=_init_worker,
            initargs=self._initargs,
        )

    def admit(self) -> bool:
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        self._slots.release()

    def verify(self, data: bytes, mode: str) -> dict[str, Any]:
        """Run one verification in the pool; raises TimeoutError or BrokenProcessPool (the pool is then renewed)."""
        with self._lock:
            pool = self._pool
        future = None
        try:
            future = pool.submit(_verify_in_worker, data, mode)  # raises at once on a pool already broken
            return future.result(timeout=self.limits.timeout_s + 30.0)
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    log.error("a verifier worker died; starting a new pool")
                    self._pool = self._new_pool()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        except FutureTimeout as exc:
            if future is not None:
                future.cancel()
            raise TimeoutError("verification timed out") from exc

    def server(self, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
        service = self

        class Handler(_Handler):
            pass

        Handler.service = service
        httpd = ThreadingHTTPServer((host, port), Handler)
        httpd.daemon_threads = True
        return httpd

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers: queued work is cancelled, running work gets ``timeout`` seconds, then workers are
        terminated. Never blocks longer than that, even on a worker stuck in native code."""
        with self._lock:
            pool = self._pool
        procs = list((getattr(pool, "_processes", None) or {}).values())  # private attribute: read defensively
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
        stuck = [proc for proc in procs if proc.is_alive()]
        for proc in stuck:
            proc.terminate()
        for proc in stuck:
            proc.join(5.0)
        if stuck:
            log.warning("terminated %d verifier worker(s) still busy at close", len(stuck))

    def __enter__(self) -> VerifierService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Handler(BaseHTTPRequestHandler):
    service: VerifierService
    server_version = f"dirfa-verify/{__version__}"
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str, *, close: bool = False, **headers: str) -> None:
        if close:
            self.close_connection = True
            headers["Connection"] = "close"
        self._send_json(status, {"error": message}, headers)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            self._send_json(HTTPStatus.OK, {"status": "ok", "version": __version__, "schema_version": SCHEMA_VERSION})
        elif path == "/verify":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "POST the file's bytes to /verify", Allow="POST")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/verify":
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {url.path}", close=True)
            return
        query = parse_qs(url.query)
        mode = query.get("mode", [self.service.default_mode])[-1]
        if mode not in ("full", "fast") or set(query) - {"mode"}:
            self._error(HTTPStatus.BAD_REQUEST, "the only query parameter is mode=full|fast", close=True)
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None or self.headers.get("Transfer-Encoding"):
            self._error(HTTPStatus.LENGTH_REQUIRED, "send the file with a Content-Length", close=True)
            return
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if length < 0:
            self._error(HTTPStatus.BAD_REQUEST, "bad Content-Length", close=True)
            return
        if length > self.service.limits.max_bytes:
            limit = self.service.limits.max_bytes
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"file over the {limit}-byte limit", close=True)
            return
        if not self.service.admit():
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "every verifier is busy", close=True, **{"Retry-After": "1"})
            return
        try:
            data = self._read_body(length)
            if data is None:
                return
            try:
                report = self.service.verify(data, mode)
            except BrokenProcessPool:
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "the verifier worker died on this file")
                return
            except TimeoutError:
                self._error(HTTPStatus.GATEWAY_TIMEOUT, "verification timed out")
                return
            self._send_json(HTTPStatus.OK, report, {"X-Dirfa-Verdict": report["verdict"]})
        finally:
            self.service.release()

    def _read_body(self, length: int) -> bytes | None:
        buf = bytearray()
        try:
            while len(buf) < length:
                chunk = self.rfile.read(min(CHUNK, length - len(buf)))
                if not chunk:
                    break
                buf += chunk
        except TimeoutError:
            self._error(HTTPStatus.REQUEST_TIMEOUT, "the upload stalled", close=True)
            return None
        if len(buf) < length:
            self.close_connection = True  # the client went away: nobody to answer
            return None
        return bytes(buf)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dirfa-verify-server",
        description="Serve the verifier over HTTP: POST a file's bytes to /verify, get the JSON report back.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    p.add_argument("--trust", metavar="PEM", help="PEM bundle of trust anchors (root certificates) to trust")
    p.add_argument("--store", metavar="URL", help="manifest store URL (sqlite:///path.db or postgresql://...)")
    p.add_argument("--key-file", metavar="FILE", help="an organisation's private watermark key (default: public key)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="verifier processes (0 = one per core)")
    p.add_argument("--fast", action="store_true", help="default to fast mode (key frames only); ?mode= overrides")
    p.add_argument("--max-mb", type=float, help="largest accepted upload in MB (default: Limits.max_bytes, 2 GiB)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        trust = open(ns.trust, "rb").read() if ns.trust else None  # noqa: SIM115 - read at once
        key = open(ns.key_file, "rb").read().strip() if ns.key_file else None  # noqa: SIM115 - read at once
        limits = Limits(max_bytes=int(ns.max_mb * 1e6)) if ns.max_mb else Limits()
        service = VerifierService(
            trust_pem=trust, store=ns.store, key=key, workers=ns.workers or None,
            default_mode="fast" if ns.fast else "full", limits=limits,
        )  # fmt: skip
        httpd = service.server(ns.host, ns.port)
    except (OSError, ValueError) as exc:
        print(f"dirfa-verify-server: {exc}", file=sys.stderr)
        return 2
    host, port = httpd.server_address[:2]
    log.info("verifier listening on http://%s:%s (%d workers)", host, port, service.workers)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
