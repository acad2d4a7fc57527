"""Read and validate C2PA manifests; map c2pa's validation results to typed findings.

The status is always beside the claims: a :class:`ManifestFinding` carries what the manifest says (signer,
actions, soft binding, generation parameters) together with the verdict. Only :attr:`ManifestStatus.TRUSTED`
means "the manifest is intact, bound to these exact bytes and signed by a certificate chaining to a trust
anchor you passed".

:func:`validate_detached` checks a manifest fetched from a store against a file whose embedded manifest was
lost (transcode, re-upload); see its docstring for what "recovered" means.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO, Any

import c2pa

from provenance import _c2pa_context
from provenance._c2pa_context import SOFT_BINDING_ALG
from provenance.trust import TrustAnchors

__all__ = [
    "DetachedFinding",
    "FailureReason",
    "ManifestFinding",
    "ManifestStatus",
    "RecoveryStatus",
    "SoftBindingInfo",
    "ValidationEntry",
    "read_manifest",
    "validate_detached",
]

log = logging.getLogger(__name__)

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]

_EXT_MIME = {
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".avi": "video/avi",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}


class ManifestStatus(Enum):
    TRUSTED = "trusted"  # intact, bound to these bytes, signer chains to a given trust anchor
    VALID_UNTRUSTED = "valid_untrusted"  # intact and bound, but the signer is not in the trust anchors
    INVALID = "invalid"  # a manifest is there but fails validation: see ``reasons``
    MALFORMED = "malformed"  # a manifest (or the container around it) cannot be parsed
    ABSENT = "absent"  # no manifest at all


class FailureReason(str, Enum):
    HARD_BINDING_MISMATCH = "hard_binding_mismatch"  # the media bytes changed after signing
    SIGNATURE_MISMATCH = "signature_mismatch"  # the claim signature does not verify
    ASSERTION_MISMATCH = "assertion_mismatch"  # an assertion changed, is missing, or is not declared
    EXPIRED = "expired"  # the signing certificate was outside its validity (no trusted timestamp)
    REVOKED = "revoked"
    CREDENTIAL_INVALID = "credential_invalid"  # the certificate profile is not acceptable
    TIMESTAMP = "timestamp"  # the RFC 3161 timestamp fails
    INGREDIENT = "ingredient"  # an ingredient's manifest fails
    UNSUPPORTED = "unsupported"  # an algorithm c2pa does not support
    MALFORMED = "malformed"
    UNTRUSTED = "untrusted"  # informative: signer not in the anchors (VALID_UNTRUSTED, never alone INVALID)
    OTHER = "other"


_REASON_PREFIXES: tuple[tuple[str, FailureReason], ...] = (
    ("assertion.dataHash.mismatch", FailureReason.HARD_BINDING_MISMATCH),
    ("assertion.bmffHash.mismatch", FailureReason.HARD_BINDING_MISMATCH),
    ("assertion.boxesHash.mismatch", FailureReason.HARD_BINDING_MISMATCH),
    ("assertion.collectionHash.mismatch", FailureReason.HARD_BINDING_MISMATCH),
    ("claimSignature.", FailureReason.SIGNATURE_MISMATCH),
    ("signingCredential.expired", FailureReason.EXPIRED),
    ("signingCredential.revoked", FailureReason.REVOKED),
    ("signingCredential.untrusted", FailureReason.UNTRUSTED),
    ("signingCredential.", FailureReason.CREDENTIAL_INVALID),
    ("timeStamp.", FailureReason.TIMESTAMP),
    ("ingredient.", FailureReason.INGREDIENT),
    ("algorithm.unsupported", FailureReason.UNSUPPORTED),
    ("assertion.", FailureReason.ASSERTION_MISMATCH),
)


def reason_for_code(code: str) -> FailureReason:
    if code.endswith(".malformed") or code.startswith(("claim.", "manifest.", "general.")):
        return FailureReason.MALFORMED
    for prefix, reason in _REASON_PREFIXES:
        if code.startswith(prefix):
            return reason
    return FailureReason.OTHER


@dataclass(frozen=True)
class ValidationEntry:
    code: str
    explanation: str = ""
    url: str = ""

    @property
    def reason(self) -> FailureReason:
        return reason_for_code(self.code)


@dataclass(frozen=True)
class SoftBindingInfo:
    alg: str
    value: str
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class IngredientSummary:
    title: str
    format: str | None
    relationship: str | None


@dataclass(frozen=True)
class ManifestFinding:
    """A verdict on one asset's manifest, and what the manifest claims (meaningful only with the verdict)."""

    status: ManifestStatus
    reasons: frozenset[FailureReason] = frozenset()
    failures: tuple[ValidationEntry, ...] = ()
    manifest_label: str | None = None
    signer_subject: str | None = None  # the leaf's common name
    signer_issuer: str | None = None  # the issuing CA's organisation
    signing_time: str | None = None  # only with a trusted RFC 3161 timestamp
    signer_trusted: bool = False  # c2pa reported signingCredential.trusted
    claim_generator: str | None = None
    actions: tuple[Mapping[str, Any], ...] = ()
    digital_source_type: str | None = None
    ingredients: tuple[IngredientSummary, ...] = ()
    soft_binding: SoftBindingInfo | None = None
    generation: Mapping[str, Any] | None = None
    training_mining: Mapping[str, Any] | None = None
    manifest_json: str | None = field(default=None, repr=False)
    error: str | None = None  # why reading failed (MALFORMED)
    validation_state: str | None = None  # c2pa's raw state: "Trusted" | "Valid" | "Invalid" (None if unread)
    format_supported: bool = True  # False: c2pa cannot read manifests from this format (ABSENT by definition)

    @property
    def is_trusted(self) -> bool:
        return self.status is ManifestStatus.TRUSTED

    @property
    def is_intact(self) -> bool:
        """Signature and bindings check out (the signer may still be untrusted)."""
        return self.status in (ManifestStatus.TRUSTED, ManifestStatus.VALID_UNTRUSTED)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.failures)

    @property
    def failure_codes(self) -> tuple[str, ...]:
        return self.codes

    @property
    def soft_binding_alg(self) -> str | None:
        return self.soft_binding.alg if self.soft_binding else None

    @property
    def soft_binding_value(self) -> str | None:
        return self.soft_binding.value if self.soft_binding else None


class RecoveryStatus(Enum):
    MATCHES_ASSET = "matches_asset"  # even the hard binding matches (signer trust: see finding.status)
    RECOVERED = "recovered"  # hard binding lost, signature + soft binding good, trusted signer
    RECOVERED_UNTRUSTED = "recovered_untrusted"  # same, signer not in the trust anchors
    SOFT_BINDING_MISMATCH = "soft_binding_mismatch"  # intact manifest that does not name this content ID
    INVALID = "invalid"  # the manifest itself fails (signature, assertion, credential)
    MALFORMED = "malformed"


@dataclass(frozen=True)
class DetachedFinding:
    """Outcome of checking a stored manifest against an asset and its watermark content ID."""

    status: RecoveryStatus
    finding: ManifestFinding
    content_id: str

    @property
    def is_recovered(self) -> bool:
        """The stored manifest is genuine, its signer trusted, and it names this content ID."""
        if self.status is RecoveryStatus.MATCHES_ASSET:
            return self.finding.is_trusted
        return self.status is RecoveryStatus.RECOVERED

    @property
    def is_trusted(self) -> bool:
        return self.finding.signer_trusted and self.status is not RecoveryStatus.INVALID

    @property
    def signer_subject(self) -> str | None:
        return self.finding.signer_subject

    @property
    def signer_issuer(self) -> str | None:
        return self.finding.signer_issuer

    @property
    def reasons(self) -> frozenset[FailureReason]:
        return self.finding.reasons

    @property
    def soft_binding(self) -> SoftBindingInfo | None:
        return self.finding.soft_binding


# ------------------------------------------------------------------------------------------------------------


def _guess_mime(source: Source, head: bytes) -> str | None:
    """From the content first (extensions lie), the file extension only as a fallback."""
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if isinstance(source, str | os.PathLike):
        return _EXT_MIME.get(Path(source).suffix.lower())
    return None


def _open(source: Source) -> tuple[IO[bytes], bool]:
    """A readable binary stream and whether we must close it."""
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, str | os.PathLike):
        return open(source, "rb"), True
    if hasattr(source, "read") and hasattr(source, "seek"):
        return source, False
    raise TypeError(f"source must be a path, bytes or a binary file object, not {type(source).__name__}")


def _entries(items: Iterable[Mapping[str, Any]] | None) -> list[ValidationEntry]:
    return [
        ValidationEntry(str(i.get("code", "")), str(i.get("explanation", "")), str(i.get("url", "")))
        for i in items or ()
    ]


def _collect_failures(results: Mapping[str, Any] | None) -> list[ValidationEntry]:
    if not results:
        return []
    failures = _entries((results.get("activeManifest") or {}).get("failure"))
    for delta in results.get("ingredientDeltas") or ():
        failures += _entries(((delta or {}).get("validationDeltas") or {}).get("failure"))
    return failures


def _assertion(manifest: Mapping[str, Any], label: str) -> Any:
    for a in manifest.get("assertions") or ():
        if a.get("label") == label or str(a.get("label", "")).startswith(label + ".v"):
            return a.get("data")
    return None


def _unverified_claims(store: Mapping[str, Any]) -> dict[str, Any]:
    """Fields of the active manifest, as claimed. Only returned inside a finding that carries the verdict."""
    label = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(label) or {}
    sig = manifest.get("signature_info") or {}
    gen = manifest.get("claim_generator_info") or []
    claim_generator = " ".join(f"{g.get('name', '')} {g.get('version', '')}".strip() for g in gen[:1]) or (
        manifest.get("claim_generator")
    )
    actions_data = _assertion(manifest, "c2pa.actions") or {}
    actions = tuple(actions_data.get("actions") or ())
    dst = next((a.get("digitalSourceType") for a in actions if a.get("action") == "c2pa.created"), None)
    soft = _assertion(manifest, "c2pa.soft-binding")
    soft_binding = None
    if soft and soft.get("blocks"):
        block = soft["blocks"][0]
        span = (block.get("scope") or {}).get("timespan") or {}
        soft_binding = SoftBindingInfo(
            alg=str(soft.get("alg", "")), value=str(block.get("value", "")), start_ms=span.get("start"),
            end_ms=span.get("end"),
        )  # fmt: skip
    from provenance.manifest import GENERATION_LABEL, TRAINING_MINING_LABEL

    return {
        "manifest_label": label,
        "signer_subject": sig.get("common_name"),
        "signer_issuer": sig.get("issuer"),
        "signing_time": sig.get("time"),
        "claim_generator": claim_generator or None,
        "actions": actions,
        "digital_source_type": dst,
        "ingredients": tuple(
            IngredientSummary(str(i.get("title", "")), i.get("format"), i.get("relationship"))
            for i in manifest.get("ingredients") or ()
        ),
        "soft_binding": soft_binding,
        "generation": _assertion(manifest, GENERATION_LABEL),
        "training_mining": _assertion(manifest, TRAINING_MINING_LABEL),
    }


def _finding_from_reader(reader: c2pa.Reader) -> ManifestFinding:
    manifest_json = reader.json()
    store = json.loads(manifest_json)
    state = reader.get_validation_state()
    results = reader.get_validation_results() or {}
    failures = _collect_failures(results)
    successes = _entries((results.get("activeManifest") or {}).get("success"))
    signer_trusted = any(e.code == "signingCredential.trusted" for e in successes)
    reasons = frozenset(f.reason for f in failures)
    hard = reasons - {FailureReason.UNTRUSTED}
    if state == "Trusted" and not failures and signer_trusted:
        status = ManifestStatus.TRUSTED
    elif state in ("Trusted", "Valid") and not hard:
        status = ManifestStatus.VALID_UNTRUSTED
    else:
        status = ManifestStatus.INVALID
        if not hard:  # "Invalid" with no failure code we recognise: never let it pass as valid
            reasons = reasons | {FailureReason.OTHER}
    return ManifestFinding(
        status=status,
        reasons=reasons,
        failures=tuple(failures),
        signer_trusted=signer_trusted,
        validation_state=state,
        manifest_json=manifest_json,
        **_unverified_claims(store),
    )


def _malformed(exc: BaseException) -> ManifestFinding:
    kind = type(exc).__name__.lstrip("_")
    return ManifestFinding(
        status=ManifestStatus.MALFORMED,
        reasons=frozenset({FailureReason.MALFORMED}),
        failures=(ValidationEntry(code=f"dirfa.read.{kind}", explanation=str(exc)),),
        error=f"{kind}: {exc}",
    )


def read_manifest(
    source: Source,
    *,
    mime: str | None = None,
    trust: TrustAnchors | None = None,
    manifest_data: bytes | None = None,
) -> ManifestFinding:
    """Read and validate the manifest of ``source`` (a path, the bytes, or a binary file object).

    Offline: no remote manifests, no OCSP. Only ``trust`` anchors are trusted (none by default, so a good file
    reads VALID_UNTRUSTED). With ``manifest_data`` the given manifest store is validated against ``source``
    instead of the embedded one. A missing manifest is ABSENT; an unparsable one MALFORMED: never an
    exception. OSError from opening a path propagates.
    """
    stream, owned = _open(source)
    try:
        start = stream.tell()
        head = stream.read(16)
        stream.seek(start)
        fmt = mime or _guess_mime(source, head) or ""
        with _c2pa_context.context(trust) as ctx:
            try:
                reader = c2pa.Reader.try_create(fmt, stream, manifest_data, ctx)
            except c2pa.C2paError.NotSupported as exc:
                # WebM, Matroska, plain text...: no C2PA manifest can be embedded there, so none is present.
                log.debug("format not supported by c2pa: %s", fmt or "unknown")
                return ManifestFinding(
                    status=ManifestStatus.ABSENT, format_supported=False, error=f"NotSupported: {exc}"
                )
            except c2pa.C2paError as exc:
                log.debug("manifest unreadable: %s", type(exc).__name__)
                return _malformed(exc)
            if reader is None:
                return ManifestFinding(status=ManifestStatus.ABSENT)
            with reader:
                try:
                    return _finding_from_reader(reader)
                except c2pa.C2paError as exc:
                    return _malformed(exc)
    finally:
        if owned:
            stream.close()


def validate_detached(
    manifest_bytes: bytes,
    source: Source,
    *,
    content_id: str,
    mime: str | None = None,
    trust: TrustAnchors | None = None,
) -> DetachedFinding:
    """Validate a stored manifest against an asset that lost its own, given the content ID its watermark
    decoded.

    "Recovered" means all of: the manifest's claim signature and every assertion hash verify (c2pa reports no
    failure other than the hard binding and, for an untrusted signer, ``signingCredential.untrusted``); the
    only hard-binding failure is the expected mismatch with the re-encoded bytes; and the manifest's
    ``c2pa.soft-binding`` has our algorithm and exactly ``content_id`` as value. Trust of the signer is
    reported separately (RECOVERED vs RECOVERED_UNTRUSTED). It proves the manifest is genuine and names this
    watermark; it does not prove the pixels are unchanged beyond what the watermark decoder established.

    With stored manifest bytes c2pa validates the manifest whatever the asset is (WebM, a damaged or truncated
    upload, even bytes it cannot parse): such assets simply fail the hard binding.
    """
    finding = read_manifest(source, mime=mime, trust=trust, manifest_data=bytes(manifest_bytes))
    if finding.status in (ManifestStatus.MALFORMED, ManifestStatus.ABSENT):
        return DetachedFinding(RecoveryStatus.MALFORMED, finding, content_id)
    soft = finding.soft_binding
    names_us = soft is not None and soft.alg == SOFT_BINDING_ALG and soft.value == content_id
    if finding.is_intact:
        status = RecoveryStatus.MATCHES_ASSET if names_us else RecoveryStatus.SOFT_BINDING_MISMATCH
        return DetachedFinding(status, finding, content_id)
    other = finding.reasons - {FailureReason.HARD_BINDING_MISMATCH, FailureReason.UNTRUSTED}
    if other or FailureReason.HARD_BINDING_MISMATCH not in finding.reasons:
        return DetachedFinding(RecoveryStatus.INVALID, finding, content_id)
    if not names_us:
        return DetachedFinding(RecoveryStatus.SOFT_BINDING_MISMATCH, finding, content_id)
    trusted = finding.signer_trusted and FailureReason.UNTRUSTED not in finding.reasons
    status = RecoveryStatus.RECOVERED if trusted else RecoveryStatus.RECOVERED_UNTRUSTED
    return DetachedFinding(status, finding, content_id)
