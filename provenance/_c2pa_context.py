"""The one place that configures c2pa and turns its exceptions into ours.

Every Reader and Builder in ``provenance`` gets a Context from :func:`context`: offline (no remote manifest
fetch, no OCSP fetch), our EKU allow-list, the project's soft-binding algorithm declared, and only the trust
anchors passed in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import c2pa

from provenance import _pki
from provenance.errors import ManifestError, ProvenanceError

if TYPE_CHECKING:
    from provenance.trust import TrustAnchors

SOFT_BINDING_ALG = "io.github.dirfa.watermark.v1"
"""Reverse-DNS id of the project's watermark, used as ``alg`` of ``c2pa.soft-binding`` (not in the C2PA list).
"""

C2PA_LIBRARY_VERSION = c2pa.sdk_version()


def settings(trust: TrustAnchors | None, *, thumbnails: bool = False) -> dict[str, object]:
    trust_section: dict[str, object] = {"trust_config": _pki.trust_config_text()}
    if trust:
        # trust_anchors REPLACES any built-in list; an empty string is rejected by c2pa, so omit it when
        # empty.
        trust_section["trust_anchors"] = trust.pem.decode()
    return {
        "verify": {
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
            "verify_trust": True,
        },
        "trust": trust_section,
        # Ignored by c2pa-rs 0.91.3; newer versions reject soft-binding algs missing from this list.
        "soft_binding": {"soft_binding_algorithms": [SOFT_BINDING_ALG]},
        # Ingredient thumbnails would embed a copy of the source portrait (~120 KB, ~45 ms) in every manifest.
        "builder": {"thumbnail": {"enabled": thumbnails}},
    }


def context(trust: TrustAnchors | None, *, thumbnails: bool = False) -> c2pa.Context:
    with wrap_errors(ManifestError, "cannot configure c2pa"):
        return c2pa.Context.from_dict(settings(trust, thumbnails=thumbnails))


def raise_from(error: type[ProvenanceError], message: str, exc: BaseException) -> NoReturn:
    kind = type(exc).__name__.lstrip("_").removeprefix("C2pa") or "C2paError"
    raise error(f"{message} ({kind}: {exc})") from exc


@contextlib.contextmanager
def wrap_errors(error: type[ProvenanceError], message: str) -> Iterator[None]:
    """Map any c2pa error raised inside the block to ``error`` (keeping the original as ``__cause__``)."""
    try:
        yield
    except c2pa.C2paError as exc:
        raise_from(error, message, exc)
