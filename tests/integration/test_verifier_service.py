"""The verifier over HTTP: a real server on a loopback port, real requests, real worker processes."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

from provenance.signing import dev_identity
from verifier import Limits
from verifier.service import VerifierService


@pytest.fixture(scope="module")
def server():
    service = VerifierService(trust_pem=dev_identity().root_pem, workers=1, limits=Limits(max_bytes=50_000_000))
    httpd = service.server("127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[:2]
    httpd.shutdown()
    httpd.server_close()
    service.close()


def request(address, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*address, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), json.loads(resp.read() or b"null")
    finally:
        conn.close()


def test_health(server):
    status, _, body = request(server, "GET", "/healthz")
    assert status == 200 and body["status"] == "ok" and body["schema_version"]


def test_a_signed_render_is_verified_over_http(server, signed_video):
    status, headers, report = request(server, "POST", "/verify?mode=fast", signed_video.read_bytes())
    assert status == 200
    assert report["verdict"] == "verified" and headers["X-Dirfa-Verdict"] == "verified"
    assert report["watermark"]["found"] and report["c2pa"]["status"] == "trusted"


def test_garbage_is_unreadable_and_the_server_stays_up(server):
    status, _, report = request(server, "POST", "/verify", b"\x00garbage" * 1000)
    assert status == 200 and report["verdict"] == "unreadable"
    assert request(server, "GET", "/healthz")[0] == 200


def test_an_upload_over_the_limit_is_refused_before_it_is_read(server):
    conn = http.client.HTTPConnection(*server, timeout=30)
    try:
        conn.putrequest("POST", "/verify")
        conn.putheader("Content-Length", str(60_000_000))
        conn.endheaders()  # no body sent at all: the answer must not wait for it
        resp = conn.getresponse()
        assert resp.status == 413 and "limit" in json.loads(resp.read())["error"]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("method", "path", "headers", "expected"),
    [
        ("GET", "/verify", {}, 405),
        ("POST", "/elsewhere", {"Content-Length": "0"}, 404),
        ("POST", "/verify?mode=slow", {"Content-Length": "0"}, 400),
        ("POST", "/verify", {"Transfer-Encoding": "chunked"}, 411),
    ],
)
def test_bad_requests_get_typed_errors(server, method, path, headers, expected):
    status, _, body = request(server, method, path, headers=headers)
    assert status == expected and body["error"]


def test_the_command_line_refuses_a_missing_trust_bundle(tmp_path):
    from verifier.service import main

    assert main(["--trust", str(tmp_path / "missing.pem"), "--port", "0"]) == 2


def test_a_dead_worker_costs_one_request_not_the_service(tmp_path):
    import os
    import signal
    import time

    service = VerifierService(workers=1)
    httpd = service.server("127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    address = httpd.server_address[:2]
    try:
        assert request(address, "POST", "/verify", b"not a video")[0] == 200  # the worker is up
        for pid in list(service._pool._processes):
            os.kill(pid, signal.SIGKILL)  # what a crash in native code looks like
        time.sleep(0.5)
        assert request(address, "POST", "/verify", b"not a video")[0] == 500
        status, _, report = request(address, "POST", "/verify", b"not a video")
        assert status == 200 and report["verdict"] == "unreadable"
    finally:
        httpd.shutdown()
        httpd.server_close()
        service.close()


def test_close_does_not_wait_forever_for_a_stuck_worker():
    import time

    service = VerifierService(workers=1)
    service._pool.submit(time.sleep, 60)  # a worker stuck in a long native call looks like this from outside
    time.sleep(1.0)  # let the worker pick it up
    procs = list(service._pool._processes.values())
    t = time.monotonic()
    service.close(timeout=1.0)
    assert time.monotonic() - t < 10
    assert procs and not any(p.is_alive() for p in procs)
