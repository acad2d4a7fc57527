"""Raw C2PA signing primitive for EDITED media (a dub: real footage whose mouth was re-synthesised).

Like :mod:`provenance.manifest` it writes no watermark and checks none: ``sdk.Generator.dub`` is the only intended
caller, after it has watermarked and muxed the final file.

Assertions written: ``c2pa.actions`` (c2pa.opened of the source video, c2pa.edited with digitalSourceType
compositeWithTrainedAlgorithmicMedia and the model as softwareAgent, then c2pa.watermarked), the source video as the
``parentOf`` ingredient (c2pa reads the source's own manifest, if it has one, into the ingredient together with its
validation results), the new speech as an ``inputTo`` ingredient, ``c2pa.soft-binding`` (the watermark content ID over
the whole timespan), ``io.github.dirfa.generation`` with ``operation: "dub"`` and the synthesised regions and time
ranges, and ``cawg.training-mining``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c2pa

from provenance import _c2pa_context
from provenance._version import PRODUCT_NAME, __version__
from provenance.errors import SigningError
from provenance.manifest import (
    GENERATION_LABEL,
    Ingredient,
    ManifestInfo,
    ModelInfo,
    TrainingUse,
    _default_training_policy,
    _iso,
    build_definition,
)
from provenance.signing import SigningIdentity
from provenance.trust import TrustAnchors

__all__ = ["COMPOSITE_SOURCE_TYPE", "EditInfo", "build_edit_definition", "sign_edited_file"]

log = logging.getLogger(__name__)

COMPOSITE_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
SOURCE_MIMES = ("video/mp4", "video/quicktime", "video/x-m4v")


@dataclass(frozen=True)
class EditInfo:
    """What the manifest of a dub states. ``edit`` (JSON-able) holds the regions and time ranges synthesised."""

    title: str
    content_id: str
    model: ModelInfo
    seed: int
    fps: float
    duration: float
    source: Path  # the source video file, recorded as the parentOf ingredient
    source_mime: str
    audio: Ingredient
    edit: Mapping[str, Any] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    training_mining: Mapping[str, TrainingUse] = field(default_factory=_default_training_policy)

    def __post_init__(self) -> None:
        if self.source_mime not in SOURCE_MIMES:
            raise ValueError(f"source video must be one of {SOURCE_MIMES}, got {self.source_mime!r}")
        if self.fps <= 0 or self.duration <= 0:
            raise ValueError("fps and duration must be positive")
        if self.created_at is not None and self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_edit_definition(
    info: EditInfo, *, created_at: dt.datetime, source_sha256: str, mime: str = "video/mp4"
) -> dict[str, Any]:
    """The manifest definition for c2pa's Builder (ingredients are added separately)."""
    when = _iso(created_at)
    agent = {
        "name": info.model.name,
        "version": info.model.version,
        "io.github.dirfa.weights_sha256": info.model.sha256,
    }
    parameters = {
        "operation": "dub",
        "seed": info.seed,
        "model_name": info.model.name,
        "model_version": info.model.version,
        "model_sha256": info.model.sha256,
        "fps": info.fps,
        "duration_s": info.duration,
        "content_id": info.content_id,
        "created_at": when,
        "source_sha256": source_sha256,
        "audio_sha256": info.audio.sha256,
        **dict(info.edit),
    }
    marks, shared = _render_parts(info, created_at, mime)
    return {
        "claim_generator_info": [{"name": PRODUCT_NAME, "version": __version__}],
        "title": info.title,
        "format": mime,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {"action": "c2pa.opened", "when": when, "parameters": {"ingredientIds": ["source"]}},
                        {
                            "action": "c2pa.edited",
                            "when": when,
                            "digitalSourceType": COMPOSITE_SOURCE_TYPE,
                            "softwareAgent": agent,
                            "description": "mouth and jaw re-synthesised to follow new speech (visual dubbing)",
                            "parameters": {"ingredientIds": ["speech"]},
                        },
                        *marks,
                    ]
                },
            },
            {"label": GENERATION_LABEL, "data": parameters, "created": True},
            *shared,
        ],
    }


def _render_parts(info: EditInfo, created_at: dt.datetime, mime: str) -> tuple[list[Any], list[dict[str, Any]]]:
    """The watermark actions and every binding/policy assertion exactly as a render's manifest writes them (soft
    bindings, training-mining, whatever ``provenance.manifest`` adds later): one definition of what a mark claims.
    The render-only parts (c2pa.created, the generation parameters) are left out; the portrait slot of the
    throwaway render info is never read for them."""
    probe = ManifestInfo(
        title=info.title,
        content_id=info.content_id,
        model=info.model,
        renderer="dub",
        seed=info.seed,
        fps=info.fps,
        duration=info.duration,
        image=info.audio,
        audio=info.audio,
        training_mining=info.training_mining,
    )
    definition = build_definition(probe, created_at=created_at, mime=mime)
    marks: list[Any] = []
    shared: list[dict[str, Any]] = []
    for assertion in definition["assertions"]:
        if assertion["label"] == "c2pa.actions":
            marks = [a for a in assertion["data"]["actions"] if a.get("action") == "c2pa.watermarked"]
        elif assertion["label"] != GENERATION_LABEL:
            shared.append(assertion)
    if not marks or not any(a["label"] == "c2pa.soft-binding" for a in shared):
        raise SigningError("the render manifest no longer declares its watermark: cannot build an edit manifest")
    return marks, shared


def sign_edited_file(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    *,
    identity: SigningIdentity,
    info: EditInfo,
    mime: str = "video/mp4",
    now: dt.datetime | None = None,
    trust: TrustAnchors | None = None,
) -> bytes:
    """Embed a signed edit manifest: read ``src_path``, write the signed copy to ``dst_path``, return the manifest
    bytes. ``trust``: the anchors c2pa validates the source's own manifest against when it adds it as the parent
    ingredient (its validation results are stored with it). Raises :class:`SigningError` and leaves no
    ``dst_path`` behind on failure."""
    src, dst = Path(src_path), Path(dst_path)
    if src.resolve() == dst.resolve():
        raise ValueError("src_path and dst_path must differ")
    created_at = info.created_at or now or dt.datetime.now(dt.timezone.utc)
    identity.check_valid()
    definition = build_edit_definition(info, created_at=created_at, source_sha256=_sha256_file(info.source), mime=mime)
    try:
        with (
            _c2pa_context.wrap_errors(SigningError, "c2pa could not sign the file"),
            _c2pa_context.context(trust, thumbnails=False) as ctx,
            c2pa.Builder(definition, context=ctx) as builder,
            identity._c2pa_signer() as signer,
        ):
            with info.source.open("rb") as fsource:
                builder.add_ingredient(
                    {"title": info.source.name, "relationship": "parentOf", "label": "source"},
                    info.source_mime,
                    fsource,
                )
            builder.add_ingredient(
                {"title": info.audio.title, "relationship": "inputTo", "label": "speech"},
                info.audio.mime,
                io.BytesIO(info.audio.data),
            )
            with src.open("rb") as fsrc, dst.open("w+b") as fdst:
                manifest = builder.sign(signer, mime, fsrc, fdst)
    except BaseException:
        dst.unlink(missing_ok=True)
        raise
    log.debug("signed edit %s -> %s (%d manifest bytes)", src, dst, len(manifest))
    return bytes(manifest)
