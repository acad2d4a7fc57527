"""Batch sources: folders, @LIST files, and URLs fetched from a real HTTP server on loopback."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

from verifier import Limits
from verifier._sources import SourceError, expand, verify_source


def test_folders_lists_and_urls_expand_in_order_once(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/b.mp4", "d/a.MOV", "d/notes.txt", "d/sub/c.png"):
        (tmp_path / name).write_bytes(b"x")
    listing = tmp_path / "list.txt"
    listing.write_text("# comment\n\nd/a.MOV\nhttps://example.org/v.mp4\n")
    got = expand([str(tmp_path / "d"), f"@{listing}", "https://example.org/v.mp4", "missing.mp4"])
    assert got == [
        str(tmp_path / "d" / "a.MOV"),
        str(tmp_path / "d" / "b.mp4"),
        str(tmp_path / "d" / "sub" / "c.png"),
        "https://example.org/v.mp4",
        "missing.mp4",  # reported per file later, not here
    ]
    with pytest.raises(SourceError, match="cannot read the list"):
        expand([f"@{tmp_path / 'nope.txt'}"])


@pytest.fixture
def http_root(tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_url_is_fetched_verified_and_named_as_given(http_root, signed_video):
    root, base = http_root
    shutil.copy(signed_video, root / "v.mp4")
    report = verify_source(f"{base}/v.mp4", mode="fast")
    assert report["source"] == f"{base}/v.mp4" and report["watermark"]["found"]
    assert report["verdict"] == "signed_untrusted"


def test_a_url_over_the_size_limit_or_missing_is_unreadable(http_root):
    root, base = http_root
    (root / "big.mp4").write_bytes(b"\x00" * 3_000_000)
    report = verify_source(f"{base}/big.mp4", mode="fast", limits=Limits(max_bytes=1_000_000))
    assert report["verdict"] == "unreadable" and "limit" in report["summary"]
    report = verify_source(f"{base}/missing.mp4", mode="fast")
    assert report["verdict"] == "unreadable" and "404" in report["summary"]
