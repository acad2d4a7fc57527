"""The verification report: frozen dataclasses with a stable JSON form (``docs/verifier.md`` has the schema)."""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = "1.1"  # 1.1: the audio_watermark section


class Verdict(str, enum.Enum):
    """One answer per video. ``docs/verifier.md`` states the exact condition of each."""

    VERIFIED = "verified"
    SIGNED_UNTRUSTED = "signed_untrusted"
    TAMPERED = "tampered"
    RECOVERED = "recovered"
    WATERMARK_ONLY = "watermark_only"
    MISMATCH = "mismatch"
    NO_PROVENANCE = "no_provenance"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class MediaSection:
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    duration_s: float | None = None
    size_bytes: int | None = None


@dataclass(frozen=True)
class C2paSection:
    """The manifest embedded in the file (``present=False``: none)."""

    present: bool = False
    status: str | None = None  # trusted | valid_untrusted | invalid | malformed | absent
    validation_state: str | None = None  # c2pa-python's own: Trusted | Valid | Invalid
    trusted: bool = False
    signer_subject: str | None = None
    signer_issuer: str | None = None
    claim_generator: str | None = None
    actions: tuple[str, ...] = ()
    digital_source_type: str | None = None
    ingredients: tuple[str, ...] = ()
    soft_binding_alg: str | None = None
    soft_binding_value: str | None = None
    generation: dict[str, Any] = field(default_factory=dict)
    failure_codes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class SegmentSection:
    start_s: float
    end_s: float
    found: bool
    content_id: str | None = None


@dataclass(frozen=True)
class WatermarkSection:
    analysed: bool = False
    found: bool = False
    content_id: str | None = None
    log10_p: float | None = None
    frames_analysed: int = 0
    segments: tuple[SegmentSection, ...] = ()
    key: str = "public"


@dataclass(frozen=True)
class AudioSegmentSection:
    start_s: float
    end_s: float
    agreement: float  # fraction of this payload period's symbols agreeing with the decoded content ID


@dataclass(frozen=True)
class AudioWatermarkSection:
    """The soundtrack's mark, detected independently of the picture (docs/audiomark.md)."""

    analysed: bool = False  # False: no audio stream (or it could not be decoded)
    found: bool = False
    content_id: str | None = None
    log10_p: float | None = None  # union-bounded over every ID, alignment and speed searched
    p_value: float | None = None
    speed: float | None = None  # playback-speed factor of the best hypothesis
    duration_s: float = 0.0
    segments: tuple[AudioSegmentSection, ...] = ()
    key: str = "public"


@dataclass(frozen=True)
class BindingSection:
    """Does the manifest's soft-binding value name the watermark found in the pixels?"""

    checked: bool = False
    matches: bool | None = None
    manifest_value: str | None = None
    watermark_value: str | None = None
    whole_video_marked: bool | None = None


@dataclass(frozen=True)
class RecoverySection:
    """A manifest fetched from a store by the watermark's content ID, after the file's own was stripped."""

    attempted: bool = False
    found: bool = False
    manifest_id: str | None = None
    status: str | None = None
    signer_subject: str | None = None
    trusted: bool = False
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerificationReport:
    verdict: Verdict
    source: str
    summary: str
    # True: this SDK's watermark, or a valid manifest declaring an AI digitalSourceType; False: a valid manifest
    # declaring a non-AI source (a camera) and no watermark; None: nothing can be said (absence of a mark is not
    # evidence of a camera).
    ai_generated: bool | None = None
    # "generated": a valid manifest declares the whole file AI-made (c2pa.created, trainedAlgorithmicMedia);
    # "modified": it declares AI edits of other media (a dub: c2pa.edited, compositeWithTrainedAlgorithmicMedia);
    # None: no valid manifest says which (a watermark alone shows AI content, not how much of the file it is).
    ai_origin: str | None = None
    media: MediaSection = field(default_factory=MediaSection)
    c2pa: C2paSection = field(default_factory=C2paSection)
    watermark: WatermarkSection = field(default_factory=WatermarkSection)
    audio_watermark: AudioWatermarkSection = field(default_factory=AudioWatermarkSection)
    binding: BindingSection = field(default_factory=BindingSection)
    recovery: RecoverySection = field(default_factory=RecoverySection)
    mode: str = "full"
    errors: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["verdict"] = self.verdict.value
        return _jsonable(out)

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value
