"""Trust anchors for verifying C2PA signers: explicit objects, never global state.

A verifier trusts exactly the roots it is handed. Nothing is trusted by default; the development root only
when a caller asks for :meth:`TrustAnchors.dev` on purpose (for example a developer checking their own
renders).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from provenance import _pki
from provenance.errors import IdentityError

__all__ = ["TrustAnchors"]


@dataclass(frozen=True)
class TrustAnchors:
    """A set of CA certificates (PEM) whose chains are trusted. Combine sets with ``+``."""

    certificates_pem: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        for blob in self.certificates_pem:
            cert = x509.load_pem_x509_certificate(blob)
            if not _pki.is_ca(cert):
                raise IdentityError(
                    f"trust anchor {cert.subject.rfc4514_string()!r} is not a CA certificate; "
                    "anchor the root (or intermediate) CA, not a signer's leaf"
                )

    @classmethod
    def from_pem(cls, source: str | os.PathLike[str] | bytes) -> TrustAnchors:
        """Load a PEM bundle (file path or bytes) of one or more CA certificates."""
        if isinstance(source, bytes | bytearray):
            data = bytes(source)
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                raise IdentityError(f"cannot read trust anchors from {os.fspath(source)!r}") from exc
        certs = _pki.load_pem_chain(data)
        return cls(tuple(_pki.pem(c) for c in certs))

    @classmethod
    def from_certificates(cls, certs: Iterable[x509.Certificate]) -> TrustAnchors:
        return cls(tuple(_pki.pem(c) for c in certs))

    @classmethod
    def none(cls) -> TrustAnchors:
        """Trust nothing: every valid signature reads as valid but untrusted."""
        return cls(())

    @classmethod
    def dev(cls) -> TrustAnchors:
        """The local development root (created if missing). Only for deliberately trusting your own dev
        renders."""
        from provenance.signing import dev_identity

        root = dev_identity().root_pem
        if root is None:  # dev_identity always stores its root; guard against a hand-edited chain.pem
            raise IdentityError("the development identity has no root certificate")
        return cls((root,))

    def __add__(self, other: TrustAnchors) -> TrustAnchors:
        if not isinstance(other, TrustAnchors):
            return NotImplemented
        seen = dict.fromkeys((*self.certificates_pem, *other.certificates_pem))
        return TrustAnchors(tuple(seen))

    def __len__(self) -> int:
        return len(self.certificates_pem)

    def __bool__(self) -> bool:
        return bool(self.certificates_pem)

    @property
    def pem(self) -> bytes:
        return b"".join(self.certificates_pem)

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(x509.load_pem_x509_certificate(b).subject.rfc4514_string() for b in self.certificates_pem)

    @property
    def fingerprints_sha256(self) -> tuple[str, ...]:
        return tuple(
            x509.load_pem_x509_certificate(b).fingerprint(hashes.SHA256()).hex() for b in self.certificates_pem
        )

    def contains(self, cert_pem: bytes) -> bool:
        der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
        return any(
            x509.load_pem_x509_certificate(b).public_bytes(serialization.Encoding.DER) == der
            for b in self.certificates_pem
        )

    def __repr__(self) -> str:
        return f"TrustAnchors({list(self.subjects)!r})"
