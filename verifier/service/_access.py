"""Structured access log: one JSON object per request on the ``verifier.service.access`` logger, and the
request id (``X-Request-Id``, taken from the client when it is sane, else made) on every response."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("verifier.service.access")
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class AccessLog:
    """ASGI middleware: times each HTTP request and logs method, path, status, sizes, verdict and client."""

    def __init__(self, app: ASGIApp, on_done: Any = None) -> None:
        self.app = app
        self.on_done = on_done  # callback(method, route, status, seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        info: dict[str, Any] = {"status": 500, "bytes_out": 0, "verdict": None}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                info["status"] = message["status"]
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode()))
                for name, value in headers:
                    if name.lower() == b"x-dirfa-verdict":
                        info["verdict"] = value.decode("latin-1")
                message = dict(message, headers=headers)
            elif message["type"] == "http.response.body":
                info["bytes_out"] += len(message.get("body") or b"")
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            client = scope.get("client") or ("-", 0)
            record = {
                "request_id": request_id,
                "client": f"{client[0]}:{client[1]}",
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": info["status"],
                "bytes_in": scope.get("state", {}).get("bytes_in", 0),
                "bytes_out": info["bytes_out"],
                "duration_ms": round(seconds * 1000, 1),
                "verdict": info["verdict"],
            }
            access_log.info(json.dumps(record, separators=(",", ":")))
            if self.on_done is not None:
                route = scope.get("state", {}).get("route") or "unmatched"
                self.on_done(scope.get("method") or "-", route, info["status"], seconds)
