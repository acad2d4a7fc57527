"""Load test of the verifier service (issue 18), loopback only, bounded in count and time.

Starts ``python -m verifier.service`` as a child (``--workers`` default: one per core), renders a 10 s 512x512 video
once (or takes ``--video``), then for each mode (fast, full) and each concurrency (2 / 8 / 32 clients) sends
``--requests`` uploads of that video in full (each client: one connection per request, the whole file as the body)
and reports requests/s, p50 / p99 latency, errors by status, and the server's RSS (server + workers) before/after.
Then the slow-upload attack: ``--slow`` connections that declare a 2 GB body and send one byte every 5 s (under the
idle timeout), while 2 clients run fast-mode requests; and the original attack (one byte every 20 s: past the idle
timeout, so each such upload is cut with 408).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/service_load.py [--requests 40] [--video clip.mp4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (Linux /proc), in MB."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def one_request(port: int, body: bytes, mode: str) -> tuple[int, float]:
    t = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", f"/verify?mode={mode}", body=body, headers={"X-Filename": "clip.mp4"})
        resp = conn.getresponse()
        data = resp.read()
        status = resp.status
        if status == 200 and json.loads(data)["verdict"] != "verified":
            status = 299  # answered, but with the wrong verdict: counted as an error
        conn.close()
    except OSError:
        status = 0
    return status, time.perf_counter() - t


def run_load(port: int, body: bytes, mode: str, clients: int, requests: int, max_s: float) -> dict:
    results: list[tuple[int, float]] = []
    stop_at = time.monotonic() + max_s
    sent = Counter(n=0)
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                if sent["n"] >= requests or time.monotonic() > stop_at:
                    return
                sent["n"] += 1
            r = one_request(port, body, mode)
            with lock:
                results.append(r)

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        for f in [ex.submit(client) for _ in range(clients)]:
            f.result()
    wall = time.perf_counter() - t
    ok = sorted(d for s, d in results if s == 200)
    errors = Counter(str(s) for s, _ in results if s != 200)
    return {
        "mode": mode,
        "clients": clients,
        "requests": len(results),
        "ok": len(ok),
        "errors": dict(errors),
        "req_per_s": round(len(ok) / wall, 2),
        "p50_s": round(statistics.median(ok), 3) if ok else None,
        "p99_s": round(ok[min(len(ok) - 1, int(0.99 * len(ok)))], 3) if ok else None,
        "wall_s": round(wall, 1),
    }


def slow_connections(port: int, n: int, every_s: float, stop: threading.Event) -> dict:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(b"POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\n")
        socks.append(s)
    cut = Counter()

    def trickle() -> None:
        while not stop.is_set():
            for s in list(socks):
                try:
                    s.send(b"x")
                except OSError:
                    socks.remove(s)
                    cut["closed"] += 1
            stop.wait(every_s)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    return {"socks": socks, "thread": thread, "cut": cut}


def answer_of(sock: socket.socket) -> str:
    sock.settimeout(0.5)
    try:
        first = sock.recv(200).split(b"\r\n")[0].decode("latin-1")
    except OSError:
        first = ""
    return first or "no answer"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, help="a signed render to upload (default: render a 10 s clip)")
    p.add_argument("--requests", type=int, default=40, help="requests per (mode, clients) case (default 40)")
    p.add_argument("--max-s", type=float, default=90.0, help="time bound of each case (default 90 s)")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--slow", type=int, default=32, help="slow-body connections in the attack (default 32)")
    ns = p.parse_args()
    os.environ.setdefault("DIRFA_HOME", tempfile.mkdtemp(prefix="dirfa-bench-"))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    tmp = Path(tempfile.mkdtemp(prefix="service-load-"))
    video = ns.video
    if video is None:
        from render_speed import make_audio

        from sdk import Generator

        make_audio(10.0, tmp / "speech.wav")
        video = Generator(size=512).render(ROOT / "sdk" / "data" / "portrait.jpg", tmp / "speech.wav",
                                           output=tmp / "clip.mp4", seed=1).path  # fmt: skip
    body = video.read_bytes()

    from provenance.signing import dev_identity

    trust = tmp / "dev-root.pem"
    trust.write_bytes(dev_identity().root_pem)
    port = free_port()
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "verifier.service", "--port", str(port), "--trust", str(trust),
         "--workers", str(ns.workers)],
        cwd=tmp, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                health = json.loads(c.getresponse().read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        info = {"video_bytes": len(body), "workers": health["workers"], "queue_limit": health["queue_limit"],
                "rss_mb_idle": tree_rss_mb(server.pid)}  # fmt: skip
        print(json.dumps(info), flush=True)
        for mode in ("fast", "full"):
            one_request(port, body, mode)  # warm the workers
            for clients in (2, 8, 32):
                row = run_load(port, body, mode, clients, ns.requests, ns.max_s)
                row["rss_mb_after"] = tree_rss_mb(server.pid)
                print(json.dumps(row), flush=True)

        # The slow-upload attack against the new service.
        stop = threading.Event()
        slow = slow_connections(port, ns.slow, 5.0, stop)
        time.sleep(1.0)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/healthz")
        during = json.loads(c.getresponse().read())
        row = run_load(port, body, "fast", 2, ns.requests, ns.max_s)
        row.update(case=f"{ns.slow} slow-body connections (1 byte / 5 s) open", uploads_in_progress=during["uploads"],
                   busy_workers=during["busy"])  # fmt: skip
        print(json.dumps(row), flush=True)
        stop.set()
        slow["thread"].join()
        for s in slow["socks"]:
            s.close()

        # The original attack: 4 connections, one byte every 20 s (past the 10 s idle timeout).
        socks = []
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            s.sendall(b"POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\nx")
            socks.append(s)
        t = time.monotonic()
        row = run_load(port, body, "fast", 2, 10, 30)
        time.sleep(max(0.0, 12.0 - (time.monotonic() - t)))
        answers = Counter(answer_of(s) for s in socks)
        for s in socks:
            s.close()
        row.update(case="4 connections, 1 byte then silence", their_answers=dict(answers))
        print(json.dumps(row), flush=True)
    finally:
        rss_end = tree_rss_mb(server.pid)
        server.terminate()
        code = server.wait(60)
        log.close()
        text = (tmp / "server.log").read_text(errors="replace")
        print(json.dumps({"rss_mb_end": rss_end, "server_exit": code, "tracebacks_in_log": text.count("Traceback"),
                          "errors_in_log": sum(" ERROR " in line for line in text.splitlines()),
                          "machine": f"{platform.machine()} {os.cpu_count()} cores",
                          "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}))  # fmt: skip


if __name__ == "__main__":
    main()
