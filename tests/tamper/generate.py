"""Generate the C2PA tamper vectors: one signed MP4 per case, altered as its line says, plus ``cases.tsv``.

    python tests/tamper/generate.py OUT_DIR

Each case has a name, how it was made, and the verdict expected from
``provenance.validation.read_manifest(file, trust=TrustAnchors.from_pem(OUT_DIR / "anchors.pem"))``
(``detached:`` = ``validate_detached`` with the manifest stored at signing and the original content ID;
``refused:`` = the signing identity is rejected when loaded, so no file exists). Inputs are synthetic (PyAV
noise video, generated JPEG/WAV ingredients); nothing is downloaded. ``cases.tsv`` repeats the table, one line
per case with the outcome expected.
"""

from __future__ import annotations

import datetime as dt
import os
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from provenance import _pki
from provenance._c2pa_samples import make_mp4, sample_info, write_pki
from provenance.manifest import sign_file
from provenance.signing import SigningIdentity, dev_identity, key_callback

CONTENT_ID = "c0ffee123456"


@dataclass(frozen=True)
class Case:
    name: str
    how: str
    expect: str  # STATUS[|STATUS...][:reason][; detached:RECOVERY] or refused:ErrorType
    make: Callable[[Context, Path], None]

    @property
    def untouched(self) -> bool:
        return self.expect.startswith("TRUSTED")


@dataclass
class Context:
    out: Path
    pki: dict[str, Path]
    identity: SigningIdentity
    unsigned: Path
    other_unsigned: Path
    signed: Path
    manifest: bytes


# -- helpers -------------------------------------------------------------------------------------------------


def _boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Top-level MP4 boxes: (type, offset, size)."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
        elif size == 0:
            size = len(data) - pos
        out.append((kind, pos, size))
        pos += size
    return out


def _box(data: bytes, kind: bytes) -> tuple[int, int]:
    for k, off, size in _boxes(data):
        if k == kind:
            return off, size
    raise LookupError(f"no {kind!r} box")


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def _sign(ctx: Context, src: Path, dst: Path, identity: SigningIdentity) -> bytes:
    return sign_file(src, dst, identity=identity, info=sample_info(CONTENT_ID))


def _copy_of_signed(fn: Callable[[bytes], bytes]) -> Callable[[Context, Path], None]:
    def make(ctx: Context, dst: Path) -> None:
        dst.write_bytes(fn(ctx.signed.read_bytes()))

    return make


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _issue_leaf(ctx: Context, **kwargs: object) -> tuple[bytes, bytes]:
    inter = x509.load_pem_x509_certificate(ctx.pki["intermediate.pem"].read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    opts: dict = dict(not_before=now - dt.timedelta(minutes=5), not_after=now + dt.timedelta(days=30))
    opts.update(kwargs)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "tamper variant leaf")])
    cert = _pki.issue_certificate(name, key.public_key(), inter, _load_key(ctx.pki["intermediate.key"]), **opts)
    return _pki.pem(cert) + ctx.pki["intermediate.pem"].read_bytes(), _pki.private_key_pem(key)


# -- case makers ---------------------------------------------------------------------------------------------


def make_untouched(ctx: Context, dst: Path) -> None:
    dst.write_bytes(ctx.signed.read_bytes())


def make_callback(ctx: Context, dst: Path) -> None:
    ident = SigningIdentity.from_callback(key_callback(_load_key(ctx.pki["leaf.key"]), "es256"), ctx.pki["chain.pem"])
    _sign(ctx, ctx.unsigned, dst, ident)


def make_pkcs12(ctx: Context, dst: Path) -> None:
    leaf, *rest = x509.load_pem_x509_certificates(ctx.pki["chain.pem"].read_bytes())
    blob = pkcs12.serialize_key_and_certificates(
        b"t", _load_key(ctx.pki["leaf.key"]), leaf, rest, serialization.BestAvailableEncryption(b"pw")
    )
    _sign(ctx, ctx.unsigned, dst, SigningIdentity.from_pkcs12(blob, "pw"))


def flip_mdat(data: bytes) -> bytes:
    off, size = _box(data, b"mdat")
    return _flip(data, off + size // 2)


def flip_moov(data: bytes) -> bytes:
    off, size = _box(data, b"moov")
    return _flip(data, off + size - 16)


def append_zeros(data: bytes) -> bytes:
    return data + bytes(100)


def append_text(data: bytes) -> bytes:
    return data + b"appended garbage bytes"


def append_free_box(data: bytes) -> bytes:
    return data + b"\x00\x00\x00\x10free" + b"appended"


def make_moved(ctx: Context, dst: Path) -> None:
    signed, other = ctx.signed.read_bytes(), ctx.other_unsigned.read_bytes()
    off, size = _box(signed, b"uuid")
    ftyp_off, ftyp_size = _box(other, b"ftyp")
    cut = ftyp_off + ftyp_size
    dst.write_bytes(other[:cut] + signed[off : off + size] + other[cut:])


def alter_signature(data: bytes) -> bytes:
    label = data.rfind(b"c2pa.signature\x00")
    box = label + len(b"c2pa.signature\x00")
    size, kind = struct.unpack_from(">I4s", data, box)
    assert kind == b"cbor", kind
    return _flip(data, box + size - 10)  # inside the 64-byte ES256 signature that ends the COSE_Sign1


def alter_assertion(data: bytes) -> bytes:
    old = sample_info(CONTENT_ID).renderer.encode()
    assert data.count(old) == 1
    return data.replace(old, old[:-1] + b"9")


def truncate(data: bytes) -> bytes:
    return data[: len(data) * 6 // 10]


def make_expired(ctx: Context, dst: Path) -> None:
    chain, key = _issue_leaf(ctx, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2))
    _sign(ctx, ctx.unsigned, dst, SigningIdentity.from_pem(chain, key))
    expires = x509.load_pem_x509_certificate(chain).not_valid_after_utc.timestamp()
    time.sleep(max(0.0, expires - time.time() + 1.1))  # no timestamp authority: validity is checked at read time


def make_untrusted_root(ctx: Context, dst: Path) -> None:
    other = write_pki(ctx.out / "other-pki", org="an organisation nobody trusts", label="stranger")
    _sign(ctx, ctx.unsigned, dst, SigningIdentity.from_pem(other["chain.pem"], other["leaf.key"]))


def make_dev_signed(ctx: Context, dst: Path) -> None:
    old = os.environ.get("DIRFA_HOME")
    os.environ["DIRFA_HOME"] = str(ctx.out / "dev-home")
    try:
        _sign(ctx, ctx.unsigned, dst, dev_identity())
    finally:
        if old is None:
            del os.environ["DIRFA_HOME"]
        else:
            os.environ["DIRFA_HOME"] = old


def make_no_eku(ctx: Context, dst: Path) -> None:
    chain, key = _issue_leaf(ctx, ekus=None)
    SigningIdentity.from_pem(chain, key)  # raises EKUError: no file is written


def strip_manifest(data: bytes) -> bytes:
    off, size = _box(data, b"uuid")
    return data[:off] + data[off + size :]


def make_remuxed(ctx: Context, dst: Path) -> None:
    with av.open(str(ctx.signed)) as i, av.open(str(dst), "w", format="mp4") as o:
        streams = {s: o.add_stream_from_template(s) for s in i.streams}
        for packet in i.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream]
                o.mux(packet)


def make_transcoded(ctx: Context, dst: Path) -> None:
    with av.open(str(ctx.signed)) as i, av.open(str(dst), "w", format="mp4") as o:
        vin = i.streams.video[0]
        vout = o.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        vout.options = {"preset": "ultrafast", "crf": "30"}
        for frame in i.decode(vin):
            for p in vout.encode(frame):
                o.mux(p)
        for p in vout.encode():
            o.mux(p)


CASES: tuple[Case, ...] = (
    Case("untouched", "signed by the test org leaf (PEM key), unchanged", "TRUSTED", make_untouched),
    Case("untouched_callback", "signed through a KMS-style callback returning DER", "TRUSTED", make_callback),
    Case("untouched_pkcs12", "signed with the same key loaded from a PKCS#12 bundle", "TRUSTED", make_pkcs12),
    Case("mdat_flip", "one byte inverted in the middle of mdat", "INVALID:hard_binding_mismatch",
         _copy_of_signed(flip_mdat)),
    Case("moov_flip", "one byte inverted near the end of moov", "INVALID:hard_binding_mismatch",
         _copy_of_signed(flip_moov)),
    Case("appended", "100 zero bytes appended after the last box", "INVALID:hard_binding_mismatch",
         _copy_of_signed(append_zeros)),
    Case("appended_text", "22 bytes of text appended (reads as a box overrunning the file)", "MALFORMED",
         _copy_of_signed(append_text)),
    Case("free_box_appended", "a 16-byte top-level free box appended: NOT a media change, the C2PA BMFF hash "
         "excludes top-level free/skip boxes by design", "TRUSTED", _copy_of_signed(append_free_box)),
    Case("manifest_moved", "the signed file's C2PA uuid box inserted into a different unsigned MP4",
         "INVALID:hard_binding_mismatch", make_moved),
    Case("signature_altered", "one byte of the COSE claim signature inverted",
         "INVALID:signature_mismatch|MALFORMED", _copy_of_signed(alter_signature)),
    Case("assertion_altered", "renderer text in the generation assertion changed (same length)",
         "INVALID:assertion_mismatch", _copy_of_signed(alter_assertion)),
    Case("truncated", "file cut at 60% of its length", "INVALID|MALFORMED", _copy_of_signed(truncate)),
    Case("expired_leaf", "leaf valid for 2 s, signed without a TSA, read after it expired", "INVALID:expired",
         make_expired),
    Case("untrusted_root", "signed by a complete PKI whose root is not in the anchors", "VALID_UNTRUSTED",
         make_untrusted_root),
    Case("dev_identity", "signed by dev_identity(); the dev root is not in the anchors", "VALID_UNTRUSTED",
         make_dev_signed),
    Case("leaf_without_eku", "leaf minted with no ExtendedKeyUsage", "refused:EKUError", make_no_eku),
    Case("manifest_stripped", "the C2PA uuid box cut out of the signed file",
         "ABSENT; detached:MATCHES_ASSET|RECOVERED", _copy_of_signed(strip_manifest)),
    Case("remuxed", "stream copy into a new MP4 with PyAV", "ABSENT; detached:RECOVERED", make_remuxed),
    Case("transcoded", "video re-encoded with libx264 CRF 30 (audio dropped)", "ABSENT; detached:RECOVERED",
         make_transcoded),
)  # fmt: skip


def generate(out: Path) -> dict[str, Path | BaseException]:
    """Make every case under ``out``; map case name -> file, or the exception its identity raised."""
    out.mkdir(parents=True, exist_ok=True)
    pki = write_pki(out / "pki", org="dirfa tamper-suite org", label="tamper-suite signer")
    (out / "anchors.pem").write_bytes(pki["root.pem"].read_bytes())
    identity = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"])
    unsigned = make_mp4(out / "unsigned.mp4", seed=1)
    other = make_mp4(out / "other-unsigned.mp4", seed=2)
    manifest = sign_file(unsigned, out / "signed.mp4", identity=identity, info=sample_info(CONTENT_ID))
    (out / "signed.manifest.c2pa").write_bytes(manifest)
    ctx = Context(out, pki, identity, unsigned, other, out / "signed.mp4", manifest)
    results: dict[str, Path | BaseException] = {}
    for case in CASES:
        dst = out / f"{case.name}.mp4"
        try:
            case.make(ctx, dst)
        except Exception as exc:
            results[case.name] = exc
        else:
            results[case.name] = dst
    with (out / "cases.tsv").open("w") as fh:
        fh.write("case\thow it was made\texpected\n")
        for case in CASES:
            fh.write(f"{case.name}\t{case.how}\t{case.expect}\n")
    return results


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, result in generate(Path(sys.argv[1])).items():
        print(f"{name}: {result if isinstance(result, Path) else type(result).__name__}")
