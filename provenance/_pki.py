"""X.509 helpers: parse PEM chains, check a C2PA signing chain at load time, mint a local dev PKI.

The checks mirror what c2pa-rs enforces when it signs and reads (see shared notes, "Certificates"), so a bad
credential fails when it is loaded, with a typed error, instead of on the first render or, worse, on read.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from provenance.errors import IdentityError

# EKUs a C2PA claim-signing leaf may carry. c2pa-rs 0.91 accepts the first two by default; the C2PA
# claim-signing
# EKU is accepted because every c2pa Context we build passes this list as ``trust.trust_config``.
EKU_EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
EKU_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
EKU_C2PA_CLAIM_SIGNING = "1.3.6.1.4.1.62558.2.1"
ALLOWED_SIGNING_EKUS = (EKU_EMAIL_PROTECTION, EKU_DOCUMENT_SIGNING, EKU_C2PA_CLAIM_SIGNING)
# Also needed in trust_config: timestamp responses and OCSP responders are checked against the same list.
_AUXILIARY_EKUS = ("1.3.6.1.5.5.7.3.8", "1.3.6.1.5.5.7.3.9")


def trust_config_text() -> str:
    """The EKU allow-list in c2pa-rs ``trust_config`` format (one OID per line)."""
    return "\n".join((*ALLOWED_SIGNING_EKUS, *_AUXILIARY_EKUS)) + "\n"


class EKUError(IdentityError):
    """The leaf has no extended key usage, or none that C2PA accepts for claim signing."""


class KeyUsageError(IdentityError):
    """The leaf's key usage does not allow digital signatures."""


class CACertificateAsLeafError(IdentityError):
    """A CA certificate was given as the signing (leaf) certificate."""


class CertificateValidityError(IdentityError):
    """A certificate of the chain is outside its validity period."""


class CertificateExpiredError(CertificateValidityError):
    """A certificate of the chain has expired."""


class CertificateNotYetValidError(CertificateValidityError):
    """A certificate of the chain is not valid yet."""


class KeyMismatchError(IdentityError):
    """The private key (or signing callback) does not belong to the leaf certificate."""


class ChainOrderError(IdentityError):
    """The chain is not leaf first, each certificate issued by the next one."""


class UnsupportedKeyError(IdentityError):
    """The key type or size cannot sign C2PA claims."""


@dataclass(frozen=True)
class SplitChain:
    """A checked chain: the leaf, intermediates (leaf's issuer first) and the root when it was included."""

    leaf: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    root: x509.Certificate | None

    def signer_pem(self) -> bytes:
        """Leaf then intermediates, no root: what c2pa embeds in the COSE signature."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (self.leaf, *self.intermediates))


def load_pem_chain(data: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise IdentityError("no readable PEM certificate in the chain") from exc
    return certs


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_validity(cert: x509.Certificate, now: dt.datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise CertificateNotYetValidError(f"{what} is not valid before {cert.not_valid_before_utc.isoformat()}")
    if now > cert.not_valid_after_utc:
        raise CertificateExpiredError(f"{what} expired on {cert.not_valid_after_utc.isoformat()}")


def check_leaf_profile(leaf: x509.Certificate) -> None:
    """The leaf rules c2pa-rs applies when signing: not a CA, digitalSignature, an accepted EKU, v3, AKI."""
    if is_ca(leaf):
        raise CACertificateAsLeafError(f"the leaf {leaf.subject.rfc4514_string()!r} is a CA certificate")
    if leaf.version != x509.Version.v3:
        raise IdentityError("the leaf must be an X.509 v3 certificate")
    try:
        ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise KeyUsageError("the leaf has no KeyUsage extension (digitalSignature is required)") from exc
    if ku.key_cert_sign:
        raise CACertificateAsLeafError("the leaf has keyCertSign key usage: it is a CA key")
    if not ku.digital_signature:
        raise KeyUsageError("the leaf's KeyUsage lacks digitalSignature")
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise EKUError(
            "the leaf has no ExtendedKeyUsage; C2PA needs one of " + ", ".join(ALLOWED_SIGNING_EKUS)
        ) from exc
    oids = {o.dotted_string for o in eku}
    if not oids & set(ALLOWED_SIGNING_EKUS):
        raise EKUError(
            f"the leaf's ExtendedKeyUsage {sorted(oids)} has none of the C2PA signing EKUs "
            + ", ".join(ALLOWED_SIGNING_EKUS)
        )
    try:
        leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound as exc:
        raise IdentityError("the leaf has no AuthorityKeyIdentifier extension (C2PA requires it)") from exc


def split_and_check_chain(certs: Sequence[x509.Certificate], now: dt.datetime) -> SplitChain:
    """Check order (leaf first, each issued by the next), leaf profile and validity of every certificate."""
    if not certs:
        raise IdentityError("the certificate chain is empty")
    leaf = certs[0]
    if is_ca(leaf) and len(certs) > 1 and any(_issued_by(c, leaf) for c in certs[1:]):
        raise ChainOrderError("the chain starts with a CA that issued a later certificate: put the leaf first")
    check_leaf_profile(leaf)
    for i in range(len(certs) - 1):
        if not _issued_by(certs[i], certs[i + 1]):
            if any(_issued_by(certs[i], c) for c in certs):
                raise ChainOrderError(
                    f"certificate {i} is not issued by certificate {i + 1}: order the chain leaf first, then "
                    "its issuer, up to the root"
                )
            raise ChainOrderError(f"certificate {i + 1} did not issue certificate {i}: the chain is broken")
    for i, cert in enumerate(certs):
        check_validity(cert, now, "the leaf certificate" if i == 0 else f"chain certificate {i}")
        if i > 0 and not is_ca(cert):
            raise ChainOrderError(f"chain certificate {i} is not a CA certificate")
    rest = list(certs[1:])
    root = rest.pop() if rest and is_self_signed(rest[-1]) else None
    return SplitChain(leaf=leaf, intermediates=tuple(rest), root=root)


def order_by_issuer(leaf: x509.Certificate, others: list[x509.Certificate]) -> list[x509.Certificate]:
    ordered: list[x509.Certificate] = []
    current = leaf
    pool = list(others)
    while pool:
        parent = next((c for c in pool if c.subject == current.issuer and c is not current), None)
        if parent is None:
            break
        ordered.append(parent)
        pool.remove(parent)
        if is_self_signed(parent):
            break
        current = parent
    return ordered + pool  # leftovers make the chain check fail with a clear error


def c2pa_alg_for_public_key(key: object) -> str:
    """The c2pa signing algorithm name for a public (or private) key."""
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        names = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name not in names:
            raise UnsupportedKeyError(f"EC curve {key.curve.name} is not allowed by C2PA")
        return names[key.curve.name]
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise UnsupportedKeyError("RSA keys must be at least 2048 bits")
        return "ps256"
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise UnsupportedKeyError(f"unsupported key type {type(key).__name__}")


def public_keys_equal(a: object, b: object) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(serialization.Encoding.DER, fmt) == b.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, fmt
    )


def verify_with_leaf(leaf: x509.Certificate, alg: str, data: bytes, signature: bytes) -> bool:
    """Check a probe signature made by a callback (raw r||s for ECDSA, as c2pa expects)."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    key = leaf.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            half = len(signature) // 2
            der = encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))
            digest = {"es256": hashes.SHA256(), "es384": hashes.SHA384(), "es512": hashes.SHA512()}[alg]
            key.verify(der, data, ec.ECDSA(digest))
        elif isinstance(key, rsa.RSAPublicKey):
            digest = {"ps256": hashes.SHA256(), "ps384": hashes.SHA384(), "ps512": hashes.SHA512()}[alg]
            key.verify(signature, data, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True


# ------------------------------------------------------------------------------------------------------------
# Minting (development credentials and test vectors)


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def issue_certificate(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer_cert: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca_pathlen: int | None = None,
    is_ca_cert: bool = False,
    ekus: Sequence[str] | None = (EKU_EMAIL_PROTECTION, EKU_DOCUMENT_SIGNING),
    key_usage_digital_signature: bool = True,
) -> x509.Certificate:
    """Issue one certificate; a root when ``issuer_cert`` is None. Knobs let tests mint bad leaves."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
        .public_key(public_key)
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .add_extension(x509.BasicConstraints(ca=is_ca_cert, path_length=ca_pathlen), critical=True)
    )
    if is_ca_cert:
        usage = dict(digital_signature=False, key_cert_sign=True, crl_sign=True)
    else:
        usage = dict(digital_signature=key_usage_digital_signature, key_cert_sign=False, crl_sign=False)
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    if not is_ca_cert and ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in ekus]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class MintedPKI:
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey
    root_key: ec.EllipticCurvePrivateKey
    intermediate_key: ec.EllipticCurvePrivateKey


def mint_pki(
    *,
    org: str,
    label: str,
    now: dt.datetime,
    root_years: int = 30,
    intermediate_years: int = 25,
    leaf_years: int = 20,
) -> MintedPKI:
    """Root (pathlen 1) -> intermediate (pathlen 0) -> ES256 leaf with emailProtection + documentSigning."""
    year = dt.timedelta(days=365)
    start = now - dt.timedelta(hours=1)  # tolerate small clock skew between signer and verifier
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = issue_certificate(
        _name(f"{label} root CA", org),
        root_key.public_key(),
        None,
        root_key,
        not_before=start,
        not_after=now + root_years * year,
        ca_pathlen=1,
        is_ca_cert=True,
    )
    inter = issue_certificate(
        _name(f"{label} intermediate CA", org),
        inter_key.public_key(),
        root,
        root_key,
        not_before=start,
        not_after=now + intermediate_years * year,
        ca_pathlen=0,
        is_ca_cert=True,
    )
    leaf = issue_certificate(
        _name(label, org),
        leaf_key.public_key(),
        inter,
        inter_key,
        not_before=start,
        not_after=now + leaf_years * year,
    )
    return MintedPKI(root, inter, leaf, leaf_key, root_key, inter_key)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def private_key_pem(key: object, password: bytes | None = None) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
    )
