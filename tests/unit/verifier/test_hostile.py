"""Hostile and broken inputs: the verifier answers UNREADABLE (or TAMPERED), within bounds, and never crashes."""

import struct
import zlib

import pytest

from verifier import Limits, Verdict, verify


def box(kind: bytes, payload: bytes = b"", size: int | None = None) -> bytes:
    return struct.pack(">I", len(payload) + 8 if size is None else size) + kind + payload


def png_with_size(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


CASES = {
    "zero bytes": b"",
    "garbage": bytes(range(256)) * 40,
    "ftyp only": box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2"),
    "box claims 2^32-1 bytes": box(b"ftyp", b"isom\x00\x00\x02\x00") + box(b"moov", b"\x00" * 16, size=0xFFFFFFFF),
    "nested box bomb": box(b"ftyp", b"isom\x00\x00\x02\x00")
    + b"".join(struct.pack(">I", 8 * (2000 - i)) + b"moov" for i in range(2000)),
    "riff bomb": b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + b"AVI " + b"LIST" + struct.pack("<I", 0xFFFFFFF0) + b"hdrl",
    "absurd png dimensions": png_with_size(100_000, 100_000),
    "webm header only": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 32,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_bytes_are_unreadable_not_a_crash(name):
    report = verify(CASES[name])
    assert report.verdict is Verdict.UNREADABLE  # none of these holds a manifest that could have been tampered
    assert report.errors
    report.to_json()  # always serialisable


def test_truncated_video_is_unreadable_or_tampered(signed_video):
    data = signed_video.read_bytes()
    for keep in (16, 200, len(data) // 3):
        assert verify(data[:keep]).verdict in (Verdict.UNREADABLE, Verdict.TAMPERED)


def test_random_corruption_of_a_signed_file_never_crashes(signed_video):
    import random

    rng = random.Random(1234)
    data = signed_video.read_bytes()
    # Bytes the hard binding covers: the moov and mdat boxes. (C2PA's BMFF hash leaves out, by design, the
    # manifest's own uuid box, ftyp and free boxes: a changed byte there can leave the signature valid.)
    hashed = [(start, end) for kind, start, end in _top_level_boxes(data) if kind in (b"moov", b"mdat")]
    for _ in range(25):
        b = bytearray(data)
        for _ in range(rng.choice([1, 8, 64])):
            start, end = rng.choice(hashed)
            b[rng.randrange(start, end)] = rng.randrange(256)
        if rng.random() < 0.3:
            b = b[: rng.randrange(len(b))]
        report = verify(bytes(b), mode="fast")
        # The manifest is bound to every hashed byte: any change is detected (or the file no longer parses).
        assert report.verdict in (Verdict.TAMPERED, Verdict.UNREADABLE), report.summary
        report.to_json()


def test_wrong_extension_is_ignored(signed_video, tmp_path):
    renamed = tmp_path / "picture.png"
    renamed.write_bytes(signed_video.read_bytes())
    report = verify(renamed)
    assert report.media.mime == "video/mp4"
    assert report.verdict is Verdict.SIGNED_UNTRUSTED


def test_size_limit_is_enforced_before_reading(signed_video):
    report = verify(signed_video, limits=Limits(max_bytes=1000))
    assert report.verdict is Verdict.UNREADABLE


def test_duration_and_frame_limits(signed_video):
    assert verify(signed_video, limits=Limits(max_duration_s=0.5)).verdict is Verdict.UNREADABLE
    report = verify(signed_video, limits=Limits(max_frames=3))
    assert report.verdict is Verdict.UNREADABLE and report.c2pa.present


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        verify(tmp_path / "nope.mp4")


def test_bad_mode_raises_value_error(signed_video):
    with pytest.raises(ValueError):
        verify(signed_video, mode="quick")


def _top_level_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    import struct

    out, i = [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        if size == 1:
            size = struct.unpack(">Q", data[i + 8 : i + 16])[0]
        out.append((kind, i, i + size))
        i += max(size, 8)
    return out
