"""What a render returns: frozen results (no behaviour, no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ManifestSummary:
    signer: str
    issuer: str
    claim_generator: str
    status: str  # the self-verification's manifest status: trusted | valid_untrusted
    manifest_id: str | None
    development_identity: bool


@dataclass(frozen=True)
class RenderResult:
    path: Path
    content_id: str
    seed: int
    duration: float
    frame_count: int
    fps: int
    width: int
    height: int
    manifest: ManifestSummary
    verdict: str
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DubResult:
    """What :meth:`sdk.Generator.dub` returns. Frame ranges are ``(start, end)`` output frame indices, end
    exclusive; ``face_lost``: frames passed through unchanged because no face was tracked on them."""

    path: Path
    content_id: str
    seed: int
    duration: float
    frame_count: int
    fps: int
    width: int
    height: int
    source_frames: int  # frames decoded from the source video (one pass)
    extend: str  # how a source shorter than the audio is extended: loop | hold
    dubbed_frames: int  # frames whose mouth was re-synthesised
    face_lost: tuple[tuple[int, int], ...]
    # The verifier's verdict on the source video where it was checked (it carries a C2PA manifest, or
    # verify_source=True), else "not_checked".
    source_verdict: str
    manifest: ManifestSummary
    verdict: str
    timings: dict[str, float] = field(default_factory=dict)
