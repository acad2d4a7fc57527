"""Signing identities for C2PA manifests: a certificate chain plus a private key, a PKCS#12 bundle, or a
callback.

Every constructor validates the credential when it is loaded and raises a subclass of
:class:`provenance.errors.IdentityError` naming the problem (EKU, CA as leaf, validity, key mismatch, chain
order), so a bad credential never reaches the renderer. Private key material is never logged and never part of
``repr``.

:func:`dev_identity` mints (once) and loads a local development PKI labelled UNTRUSTED; verifiers never trust
its root unless given it explicitly (:meth:`provenance.trust.TrustAnchors.dev`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs12

from provenance import _pki
from provenance._c2pa_devkeys import DEV_FILES as _DEV_FILES
from provenance._c2pa_devkeys import create_dev_files
from provenance._pki import (
    CACertificateAsLeafError,
    CertificateExpiredError,
    CertificateNotYetValidError,
    CertificateValidityError,
    ChainOrderError,
    EKUError,
    KeyMismatchError,
    KeyUsageError,
    UnsupportedKeyError,
)
from provenance.errors import IdentityError, SigningError
from provenance.paths import dev_keys_dir

__all__ = [
    "DEV_ORGANIZATION",
    "CACertificateAsLeafError",
    "CertificateExpiredError",
    "CertificateNotYetValidError",
    "CertificateValidityError",
    "ChainOrderError",
    "EKUError",
    "IdentityError",
    "KeyMismatchError",
    "KeyUsageError",
    "SignCallback",
    "SigningIdentity",
    "UnsupportedKeyError",
    "dev_identity",
]

log = logging.getLogger(__name__)

DEV_ORGANIZATION = "dirfa development (UNTRUSTED)"
_DEV_LABEL = "dirfa development identity (UNTRUSTED)"

SignCallback = Callable[[bytes], bytes]
"""Signs the bytes given (the COSE Sig_structure) and returns the signature. For ECDSA either raw r||s or DER.
"""

_ALGS = {
    "es256": c2pa.C2paSigningAlg.ES256,
    "es384": c2pa.C2paSigningAlg.ES384,
    "es512": c2pa.C2paSigningAlg.ES512,
    "ps256": c2pa.C2paSigningAlg.PS256,
    "ps384": c2pa.C2paSigningAlg.PS384,
    "ps512": c2pa.C2paSigningAlg.PS512,
    "ed25519": c2pa.C2paSigningAlg.ED25519,
}
_EC_SIG_LEN = {"es256": 64, "es384": 96, "es512": 132}


def _read(source: str | os.PathLike[str] | bytes, what: str, *, secret: bool = False) -> bytes:
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise IdentityError(f"cannot read the {what} file {os.fspath(source)!r}: {exc.strerror}") from exc
    if secret:
        warn_if_exposed(Path(source), what)
    return data


def warn_if_exposed(path: Path, what: str = "private key") -> bool:
    """Log a warning (and return True) when a file holding key material is readable or writable by anyone but
    its owner. The key is still used: refusing would break a working deployment without warning first."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return False
    if os.name != "posix" or not mode & 0o077:
        return False
    log.warning(
        "the %s file %s is accessible to other users (mode %03o); restrict it with `chmod 600 %s` or "
        "`dirfa keys fix-permissions %s`",
        what,
        path,
        mode,
        path,
        path,
    )
    return True


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class SigningIdentity:
    """A checked C2PA signing credential. Build it with :meth:`from_pem`, :meth:`from_pkcs12` or
    :meth:`from_callback`; :func:`dev_identity` returns the local development one."""

    __slots__ = ("_alg", "_callback", "_chain", "_key_pem", "_tsa_url")

    def __init__(
        self,
        chain: _pki.SplitChain,
        alg: str,
        *,
        key_pem: bytes | None,
        callback: SignCallback | None,
        tsa_url: str | None,
    ) -> None:
        if (key_pem is None) == (callback is None):
            raise TypeError("give exactly one of key_pem and callback")
        if tsa_url is not None and not tsa_url.startswith(("http://", "https://")):
            raise IdentityError("tsa_url must be an http(s) URL of an RFC 3161 timestamp authority")
        self._chain = chain
        self._alg = alg
        self._key_pem = key_pem
        self._callback = callback
        self._tsa_url = tsa_url

    # -- constructors ----------------------------------------------------------------------------------------

    @classmethod
    def from_pem(
        cls,
        cert_chain_pem: str | os.PathLike[str] | bytes,
        key: str | os.PathLike[str] | bytes,
        *,
        password: bytes | str | None = None,
        tsa_url: str | None = None,
        now: dt.datetime | None = None,
    ) -> SigningIdentity:
        """Load a PEM chain (leaf first; the root may be included and is kept aside) and a PEM private key."""
        certs = _pki.load_pem_chain(_read(cert_chain_pem, "certificate chain"))
        pw = password.encode() if isinstance(password, str) else password
        try:
            private_key = serialization.load_pem_private_key(_read(key, "private key", secret=True), pw)
        except (ValueError, TypeError) as exc:
            # Never echo the key bytes; the exception text from cryptography does not contain them.
            raise IdentityError("the private key cannot be loaded (wrong password or not a PEM key)") from exc
        return cls._from_key(certs, private_key, tsa_url=tsa_url, now=now)

    @classmethod
    def from_pkcs12(
        cls,
        data: str | os.PathLike[str] | bytes,
        password: bytes | str | None,
        *,
        tsa_url: str | None = None,
        now: dt.datetime | None = None,
    ) -> SigningIdentity:
        """Load a PKCS#12 (.p12/.pfx) bundle holding the key, the leaf and its chain."""
        pw = password.encode() if isinstance(password, str) else password
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(_read(data, "PKCS#12", secret=True), pw)
        except (ValueError, TypeError) as exc:
            raise IdentityError("the PKCS#12 bundle cannot be opened (wrong password or damaged)") from exc
        if key is None or cert is None:
            raise IdentityError("the PKCS#12 bundle lacks a private key or a certificate")
        # PKCS#12 does not order its extra certificates: order them by issuer starting at the leaf.
        certs = [cert, *_pki.order_by_issuer(cert, list(extra))]
        return cls._from_key(certs, key, tsa_url=tsa_url, now=now)

    @classmethod
    def from_callback(
        cls,
        callback: SignCallback,
        cert_chain_pem: str | os.PathLike[str] | bytes,
        *,
        alg: str = "es256",
        tsa_url: str | None = None,
        probe: bool = True,
        now: dt.datetime | None = None,
    ) -> SigningIdentity:
        """A KMS/HSM key: ``callback(data) -> signature``. ECDSA signatures may be DER (as most KMS return
        them) or raw r||s. With ``probe`` (default) the callback signs a test message once, to prove it
        matches the leaf."""
        alg = alg.lower()
        if alg not in _ALGS:
            raise UnsupportedKeyError(f"unknown algorithm {alg!r}; one of {sorted(_ALGS)}")
        certs = _pki.load_pem_chain(_read(cert_chain_pem, "certificate chain"))
        chain = _pki.split_and_check_chain(certs, now or _now())
        if _pki.c2pa_alg_for_public_key(chain.leaf.public_key())[:2] != alg[:2]:
            raise KeyMismatchError(f"algorithm {alg} does not fit the leaf's public key")
        wrapped = _normalise_callback(callback, alg)
        if probe:
            message = b"dirfa signing identity probe " + os.urandom(16)
            try:
                signature = wrapped(message)
            except Exception as exc:
                raise IdentityError("the signing callback failed on the probe message") from exc
            if not _pki.verify_with_leaf(chain.leaf, alg, message, signature):
                raise KeyMismatchError("the callback's signature does not verify with the leaf certificate")
        return cls(chain, alg, key_pem=None, callback=wrapped, tsa_url=tsa_url)

    @classmethod
    def _from_key(
        cls,
        certs: list[x509.Certificate],
        private_key: object,
        *,
        tsa_url: str | None,
        now: dt.datetime | None,
    ) -> SigningIdentity:
        chain = _pki.split_and_check_chain(certs, now or _now())
        alg = _pki.c2pa_alg_for_public_key(private_key)
        public_key = private_key.public_key()  # type: ignore[attr-defined]
        if not _pki.public_keys_equal(public_key, chain.leaf.public_key()):
            raise KeyMismatchError("the private key does not belong to the leaf certificate")
        key_pem = _pki.private_key_pem(private_key)
        return cls(chain, alg, key_pem=key_pem, callback=None, tsa_url=tsa_url)

    # -- properties ------------------------------------------------------------------------------------------

    @property
    def subject(self) -> str:
        return self._chain.leaf.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        return self._chain.leaf.issuer.rfc4514_string()

    @property
    def common_name(self) -> str:
        attrs = self._chain.leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else self.subject

    @property
    def alg(self) -> str:
        return self._alg

    @property
    def tsa_url(self) -> str | None:
        return self._tsa_url

    @property
    def not_before(self) -> dt.datetime:
        return self._chain.leaf.not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        return self._chain.leaf.not_valid_after_utc

    @property
    def fingerprint_sha256(self) -> str:
        return self._chain.leaf.fingerprint(hashes.SHA256()).hex()

    @property
    def certificate_chain_pem(self) -> bytes:
        """Leaf then intermediates (no root), as embedded in each signature."""
        return self._chain.signer_pem()

    @property
    def root_pem(self) -> bytes | None:
        """The root certificate when the chain given included it (always for the dev identity)."""
        return _pki.pem(self._chain.root) if self._chain.root is not None else None

    @property
    def is_development(self) -> bool:
        orgs = self._chain.leaf.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
        return any(a.value == DEV_ORGANIZATION for a in orgs)

    @property
    def uses_callback(self) -> bool:
        return self._callback is not None

    def __reduce__(self) -> Any:
        # Pickling would copy the private key into whatever stores or transmits the pickle.
        raise TypeError("SigningIdentity cannot be pickled: load it again from its files in the other process")

    def __repr__(self) -> str:
        kind = "callback" if self._callback is not None else "key"
        dev = ", development=True" if self.is_development else ""
        return f"SigningIdentity(subject={self.subject!r}, alg={self._alg!r}, {kind}{dev})"

    def check_valid(self, now: dt.datetime | None = None) -> None:
        """Raise :class:`CertificateValidityError` if the chain is outside its validity at ``now``."""
        when = now or _now()
        _pki.check_validity(self._chain.leaf, when, "the leaf certificate")
        for i, cert in enumerate(self._chain.intermediates, start=1):
            _pki.check_validity(cert, when, f"chain certificate {i}")

    # -- c2pa ------------------------------------------------------------------------------------------------

    def _c2pa_signer(self) -> c2pa.Signer:
        """A fresh native signer; the caller closes it (``with identity._c2pa_signer() as s``)."""
        chain = self.certificate_chain_pem.decode()
        try:
            if self._callback is not None:
                return c2pa.Signer.from_callback(self._callback, _ALGS[self._alg], chain, self._tsa_url)
            assert self._key_pem is not None  # narrowed by the constructor's exactly-one check
            info = c2pa.C2paSignerInfo(
                alg=self._alg.encode(), sign_cert=chain.encode(), private_key=self._key_pem, ta_url=_tsa(self)
            )
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError as exc:
            raise SigningError(f"c2pa refused the signing identity: {type(exc).__name__}") from exc


def _tsa(identity: SigningIdentity) -> bytes | None:
    return identity.tsa_url.encode() if identity.tsa_url else None


def _normalise_callback(callback: SignCallback, alg: str) -> SignCallback:
    """c2pa wants raw r||s for ECDSA; KMS services usually return DER. Accept both."""
    if alg not in _EC_SIG_LEN:
        return callback
    size = _EC_SIG_LEN[alg]

    def wrapped(data: bytes) -> bytes:
        sig = bytes(callback(data))
        if len(sig) == size:
            return sig
        try:
            r, s = decode_dss_signature(sig)
        except ValueError as exc:
            raise SigningError("the signing callback returned neither raw r||s nor a DER ECDSA signature") from exc
        half = size // 2
        return r.to_bytes(half, "big") + s.to_bytes(half, "big")

    return wrapped


def key_callback(private_key: object, alg: str) -> SignCallback:
    """A callback signing with an in-memory key (DER for ECDSA, like a KMS): for tests and examples."""

    def sign(data: bytes) -> bytes:
        if isinstance(private_key, ec.EllipticCurvePrivateKey):
            digest = {"es256": hashes.SHA256(), "es384": hashes.SHA384(), "es512": hashes.SHA512()}[alg]
            return private_key.sign(data, ec.ECDSA(digest))
        if isinstance(private_key, rsa.RSAPrivateKey):
            return private_key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        if isinstance(private_key, ed25519.Ed25519PrivateKey):
            return private_key.sign(data)
        raise UnsupportedKeyError(f"unsupported key type {type(private_key).__name__}")

    return sign


# ------------------------------------------------------------------------------------------------------------
# Development identity

_dev_lock = threading.Lock()
_dev_cache: dict[Path, SigningIdentity] = {}


def dev_identity(*, create: bool = True) -> SigningIdentity:
    """The local development identity: created on first use under ``config_dir()/keys/dev`` and cached.

    Files: ``root.pem`` (distribute only to verifiers you want to trust it on purpose), ``chain.pem`` (leaf +
    intermediate + root) and ``leaf.key`` (mode 0600). The root and intermediate private keys are discarded
    after minting, so nothing else can ever be issued under this root.
    """
    directory = dev_keys_dir()
    with _dev_lock:
        cached = _dev_cache.get(directory)
        if cached is not None and (directory / "leaf.key").exists():
            return cached
        if not all((directory / f).exists() for f in _DEV_FILES):
            if not create:
                raise IdentityError(f"no development identity in {directory}; run `dirfa keys init`")
            create_dev_files(directory, org=DEV_ORGANIZATION, label=_DEV_LABEL)
        identity = SigningIdentity.from_pem(directory / "chain.pem", directory / "leaf.key")
        _dev_cache[directory] = identity
        return identity


def init_dev_identity(*, force: bool = False) -> SigningIdentity:
    """Create the development identity (``dirfa keys init``); with ``force`` replace an existing one."""
    directory = dev_keys_dir()
    with _dev_lock:
        _dev_cache.pop(directory, None)
        if force and directory.exists():
            shutil.rmtree(directory)
    return dev_identity(create=True)
