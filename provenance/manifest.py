"""Raw C2PA signing primitive: builds the dirfa manifest and embeds it in an MP4.

This module writes media without any watermark check: the SDK is the only intended caller, after it has
watermarked and muxed the final file. Sign the FINAL file: any remux afterwards drops the manifest.

Assertions written (docs/manifest.md shows each one read back from a real output): ``c2pa.actions``
(c2pa.created with digitalSourceType trainedAlgorithmicMedia and a softwareAgent naming the model, then
c2pa.watermarked), the portrait and the speech as ``inputTo`` ingredients, ``c2pa.soft-binding`` (alg
:data:`SOFT_BINDING_ALG`, value = the watermark content ID, scope = the whole timespan),
``io.github.dirfa.generation`` (generation parameters) and ``cawg.training-mining`` (AI training and data
mining declined by default).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import c2pa

from provenance import _c2pa_context
from provenance._c2pa_context import SOFT_BINDING_ALG
from provenance._version import PRODUCT_NAME, __version__
from provenance.audiomark import AUDIO_SOFT_BINDING_ALG
from provenance.errors import SigningError
from provenance.signing import SigningIdentity

__all__ = [
    "DIGITAL_SOURCE_TYPE",
    "GENERATION_LABEL",
    "SOFT_BINDING_ALG",
    "TRAINING_MINING_LABEL",
    "Ingredient",
    "ManifestInfo",
    "ModelInfo",
    "TrainingUse",
    "build_definition",
    "sign_file",
]

log = logging.getLogger(__name__)

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATION_LABEL = "io.github.dirfa.generation"
TRAINING_MINING_LABEL = "cawg.training-mining"
WATERMARK_AGENT = "dirfa watermark"

_CONTENT_ID = re.compile(r"[0-9a-f]{12}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_INGREDIENT_MIMES = {
    "image/jpeg",
    "image/png",
    "image/webp",
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/mpeg",
    "audio/mp4",
    "audio/flac",
    "video/mp4",  # reference videos of a render (pose_from / blinks_from)
    "video/quicktime",
}


def product_version() -> str:
    return __version__


class TrainingUse(str, Enum):
    """Values of a CAWG training-and-mining entry."""

    ALLOWED = "allowed"
    NOT_ALLOWED = "notAllowed"
    CONSTRAINED = "constrained"


def _default_training_policy() -> dict[str, TrainingUse]:
    # Inference stays allowed on purpose: deepfake detectors run inference on the video.
    return {
        "cawg.ai_training": TrainingUse.NOT_ALLOWED,
        "cawg.ai_generative_training": TrainingUse.NOT_ALLOWED,
        "cawg.data_mining": TrainingUse.NOT_ALLOWED,
        "cawg.ai_inference": TrainingUse.ALLOWED,
    }


@dataclass(frozen=True)
class ModelInfo:
    """The generator model: name, version and the sha256 (hex) of its weights."""

    name: str
    version: str
    sha256: str

    def __post_init__(self) -> None:
        if not self.name or not self.version:
            raise ValueError("ModelInfo needs a name and a version")
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError("ModelInfo.sha256 must be 64 lowercase hex characters")


@dataclass(frozen=True)
class Ingredient:
    """A source file of the render (portrait, speech), recorded as an ``inputTo`` ingredient."""

    data: bytes = field(repr=False)
    mime: str
    title: str

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError(f"ingredient {self.title!r} is empty")
        if self.mime not in _INGREDIENT_MIMES:
            raise ValueError(f"ingredient mime {self.mime!r} not supported; one of {sorted(_INGREDIENT_MIMES)}")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class ManifestInfo:
    """Everything the manifest states about one render. ``created_at`` defaults to the signing time."""

    title: str
    content_id: str
    model: ModelInfo
    renderer: str
    seed: int
    fps: float
    duration: float
    image: Ingredient
    audio: Ingredient
    created_at: dt.datetime | None = None
    extra_parameters: Mapping[str, Any] = field(default_factory=dict)
    training_mining: Mapping[str, TrainingUse] = field(default_factory=_default_training_policy)
    # Reference videos the motion was taken from (Generator.render's pose_from / blinks_from): more inputTo
    # ingredients, labelled reference0, reference1, ...
    references: tuple[Ingredient, ...] = ()

    def __post_init__(self) -> None:
        if not _CONTENT_ID.fullmatch(self.content_id):
            raise ValueError("content_id must be 12 lowercase hex characters (48 bits)")
        if self.fps <= 0 or self.duration <= 0:
            raise ValueError("fps and duration must be positive")
        if self.created_at is not None and self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def build_definition(info: ManifestInfo, *, created_at: dt.datetime, mime: str = "video/mp4") -> dict[str, Any]:
    """The manifest definition passed to c2pa's Builder (ingredients are added separately)."""
    agent = {
        "name": info.model.name,
        "version": info.model.version,
        "io.github.dirfa.weights_sha256": info.model.sha256,
    }
    when = _iso(created_at)
    end_ms = max(1, round(info.duration * 1000))
    references = [f"reference{i}" for i in range(len(info.references))]
    generation = {
        "seed": info.seed,
        "model_name": info.model.name,
        "model_version": info.model.version,
        "model_sha256": info.model.sha256,
        "fps": info.fps,
        "renderer": info.renderer,
        "duration_s": info.duration,
        "content_id": info.content_id,
        "created_at": when,
        "portrait_sha256": info.image.sha256,
        "audio_sha256": info.audio.sha256,
        **dict(info.extra_parameters),
    }
    return {
        "claim_generator_info": [{"name": PRODUCT_NAME, "version": product_version()}],
        "title": info.title,
        "format": mime,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "when": when,
                            "digitalSourceType": DIGITAL_SOURCE_TYPE,
                            "softwareAgent": agent,
                            "parameters": {"ingredientIds": ["portrait", "speech", *references]},
                        },
                        {
                            "action": "c2pa.watermarked",
                            "when": when,
                            "softwareAgent": {"name": WATERMARK_AGENT, "version": SOFT_BINDING_ALG},
                        },
                    ]
                },
            },
            {
                "label": "c2pa.soft-binding",
                "data": {
                    "alg": SOFT_BINDING_ALG,
                    "blocks": [{"scope": {"timespan": {"start": 0, "end": end_ms}}, "value": info.content_id}],
                    "name": "dirfa invisible watermark content ID (48 bits, hex)",
                    "pad": [],
                },
            },
            {  # the soundtrack carries the same ID (docs/audiomark.md); c2pa labels this one c2pa.soft-binding__1
                "label": "c2pa.soft-binding",
                "data": {
                    "alg": AUDIO_SOFT_BINDING_ALG,
                    "blocks": [{"scope": {"timespan": {"start": 0, "end": end_ms}}, "value": info.content_id}],
                    "name": "dirfa audio watermark content ID (48 bits, hex), in the soundtrack",
                    "pad": [],
                },
            },
            {"label": GENERATION_LABEL, "data": generation, "created": True},
            {
                "label": TRAINING_MINING_LABEL,
                "data": {"entries": {k: {"use": TrainingUse(v).value} for k, v in info.training_mining.items()}},
                "created": True,
            },
        ],
    }


def sign_file(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    *,
    identity: SigningIdentity,
    info: ManifestInfo,
    mime: str = "video/mp4",
    now: dt.datetime | None = None,
    ingredient_thumbnails: bool = False,
) -> bytes:
    """Embed a signed manifest: read ``src_path``, write the signed copy to ``dst_path``, return the manifest
    bytes.

    ``ingredient_thumbnails`` embeds a thumbnail of the portrait (off by default: it puts a copy of the source
    photo in every manifest, adds ~120 KB and ~45 ms; the ingredients' sha256 are always recorded).
    ``dst_path`` is overwritten; the caller renames it into place. Raises :class:`SigningError` (the c2pa
    error as its cause) and leaves no partial ``dst_path`` behind on failure.
    """
    src, dst = Path(src_path), Path(dst_path)
    if src.resolve() == dst.resolve():
        raise ValueError("src_path and dst_path must differ")
    created_at = info.created_at or now or dt.datetime.now(dt.timezone.utc)
    identity.check_valid()  # c2pa checks the real clock at signing time too
    definition = build_definition(info, created_at=created_at, mime=mime)
    try:
        with (
            _c2pa_context.wrap_errors(SigningError, "c2pa could not sign the file"),
            _c2pa_context.context(None, thumbnails=ingredient_thumbnails) as ctx,
            c2pa.Builder(definition, context=ctx) as builder,
            identity._c2pa_signer() as signer,
        ):
            builder.add_ingredient(
                {"title": info.image.title, "relationship": "inputTo", "label": "portrait"},
                info.image.mime,
                io.BytesIO(info.image.data),
            )
            builder.add_ingredient(
                {"title": info.audio.title, "relationship": "inputTo", "label": "speech"},
                info.audio.mime,
                io.BytesIO(info.audio.data),
            )
            for i, ref in enumerate(info.references):
                builder.add_ingredient(
                    {"title": ref.title, "relationship": "inputTo", "label": f"reference{i}"},
                    ref.mime,
                    io.BytesIO(ref.data),
                )
            with src.open("rb") as fsrc, dst.open("w+b") as fdst:
                manifest = builder.sign(signer, mime, fsrc, fdst)
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    log.debug("signed %s -> %s (%d manifest bytes, content id %s)", src, dst, len(manifest), info.content_id)
    return bytes(manifest)
