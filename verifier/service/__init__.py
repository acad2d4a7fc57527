"""``dirfa-verify-server``: the verifier as an ASGI service (Starlette on uvicorn; the ``service`` extra).

    GET  /                          the web page: drop a video, read its verdict
    POST /verify[?mode=fast|full][&thumbnails=1]
                                    body: the file's bytes -> 200 + the report (docs/report.schema.json),
                                    header X-Dirfa-Verdict; with thumbnails=1: {"report", "thumbnails"}
    GET  /healthz                   200 {"status": "ok", ...} or 503 {"status": "saturated", ...}
    GET  /livez                     200 while the process answers
    GET  /metrics                   Prometheus text format
    the C2PA Soft Binding Resolution API: /matches/byBinding, /matches/byContent, /manifests/{id},
    /services/supportedAlgorithms (see ``verifier.service.softbinding``)

Verifications run in a bounded pool of supervised worker processes (``verifier._isolated``); a body is read in
full, under a size limit, an idle timeout and a deadline, before it may take a worker or a queue place. Every
error is JSON ``{"error": ..., "status": ...}``. It binds to 127.0.0.1 by default: put it behind your own TLS
proxy. ``docs/verifier.md`` documents the limits, the metrics and the page.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["ServiceConfig", "UploadLimits", "create_app", "main"]

EXTRA_HINT = "pip install 'dirfa[service]'"


def main(argv: list[str] | None = None) -> int:
    """``dirfa-verify-server``; without the ``service`` extra it says what to install (exit 2)."""
    try:
        from .cli import main as run
    except ImportError as exc:
        print(f"dirfa-verify-server needs the service extra ({exc.name} is missing): {EXTRA_HINT}", file=sys.stderr)
        return 2
    return run(argv)


def __getattr__(name: str) -> Any:  # the ASGI stack is imported only when asked for
    if name in ("ServiceConfig", "create_app"):
        from . import app

        return getattr(app, name)
    if name == "UploadLimits":
        from ._upload import UploadLimits

        return UploadLimits
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
