"""Issue 17: crashes, time bombs and memory bombs cost one file an UNREADABLE report (reason given), never the
verifier or the batch. Every input is generated here."""

from __future__ import annotations

import json
import struct
import time
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from verifier import Limits, Verdict, _isolated, verify
from verifier.cli import main as cli_main


def _png(width: int, height: int) -> bytes:
    """A valid, highly compressed greyscale PNG of any size (rows streamed through zlib)."""
    z = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(z.compress(row) for _ in range(height)) + z.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _fragmented_mp4(path: Path, frames: int) -> Path:
    """An H.264 MP4 with one movie fragment per frame."""
    with av.open(str(path), "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov"}) as c:
        s = c.add_stream("libx264", rate=25)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        s.codec_context.time_base = Fraction(1, 25)
        s.codec_context.gop_size = 1
        s.options = {"preset": "ultrafast"}
        img = np.zeros((64, 64, 3), np.uint8)
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def test_svg_is_unreadable_not_a_crash(tmp_path):
    svg = tmp_path / "drawing.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>')
    report = verify(svg)
    assert report.verdict is Verdict.UNREADABLE and "decoder" in report.summary
    report.to_json()


def test_cli_prints_json_for_an_svg(tmp_path, capsys):
    svg = tmp_path / "drawing.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>')
    assert cli_main(["--json", str(svg)]) == 40
    assert json.loads(capsys.readouterr().out)["verdict"] == "unreadable"


def test_huge_declared_image_is_refused_from_its_header_before_decoding():
    data = _png(16000, 16000)  # 250 KB on disk, 256 MB as pixels
    t = time.perf_counter()
    report = verify(data)
    assert time.perf_counter() - t < 1.0
    assert report.verdict is Verdict.UNREADABLE and report.summary.startswith("unreadable: limit:")


def test_too_many_movie_fragments_are_refused_before_the_manifest_read(tmp_path):
    path = _fragmented_mp4(tmp_path / "frag.mp4", 60)
    assert verify(path).verdict is Verdict.NO_PROVENANCE  # under the limit: read normally
    report = verify(path, limits=Limits(max_fragments=50))
    assert report.verdict is Verdict.UNREADABLE and "fragments" in report.summary


def test_one_deadline_covers_every_stage(signed_video):
    report = verify(signed_video, limits=Limits(timeout_s=1e-6))
    assert report.verdict is Verdict.UNREADABLE
    assert "deadline" in report.summary and report.summary.startswith("unreadable: limit:")


def test_decoded_pixel_budget(signed_video):
    report = verify(signed_video, limits=Limits(max_decoded_pixels=512 * 512 * 10))
    assert report.verdict is Verdict.UNREADABLE and "decoded pixels" in report.summary


# -- supervised workers, running a verification function that crashes, hangs or hogs memory by file name -------------

FAULTY = "tests.unit.verifier._faulty:faulty_verify"


@pytest.fixture
def batch(tmp_path, portrait_path):
    files = []
    for name in ("a.jpg", "segv.jpg", "b.jpg", "hang.jpg", "hog.jpg", "c.jpg"):
        p = tmp_path / name
        p.write_bytes(portrait_path.read_bytes())
        files.append(str(p))
    return files


def test_a_crashing_hanging_or_hogging_file_costs_one_result_not_the_batch(batch):
    t = time.perf_counter()
    limits = Limits(timeout_s=8.0, max_memory_bytes=512 * 1024**2)  # generous: a loaded CI machine
    results = _isolated.verify_isolated(batch, workers=2, target=FAULTY, limits=limits)
    assert time.perf_counter() - t < 55
    by_name = {Path(r["source"]).name: r for r in results}
    assert [Path(r["source"]).name for r in results] == [Path(f).name for f in batch]  # in order, one each
    for ok in ("a.jpg", "b.jpg", "c.jpg"):
        assert by_name[ok]["verdict"] == "no_provenance"
    assert by_name["segv.jpg"]["verdict"] == "unreadable" and "crashed" in by_name["segv.jpg"]["summary"]
    assert by_name["hang.jpg"]["verdict"] == "unreadable" and "deadline" in by_name["hang.jpg"]["summary"]
    assert by_name["hog.jpg"]["verdict"] == "unreadable"
    assert "memory" in by_name["hog.jpg"]["summary"] or "crashed" in by_name["hog.jpg"]["summary"]


def test_cli_jobs_reports_every_file_when_one_crashes(batch, capsys, monkeypatch):
    monkeypatch.setattr(_isolated, "TARGET", FAULTY)  # what the CLI's workers run
    files = [f for f in batch if not Path(f).name.startswith(("hang", "hog"))]
    code = cli_main(["--json", "--jobs", "2", *files])
    body = json.loads(capsys.readouterr().out)
    assert [r["verdict"] for r in body["reports"]] == ["no_provenance", "unreadable", "no_provenance", "no_provenance"]
    assert code == 40
