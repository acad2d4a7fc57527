"""A real verifier service (uvicorn + the ASGI app) on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Running:
    host: str
    port: int
    app: Any  # the wrapped app; .state is the ServiceState

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def serve(config: Any = None, *, start_timeout: float = 60.0) -> Iterator[Running]:
    """Run the service until the block ends; then fail if the server logged any error (an unhandled exception in
    the app, or uvicorn's "Exception in ASGI application")."""
    import uvicorn

    from verifier.service import ServiceConfig, create_app

    app = create_app(config or ServiceConfig(workers=1))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", http="h11", access_log=False,
                       log_config=None, timeout_graceful_shutdown=5)
    )  # fmt: skip
    errors = _Errors()
    watched = [logging.getLogger(name) for name in ("uvicorn.error", "verifier.service")]
    for logger in watched:
        logger.addHandler(errors)
    thread = threading.Thread(target=server.run, daemon=True, name="uvicorn-test")
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the verifier service did not start")
        time.sleep(0.05)
    try:
        yield Running("127.0.0.1", port, app)
    finally:
        server.should_exit = True
        thread.join(30)
        for logger in watched:
            logger.removeHandler(errors)
    logged = [f"{r.name}: {r.getMessage()}" for r in errors.records]
    assert not logged, f"the service logged errors: {logged}"
