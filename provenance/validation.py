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
from pathlib import Path
from typing import IO, Any

import c2pa

from provenance import _c2pa_context
from provenance._c2pa_context import SOFT_BINDING_ALG
from provenance._c2pa_findings import (
    DetachedFinding,
    FailureReason,
    IngredientSummary,
    ManifestFinding,
    ManifestStatus,
    RecoveryStatus,
    SoftBindingInfo,
    ValidationEntry,
    reason_for_code,
)
from provenance.trust import TrustAnchors

__all__ = [
    "DetachedFinding",
    "FailureReason",
    "IngredientSummary",
    "ManifestFinding",
    "ManifestStatus",
    "RecoveryStatus",
    "SoftBindingInfo",
    "ValidationEntry",
    "read_manifest",
    "reason_for_code",
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
    # A file made from scratch declares its source type on c2pa.created; an edited one (a dub) on c2pa.edited.
    created = (a.get("digitalSourceType") for a in actions if a.get("action") == "c2pa.created")
    edited = (a.get("digitalSourceType") for a in actions if a.get("action") == "c2pa.edited")
    dst = next(created, None) or next(filter(None, edited), None)
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
