"""Turn the caller's image and audio (paths, bytes, arrays, PIL images, (samples, rate)) into what the pipeline needs:
pixels, samples, and the exact bytes recorded as C2PA ingredients."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import AudioError, ImageError
from models.face.image_io import load_image
from models.motion.audio import encode_wav, load_audio
from provenance.mime import sniff_mime

_IMAGE_MIMES = {"image/jpeg", "image/png", "image/webp"}
_AUDIO_MIMES = {"audio/wav", "audio/mpeg", "audio/mp4", "audio/flac"}


@dataclass(frozen=True)
class Ingredient:
    data: bytes
    mime: str
    title: str


@dataclass(frozen=True)
class PreparedInputs:
    image: np.ndarray  # RGB uint8
    image_ingredient: Ingredient
    audio_16k: np.ndarray  # mono float32, for the motion model
    audio_out: np.ndarray  # mono float32 at the output rate, for the mux
    audio_ingredient: Ingredient
    input_paths: tuple[Path, ...]

    @property
    def duration(self) -> float:
        return self.audio_16k.size / 16_000


def prepare(image: Any, audio: Any, *, out_rate: int, max_seconds: float) -> PreparedInputs:
    paths: list[Path] = []
    pixels = load_image(image)
    image_ing = _image_ingredient(image, pixels, paths)
    samples, sample_rate = audio if isinstance(audio, tuple) and len(audio) == 2 else (audio, None)
    if isinstance(samples, (str, os.PathLike)):
        paths.append(Path(samples).resolve())
    a16 = load_audio(samples, sample_rate=sample_rate, target_rate=16_000, max_seconds=max_seconds)
    aout = load_audio(samples, sample_rate=sample_rate, target_rate=out_rate, max_seconds=max_seconds)
    audio_ing = _audio_ingredient(samples, a16)
    return PreparedInputs(pixels, image_ing, a16, aout, audio_ing, tuple(paths))


def _image_ingredient(image: Any, pixels: np.ndarray, paths: list[Path]) -> Ingredient:
    data: bytes | None = None
    title = "portrait"
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        paths.append(path.resolve())
        data, title = path.read_bytes(), path.name
    elif isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    mime = sniff_mime(data[:64]) if data else None
    if data is None or mime not in _IMAGE_MIMES:
        # Arrays, PIL images and other formats are recorded as the PNG of the pixels actually animated.
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        data, mime = buf.getvalue(), "image/png"
        title = Path(title).stem + ".png"
    if not data:
        raise ImageError("image is empty")
    return Ingredient(data, mime, title)


def _audio_ingredient(audio: Any, samples_16k: np.ndarray) -> Ingredient:
    data: bytes | None = None
    title = "speech"
    if isinstance(audio, (str, os.PathLike)):
        data, title = Path(audio).read_bytes(), Path(audio).name
    elif isinstance(audio, (bytes, bytearray, memoryview)):
        data = bytes(audio)
    mime = sniff_mime(data[:64]) if data else None
    if data is None or mime not in _AUDIO_MIMES:
        data, mime = encode_wav(samples_16k, 16_000), "audio/wav"
        title = Path(title).stem + ".wav"
    if not data:
        raise AudioError("audio is empty")
    return Ingredient(data, mime, title)
