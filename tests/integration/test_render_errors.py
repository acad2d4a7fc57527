"""Bad input gets a typed error and leaves nothing behind; provenance never degrades silently."""

from __future__ import annotations

import numpy as np
import pytest

from models.motion.audio import encode_wav
from sdk import AudioError, Generator, ImageError, NoFaceError, OutputError, ProvenanceFailure


@pytest.fixture(scope="module")
def gen():
    return Generator(size=256)


def assert_nothing_written(directory):
    leftovers = [p.name for p in directory.iterdir()]
    assert leftovers == [], leftovers


def test_no_face(gen, tmp_path, short_speech):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    grey = np.full((300, 300, 3), 128, np.uint8)
    with pytest.raises(NoFaceError):
        gen.render(grey, short_speech, output=out_dir / "x.mp4")
    assert_nothing_written(out_dir)


def test_corrupt_image(gen, tmp_path, short_speech):
    with pytest.raises(ImageError):
        gen.render(b"\xff\xd8\xff\xe0 definitely not a jpeg", short_speech, output=tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


def test_missing_image(gen, tmp_path, short_speech):
    with pytest.raises(ImageError):
        gen.render(tmp_path / "missing.jpg", short_speech, output=tmp_path / "x.mp4")


@pytest.mark.parametrize(
    "audio",
    [
        (np.zeros(32000, np.float32), 16000),  # silent
        (np.zeros(0, np.float32), 16000),  # empty
        b"RIFF\x00\x00\x00\x00WAVEnot really",  # corrupt
    ],
)
def test_bad_audio(gen, tmp_path, portrait_path, audio):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(AudioError):
        gen.render(portrait_path, audio, output=out_dir / "x.mp4")
    assert_nothing_written(out_dir)


def test_audio_over_the_maximum_length(tmp_path, portrait_path):
    t = np.arange(3 * 16000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    with pytest.raises(AudioError):
        Generator(size=256, max_duration=2.0).render(portrait_path, encode_wav(tone, 16000), output=tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("name", ["x.avi", "x.mov", "noext"])
def test_unsupported_output_format(gen, tmp_path, portrait_path, short_speech, name):
    with pytest.raises(OutputError):
        gen.render(portrait_path, short_speech, output=tmp_path / name)


def test_missing_or_unwritable_output_directory(gen, tmp_path, portrait_path, short_speech):
    with pytest.raises(OutputError):
        gen.render(portrait_path, short_speech, output=tmp_path / "no" / "such" / "x.mp4")
    with pytest.raises(OutputError):  # /proc refuses new files even for root
        gen.render(portrait_path, short_speech, output="/proc/x.mp4")


def test_output_equal_to_an_input(gen, tmp_path, short_speech, portrait_path):
    fake = tmp_path / "speech.mp4"
    fake.write_bytes(short_speech.read_bytes())
    with pytest.raises(OutputError):
        gen.render(portrait_path, fake, output=fake)
    assert fake.read_bytes() == short_speech.read_bytes()


def test_a_signature_that_cannot_be_made_writes_nothing(tmp_path, portrait_path, short_speech):
    from provenance.signing import SigningIdentity, dev_identity

    def broken_hsm(data: bytes) -> bytes:
        raise RuntimeError("HSM unavailable")

    # probe=False: this HSM fails only after loading (the load-time probe would catch a dead one at once)
    identity = SigningIdentity.from_callback(broken_hsm, dev_identity().certificate_chain_pem, probe=False)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(ProvenanceFailure):
        Generator(size=256, identity=identity).render(portrait_path, short_speech, output=out_dir / "x.mp4")
    assert_nothing_written(out_dir)


def test_too_small_an_output_size_is_refused_up_front():
    with pytest.raises(ValueError):
        Generator(size=128)


def test_a_watermark_that_cannot_be_applied_writes_nothing(tmp_path, portrait_path, short_speech):
    from provenance.errors import WatermarkError

    class BrokenMarker:
        def embed(self, frames, content_id, *, fps=25.0):
            for i, frame in enumerate(frames):
                if i == 10:
                    raise WatermarkError("embedding failed")
                yield frame

    gen = Generator(size=256)
    gen.watermarker = BrokenMarker()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(ProvenanceFailure):
        gen.render(portrait_path, short_speech, output=out_dir / "x.mp4")
    assert_nothing_written(out_dir)
