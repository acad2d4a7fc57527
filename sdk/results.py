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
