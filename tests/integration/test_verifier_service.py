"""The verifier service over real HTTP: uvicorn on a loopback port, real requests, real worker processes."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from provenance.signing import dev_identity
from tests._service import free_port, serve
from verifier import Limits
from verifier.service import ServiceConfig, UploadLimits

FAULTY = "tests.integration._faulty_service:faulty_upload"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    config = ServiceConfig(
        trust_pem=dev_identity().root_pem, workers=1, queue=4, limits=Limits(max_bytes=50_000_000),
        upload=UploadLimits(max_bytes=50_000_000, idle_timeout_s=1.0), target=FAULTY,
    )  # fmt: skip
    with serve(config) as running:
        yield running


def request(srv, method, path, body=None, headers=None, timeout=120):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, dict(resp.getheaders()), json.loads(raw) if raw else None
    finally:
        conn.close()


def raw_exchange(srv, data: bytes, timeout=10.0) -> bytes:
    with socket.create_connection((srv.host, srv.port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
        return out


def test_health_reports_capacity(server):
    status, headers, body = request(server, "GET", "/healthz")
    assert status == 200 and body["status"] == "ok" and body["schema_version"]
    assert body["workers"] == 1 and body["busy"] == 0 and body["queue_limit"] == 4 and body["saturated"] is False
    assert headers["x-request-id"]
    assert request(server, "GET", "/livez")[0] == 200


def test_a_signed_render_is_verified_over_http(server, signed_video):
    status, headers, report = request(
        server, "POST", "/verify?mode=fast", signed_video.read_bytes(), {"X-Filename": "../../etc/talking.mp4"}
    )
    assert status == 200
    assert report["verdict"] == "verified" and headers["x-dirfa-verdict"] == "verified"
    assert report["watermark"]["found"] and report["c2pa"]["status"] == "trusted"
    assert report["source"] == "talking.mp4"  # the upload's base name, never a server path


def test_thumbnails_form_wraps_the_report(server, signed_video):
    status, _, body = request(server, "POST", "/verify?mode=fast&thumbnails=1", signed_video.read_bytes())
    assert status == 200 and set(body) == {"report", "thumbnails"}
    assert body["report"]["verdict"] == "verified" and isinstance(body["thumbnails"], list)


def test_garbage_is_unreadable_and_the_server_stays_up(server):
    status, _, report = request(server, "POST", "/verify", b"\x00garbage" * 1000)
    assert status == 200 and report["verdict"] == "unreadable"
    assert request(server, "GET", "/healthz")[0] == 200


def test_an_upload_over_the_declared_limit_is_refused_before_it_is_read(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.putrequest("POST", "/verify")
        conn.putheader("Content-Length", str(60_000_000))
        conn.endheaders()  # no body sent at all: the answer must not wait for it
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 413 and "limit" in body["error"] and body["status"] == 413
    finally:
        conn.close()


def test_a_chunked_upload_is_counted_while_it_is_read(server):
    def chunks():
        for _ in range(60):
            yield b"\x00" * 1_000_000

    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("POST", "/verify", body=chunks(), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        assert resp.status == 413 and "limit" in json.loads(resp.read())["error"]
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed while we were still sending: also a refusal
    finally:
        conn.close()
    assert not list(Path(server.app.state.spool_dir).iterdir())  # nothing spooled is left behind


def test_an_idle_upload_gets_408_and_leaves_nothing(server):
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(b"POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"a" * 10)
        t = time.monotonic()
        answer = b""
        while chunk := s.recv(65536):  # the server closes after answering
            answer += chunk
        assert b" 408 " in answer.split(b"\r\n")[0] and b'"status":408' in answer
        assert time.monotonic() - t < 5  # idle_timeout_s is 1 s here
    assert not list(Path(server.app.state.spool_dir).iterdir())


def test_conflicting_content_lengths_are_refused(server):
    answer = raw_exchange(
        server,
        b"POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello",
    )
    assert answer.startswith(b"HTTP/1.1 400")


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/verify", 405),
        ("PUT", "/verify", 405),
        ("DELETE", "/verify", 405),
        ("OPTIONS", "/verify", 405),
        ("PATCH", "/healthz", 405),
        ("GET", "/elsewhere", 404),
        ("POST", "/verify?mode=slow", 400),
        ("POST", "/verify?foo=1", 400),
    ],
)
def test_every_error_is_json(server, method, path, expected):
    status, headers, body = request(server, method, path, body=b"x" if method == "POST" else None)
    assert status == expected and body["status"] == expected and body["error"]
    assert headers["content-type"] == "application/json"
    if expected == 405:
        assert "allow" in headers


def test_an_empty_body_is_a_bad_request(server):
    status, _, body = request(server, "POST", "/verify", b"")
    assert status == 400 and "body" in body["error"]


def test_slow_uploads_do_not_deny_service(server, signed_video):
    """32 connections trickling a huge body hold no worker: normal requests still succeed meanwhile."""
    stop = threading.Event()
    socks = []
    for _ in range(32):
        s = socket.create_connection((server.host, server.port), timeout=10)
        s.sendall(b"POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: 40000000\r\n\r\n")
        socks.append(s)

    def trickle():
        while not stop.is_set():
            for s in socks:
                with contextlib.suppress(OSError):
                    s.send(b"x")
            stop.wait(0.5)  # under the 1 s idle timeout: these uploads stay alive

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        health = request(server, "GET", "/healthz")[2]
        assert health["uploads"] >= 30 and health["busy"] == 0
        for _ in range(3):
            status, _, report = request(server, "POST", "/verify?mode=fast", signed_video.read_bytes(), timeout=60)
            assert status == 200 and report["verdict"] == "verified"
    finally:
        stop.set()
        thread.join()
        for s in socks:
            s.close()


def test_a_crashed_worker_costs_one_report_not_the_service(server):
    status, _, report = request(server, "POST", "/verify", b"not a video", {"X-Filename": "segv.mp4"})
    assert status == 200 and report["verdict"] == "unreadable" and "crashed" in report["summary"]
    status, _, report = request(server, "POST", "/verify", b"not a video")
    assert status == 200 and report["verdict"] == "unreadable" and "crashed" not in report["summary"]
    metrics = request_text(server, "/metrics")
    assert 'dirfa_worker_restarts_total{reason="crash"} 1.0' in metrics


def request_text(srv, path):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        assert resp.status == 200
        return resp.read().decode()
    finally:
        conn.close()


def test_metrics_count_requests_and_verdicts(server):
    request(server, "POST", "/verify?mode=fast", b"\x00garbage" * 100)
    text = request_text(server, "/metrics")
    assert 'dirfa_verifications_total{mode="fast",verdict="unreadable"}' in text
    assert 'dirfa_http_requests_total{method="POST",route="/verify",status="200"}' in text
    assert "dirfa_workers 1.0" in text and "dirfa_queue_waiting 0.0" in text


def test_saturation_is_reported_and_refused_with_retry_after():
    config = ServiceConfig(workers=1, queue=0, target=FAULTY)
    with serve(config) as srv:
        result = {}

        def slow():
            result["slow"] = request(srv, "POST", "/verify", b"x" * 100, {"X-Filename": "slow.mp4"})

        thread = threading.Thread(target=slow)
        thread.start()
        deadline = time.monotonic() + 10
        while request(srv, "GET", "/healthz")[2]["busy"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        status, _, health = request(srv, "GET", "/healthz")
        assert status == 503 and health["status"] == "saturated"
        status, headers, body = request(srv, "POST", "/verify", b"x" * 100)
        assert status == 503 and headers["retry-after"] == "1" and body["status"] == 503
        thread.join()
        assert result["slow"][0] == 200
        assert request(srv, "GET", "/healthz")[0] == 200


def test_a_verification_past_the_deadline_is_killed_and_reported():
    config = ServiceConfig(workers=1, limits=Limits(timeout_s=1.0), target=FAULTY)
    with serve(config) as srv:
        t = time.monotonic()
        status, _, report = request(srv, "POST", "/verify", b"x" * 100, {"X-Filename": "hang.mp4"})
        assert status == 200 and report["verdict"] == "unreadable" and "deadline" in report["summary"]
        assert time.monotonic() - t < 15  # 1 s + the grace, not the worker's 600 s sleep
        assert request(srv, "POST", "/verify", b"x" * 100)[0] == 200  # a fresh worker took over


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_the_server_and_its_workers(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "verifier.service", "--port", str(port), "--workers", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/verify", body=b"not a video")
        assert conn.getresponse().status == 200
        workers = _descendants(proc.pid)
        assert len(workers) >= 2  # the forkserver and its worker processes
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once shut down
        time.sleep(0.5)
        assert not [pid for pid in workers if _alive(pid)]
        log = proc.stdout.read().decode()
        access = [json.loads(line.split(": ", 1)[1]) for line in log.splitlines() if "verifier.service.access" in line]
        assert {"method", "path", "status", "duration_ms", "request_id", "bytes_in"} <= set(access[-1])
        assert any(a["path"] == "/verify" and a["status"] == 200 and a["bytes_in"] == 11 for a in access)
        assert "Application shutdown complete" in log and "verifier workers stopped" in log
        assert "Traceback" not in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_command_line_refuses_a_missing_trust_bundle(tmp_path):
    from verifier.service import main

    assert main(["--trust", str(tmp_path / "missing.pem"), "--port", "0"]) == 2
