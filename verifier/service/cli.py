"""``dirfa-verify-server``: run the verifier service (uvicorn, one process, a pool of worker processes)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .. import __version__
from .._decode import Limits
from ._upload import UploadLimits
from .app import ServiceConfig, create_app

log = logging.getLogger("verifier.service")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dirfa-verify-server",
        description="Serve the verifier over HTTP: a web page at /, POST /verify, the C2PA soft-binding "
        "resolution API, /healthz and /metrics.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    p.add_argument("--trust", metavar="PEM", help="PEM bundle of trust anchors (root certificates) to trust")
    p.add_argument("--store", metavar="URL", help="manifest store URL (sqlite:///path.db or postgresql://...)")
    p.add_argument("--key-file", metavar="FILE", help="an organisation's private watermark key (default: public key)")
    p.add_argument(
        "--api-key-file",
        metavar="FILE",
        help="file holding the API key that manifest-store writes must present (default: no writes)",
    )
    p.add_argument("--workers", type=int, default=0, metavar="N", help="verifier processes (0 = one per core)")
    p.add_argument(
        "--queue", type=int, metavar="N", help="verifications that may wait for a worker (default 8 per worker)"
    )
    p.add_argument("--fast", action="store_true", help="default to fast mode (key frames only); ?mode= overrides")
    p.add_argument("--max-mb", type=float, help="largest accepted upload in MB (default: Limits.max_bytes, 2 GiB)")
    p.add_argument("--timeout", type=float, metavar="S", help="deadline of one verification (default 30 s)")
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="an upload that sends nothing for this long gets 408 (default 10 s)",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p  # fmt: skip


def config_from_args(ns: argparse.Namespace) -> ServiceConfig:
    limits = Limits()
    if ns.max_mb:
        limits = Limits(max_bytes=int(ns.max_mb * 1e6), timeout_s=ns.timeout or limits.timeout_s)
    elif ns.timeout:
        limits = Limits(timeout_s=ns.timeout)
    trust = open(ns.trust, "rb").read() if ns.trust else None  # noqa: SIM115 - read at once
    key = open(ns.key_file, "rb").read().strip() if ns.key_file else None  # noqa: SIM115 - read at once
    api_key = None
    if ns.api_key_file:
        if os.stat(ns.api_key_file).st_mode & 0o077:
            log.warning("%s is readable by other users: chmod 600 it", ns.api_key_file)
        api_key = open(ns.api_key_file, encoding="utf-8").read().strip() or None  # noqa: SIM115
        if api_key is None:
            raise ValueError(f"{ns.api_key_file} is empty")
    return ServiceConfig(
        trust_pem=trust, store=ns.store, key=key, workers=ns.workers, queue=ns.queue,
        default_mode="fast" if ns.fast else "full", limits=limits,
        upload=UploadLimits(max_bytes=limits.max_bytes, idle_timeout_s=ns.idle_timeout), api_key=api_key,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    ns = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(config_from_args(ns))
    except (OSError, ValueError) as exc:
        print(f"dirfa-verify-server: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app,
        host=ns.host,
        port=ns.port,
        http="h11",  # rejects conflicting Content-Length headers and malformed framing
        lifespan="on",
        access_log=False,  # our own structured access log (verifier.service.access)
        timeout_keep_alive=5,
        timeout_graceful_shutdown=30,
        log_config=None,
        server_header=False,
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except OSError as exc:
        print(f"dirfa-verify-server: {exc}", file=sys.stderr)
        return 2
    return 0 if server.started else 2


if __name__ == "__main__":
    sys.exit(main())
