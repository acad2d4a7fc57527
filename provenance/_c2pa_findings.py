"""Typed results of manifest validation (re-exported by :mod:`provenance.validation`).

The verdict enums, the map from c2pa validation codes to :class:`FailureReason`, and the frozen findings that
carry the verdict beside whatever the manifest claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


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
