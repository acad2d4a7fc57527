"""Prometheus metrics of one service process (its own registry: several apps in one process stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "dirfa_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "dirfa_http_request_duration_seconds",
            "time from request to response",
            ["route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.verifications = Counter("dirfa_verifications", "verifications finished", ["mode", "verdict"], registry=r)
        self.verify_seconds = Histogram(
            "dirfa_verification_duration_seconds", "time in a worker", ["mode"], buckets=_LATENCY, registry=r
        )
        self.rejected = Counter(
            "dirfa_requests_rejected", "requests refused before verification", ["reason"], registry=r
        )
        self.upload_bytes = Counter("dirfa_upload_bytes", "bytes of uploads read in full", registry=r)
        self.uploads = Gauge("dirfa_uploads_in_progress", "request bodies being read", registry=r)
        self.restarts = Counter("dirfa_worker_restarts", "workers killed and replaced", ["reason"], registry=r)
        self.workers = Gauge("dirfa_workers", "verifier worker processes", registry=r)
        self.busy = Gauge("dirfa_workers_busy", "workers verifying now", registry=r)
        self.waiting = Gauge("dirfa_queue_waiting", "verifications waiting for a worker", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
