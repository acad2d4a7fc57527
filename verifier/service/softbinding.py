"""The C2PA Soft Binding Resolution API over the manifest store: any C2PA client that finds our watermark in a video
can fetch the signed manifest it names.

Implemented: the OpenAPI description "C2PA Soft Binding Resolution API" **version 1.1.0**, published in C2PA 2.3,
"C2PA Soft Binding API" section 1.4 (https://spec.c2pa.org/specifications/specifications/2.3/softbinding/Decoupled.html;
version 1.0.0 of C2PA 2.2 has the same paths without ``/matches/byReference``). Paths are served at the root (the
spec's example server puts them under ``/v1``: mount or proxy as you like).

Endpoints (reads are public; the one write needs the API key):

- ``GET /matches/byBinding?alg=&value=[&maxResults=]``: the ids of the manifests whose soft binding is (alg,
  value), oldest first: 200 ``{"matches": [{"manifestId": ..., "similarityScore": 100}]}``.
- ``POST /matches/byBinding[?maxResults=]``: the same, the query as a JSON body ``{"alg": ..., "value": ...}``.
- ``POST /matches/byContent[?alg=][&maxResults=][&hintAlg=&hintValue=]``: the body is the asset's bytes; a pool
  worker verifies it (fast mode) and the content ID its watermark decodes to is looked up.
- ``GET /manifests/{manifestId}[?returnActiveManifest=]``: the manifest store bytes, ``application/c2pa``.
- ``GET /services/supportedAlgorithms``: ``{"watermarks": [{"alg": "io.github.dirfa.watermark.v1"}],
  "fingerprints": []}``.
- ``POST /manifests?assetSha256=[&alg=&value=]`` (ours: the spec has no write): add a manifest store (the body);
  ``Authorization: Bearer <API key>``.
- Not implemented: ``POST /matches/byReference`` (optional in 1.1.0: the service would fetch a client-given URL;
  404 here).

The soft binding **value** of ``io.github.dirfa.watermark.v1`` (``provenance.manifest.SOFT_BINDING_ALG``): the spec
asks for "a base64-encoded string describing, in algorithm specific format, the value"; our manifests' soft-binding
blocks carry the 48-bit content ID as 12 lowercase hex digits, so the API value is the base64 of those 12 ASCII
characters (``3f9a0c12be47`` -> ``M2Y5YTBjMTJiZTQ3``), as Adobe's resolver documentation does for TrustMark IDs
(the base64 of the ID's text form). Also accepted: URL-safe base64, missing padding, and the 12 hex digits
themselves (a 12-character string is never the base64 of 12 characters, so nothing is ambiguous). Anything else is
400.

Behaviour where the spec leaves a choice:

- No match is ``200 {"matches": []}`` (the spec: "find zero or more"); 404 is only for an unknown manifest id.
- ``alg`` other than ours: 400 naming ``/services/supportedAlgorithms`` (no other algorithm is searchable here).
- ``maxResults``: an integer >= 1 (else 400), default 10, at most 100 (larger values are capped).
- ``similarityScore``: 100, every match being of an exact value (given; decoded from the asset's watermark at the
  detector's 1e-9 false-positive rate; or declared by the asset's intact manifest). ``endpoint`` is omitted:
  manifests come from this same service.
- A query string over 2,048 characters is 414 (the spec's "consider using POST"); a JSON query over 64 KiB is 413.
- byContent: the body is spooled under the service's upload limits and verified by a pool worker in fast mode
  without store recovery. Its value: the watermark's content ID when found; else the soft binding that the asset's
  own embedded manifest declares, when that manifest is intact (signature and hard binding verify). A manifest that
  contradicts the watermark is not used. ``hintAlg``/``hintValue`` are checked (both or neither) but not used: the
  answer is what the asset itself shows. 415 ("Invalid asset type") before the body is read for multipart, text,
  audio, model and message types (no video frame to carry the watermark), and after it for bytes the verifier
  cannot decode; 422 for an asset over the verifier's limits; 413 over the upload size limit; 503 + Retry-After
  when the pool is full.
- ``returnActiveManifest=true`` returns a manifest store holding only the active manifest (same media type);
  this SDK's stores hold one manifest, so the bytes are then the stored ones. Booleans: true/false/1/0.
- An invalid manifest id (not ``urn:<nid>:<printable ASCII>``, at most 256 characters) is 400.
- Store failures are 500 ("Service failure"), JSON like every error here: ``{"error": ..., "status": N}`` (the
  spec defines no error body).
- The spec's OAuth 2 scope ``fetch:manifests`` guards reads; its 1.1.0 security list also allows none, which is
  what we do: **reads are public**. Writes are not in the spec.

Writes (``POST /manifests``): 403 when the service has no API key (writes disabled), 401 with
``WWW-Authenticate: Bearer`` without the header or with a wrong key (compared in constant time, never logged), both
before a byte of the body is read. The body (``application/c2pa`` or ``application/octet-stream``, at most 32 MiB)
must be a C2PA manifest store (400 otherwise) that declares our soft binding with a 12-hex-digit value, whose claim
signature and assertion hashes verify with only the (expected) hard-binding mismatch against no asset: the check the
verifier makes before it trusts a recovered manifest (422 otherwise). ``value``/``alg``, when given, must be what
the manifest declares (422). ``assetSha256`` (the signed file's sha256, 64 hex digits) is required: it is stored,
not checkable here. 201 + ``Location`` when new, 200 when the identical record was already there, 409 when another
record has this manifest id. The signer need not chain to the service's trust anchors; the answer says whether it
does (``signerTrusted``).

The store: one per app, opened on first use (under a lock, in a worker thread) and closed at shut-down. Opening
is costly (SQLite: WAL set-up and a write transaction; PostgreSQL: a connection, an advisory lock and the schema
check), and both backends are thread-safe behind their own lock. A store call that fails drops the handle, so the
next request reconnects (a restarted database server costs one failed request, not the service). All store and
c2pa calls run in worker threads (at most 8 at once), never on the event loop.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import anyio.to_thread
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from provenance._c2pa_jumbf import active_manifest_only
from provenance.errors import ManifestError, StoreError
from provenance.manifest import SOFT_BINDING_ALG
from provenance.store import ManifestRecord, ManifestStore, open_store

from ._pool import Saturated
from ._upload import UploadLimits
from ._values import encode_value, parse_value
from .app import ServiceState, error, receive_or_error, verify_spooled

log = logging.getLogger("verifier.service.softbinding")

T = TypeVar("T")

DEFAULT_RESULTS = 10
MAX_RESULTS = 100
MAX_QUERY_CHARS = 2048
MAX_QUERY_BODY = 64 * 1024
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
CONTENT_MODE = "fast"
C2PA_MEDIA_TYPE = "application/c2pa"
_SCORE_EXACT = 100
_HEX12 = re.compile(r"[0-9a-fA-F]{12}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_MANIFEST_ID = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[!-~]{1,220}")
_NO_VIDEO_TYPES = ("multipart", "text", "audio", "model", "message")
_REALM = 'Bearer realm="dirfa manifest store"'


class _Refused(Exception):
    """A request refused before any work: answer ``status`` with ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --- the store ---------------------------------------------------------------------------------------------------


class _Repository:
    """One app's manifest store (opened on first use, dropped after a failure) and trust anchors."""

    def __init__(self, url: str | None, trust_pem: bytes | None) -> None:
        self.url = url
        self.trust_pem = trust_pem
        self._lock = threading.Lock()
        self._store: ManifestStore | None = None
        self._anchors: Any = None
        self.limiter = anyio.CapacityLimiter(8)

    def _open(self) -> ManifestStore:
        with self._lock:
            if self._store is None:
                try:
                    self._store = open_store(self.url)
                except OSError as exc:  # e.g. the SQLite file's folder cannot be made
                    raise StoreError(f"cannot open the manifest store: {exc}") from exc
            return self._store

    def _drop(self, store: ManifestStore) -> None:
        with self._lock:
            if self._store is store:
                self._store = None
        with contextlib.suppress(Exception):  # already broken: nothing more to release
            store.close()

    async def call(self, fn: Callable[[ManifestStore], T]) -> T:
        """``fn(store)`` in a worker thread; a StoreError drops the store (the next call reopens it) and propagates."""

        def run() -> T:
            store = self._open()
            try:
                return fn(store)
            except StoreError:
                self._drop(store)
                raise

        return await anyio.to_thread.run_sync(run, limiter=self.limiter)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    def anchors(self) -> Any:
        if self._anchors is None and self.trust_pem:
            from provenance.trust import TrustAnchors

            self._anchors = TrustAnchors.from_pem(self.trust_pem)
        return self._anchors

    def close(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()


_repositories: weakref.WeakKeyDictionary[ServiceState, _Repository] = weakref.WeakKeyDictionary()


def _repository(svc: ServiceState) -> _Repository:
    repo = _repositories.get(svc)
    if repo is None:  # no await between the lookup and the insert: one per app, even under concurrent requests
        repo = _repositories[svc] = _Repository(svc.config.store, svc.config.trust_pem)
        svc.on_stop.append(repo.close)
    return repo


def _store_failed(exc: Exception) -> Response:
    log.warning("manifest store failure: %s", exc)
    return error(500, "the manifest store is unavailable")


# --- query parameters ----------------------------------------------------------------------------------------------


def _param(query: QueryParams, name: str, *, required: bool = False) -> str | None:
    values = query.getlist(name)
    if len(values) > 1:
        raise _Refused(400, f"query parameter {name} given {len(values)} times")
    if not values or values[0] == "":
        if required:
            raise _Refused(400, f"missing query parameter: {name}")
        return None
    return values[0]


def _max_results(query: QueryParams) -> int:
    text = _param(query, "maxResults")
    if text is None:
        return DEFAULT_RESULTS
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise _Refused(400, "maxResults must be an integer >= 1")
    return min(int(text), MAX_RESULTS)  # at most 2,048 digits (the query's own limit): int() takes them


def _check_alg(alg: str) -> None:
    if alg != SOFT_BINDING_ALG:
        raise _Refused(400, f"unsupported soft binding algorithm {alg[:100]!r}: see /services/supportedAlgorithms")


def _content_id(value: str, name: str = "value") -> str:
    content_id = parse_value(value)
    if content_id is None:
        raise _Refused(
            400, f"{name} is not a {SOFT_BINDING_ALG} value: expected the base64 of the 12-hex-digit content ID"
        )
    return content_id


def _boolean(query: QueryParams, name: str) -> bool:
    text = _param(query, name)
    if text is None:
        return False
    lowered = text.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise _Refused(400, f"{name} must be true or false")
    return lowered in ("true", "1")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _state(request: Request) -> ServiceState:
    return request.app.state.service


# --- reading bodies ------------------------------------------------------------------------------------------------


def _small_limits(svc: ServiceState, max_bytes: int) -> UploadLimits:
    limits = svc.config.upload_limits
    return replace(limits, max_bytes=min(limits.max_bytes, max_bytes))


# --- matching ------------------------------------------------------------------------------------------------------


async def _matches(svc: ServiceState, content_ids: list[str], limit: int) -> Response:
    def find(store: ManifestStore) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for content_id in content_ids:
            for manifest_id in store.find_by_binding(SOFT_BINDING_ALG, content_id):
                if manifest_id not in seen:
                    seen.add(manifest_id)
                    out.append({"manifestId": manifest_id, "similarityScore": _SCORE_EXACT})
                if len(out) >= limit:
                    return out
        return out

    try:
        found = await _repository(svc).call(find)
    except StoreError as exc:
        return _store_failed(exc)
    return JSONResponse({"matches": found})


async def by_binding(request: Request) -> Response:
    """GET /matches/byBinding?alg=&value=[&maxResults=]; POST with a JSON ``{"alg", "value"}`` body."""
    request.state.route = "/matches/byBinding"
    svc = _state(request)
    if len(request.url.query) > MAX_QUERY_CHARS:
        return error(414, f"query over {MAX_QUERY_CHARS} characters: POST /matches/byBinding with a JSON body")
    try:
        limit = _max_results(request.query_params)
        if request.method == "GET":
            alg = _param(request.query_params, "alg", required=True)
            value = _param(request.query_params, "value", required=True)
        else:
            if _media_type(request) not in ("", "application/json"):
                raise _Refused(415, "the query is a JSON document: Content-Type: application/json")
    except _Refused as exc:
        return error(exc.status, str(exc), {"Connection": "close"} if request.method == "POST" else None)
    if request.method == "POST":
        received = await receive_or_error(request, svc, _small_limits(svc, MAX_QUERY_BODY))
        if isinstance(received, Response):
            return received
        try:
            raw = received.read_bytes()
        finally:
            received.unlink(missing_ok=True)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            return error(400, 'the body is not JSON: {"alg": ..., "value": ...}')
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body[k] for k in ("alg", "value")):
            return error(400, 'the body must be a JSON object with string "alg" and "value"')
        alg, value = body["alg"], body["value"]
    assert alg is not None and value is not None
    try:
        _check_alg(alg)
        content_id = _content_id(value)
    except _Refused as exc:
        return error(exc.status, str(exc))
    return await _matches(svc, [content_id], limit)


async def by_content(request: Request) -> Response:
    """POST /matches/byContent[?alg=][&maxResults=][&hintAlg=&hintValue=]: the body is the asset's bytes."""
    request.state.route = "/matches/byContent"
    svc = _state(request)
    query = request.query_params
    try:
        if len(request.url.query) > MAX_QUERY_CHARS:
            raise _Refused(414, f"query over {MAX_QUERY_CHARS} characters")
        alg = _param(query, "alg")
        if alg is not None:
            _check_alg(alg)
        limit = _max_results(query)
        if (_param(query, "hintAlg") is None) != (_param(query, "hintValue") is None):
            raise _Refused(400, "hintAlg and hintValue go together")
        kind = _media_type(request).split("/", 1)[0]
        if kind in _NO_VIDEO_TYPES:
            raise _Refused(415, f"a {kind}/* body carries no video frames: POST the asset's own bytes (video)")
        svc.pool.check_admission()  # refuse at once, before reading a body that would only queue
    except _Refused as exc:
        return error(exc.status, str(exc), {"Connection": "close"})
    except Saturated as exc:
        svc.metrics.rejected.labels("saturated").inc()
        return error(503, str(exc), {"Retry-After": "1", "Connection": "close"})
    received = await receive_or_error(request, svc)
    if isinstance(received, Response):
        return received
    overrides = {"mode": CONTENT_MODE, "filename": "byContent", "thumbnails": False, "store": None}
    result = await verify_spooled(svc, received, overrides)
    if isinstance(result, Response):
        return result
    report = result.get("report", result)
    if report["verdict"] == "unreadable":
        reason = str(report.get("summary") or "unreadable")
        if any(str(e).startswith("limit:") for e in report.get("errors") or ()) or "limit:" in reason:
            return error(422, f"the asset is over the verifier's limits: {reason}")
        return error(415, f"not an asset the verifier can decode: {reason}")
    return await _matches(svc, content_values(report), limit)


def content_values(report: dict[str, Any]) -> list[str]:
    """The content IDs an asset's verification report shows: its watermark's when found, else the one its own intact
    manifest declares (the hard binding ties that manifest to these very bytes)."""
    values: list[str] = []
    wm = report.get("watermark") or {}
    if wm.get("found") and isinstance(wm.get("content_id"), str) and _HEX12.fullmatch(wm["content_id"]):
        values.append(wm["content_id"].lower())
    if values:  # the content itself; an intact manifest that declares another value does not override it
        return values
    c2pa = report.get("c2pa") or {}
    declared = c2pa.get("soft_binding_value")
    if (
        c2pa.get("status") in ("trusted", "valid_untrusted")
        and c2pa.get("soft_binding_alg") == SOFT_BINDING_ALG
        and isinstance(declared, str)
        and _HEX12.fullmatch(declared)
    ):
        values.append(declared.lower())
    return values


# --- manifests -----------------------------------------------------------------------------------------------------


async def get_manifest(request: Request) -> Response:
    """GET /manifests/{manifestId}[?returnActiveManifest=true|false]: the manifest store, application/c2pa."""
    request.state.route = "/manifests/{manifestId}"
    svc = _state(request)
    manifest_id = request.path_params["manifest_id"]
    try:
        active_only = _boolean(request.query_params, "returnActiveManifest")
        if len(manifest_id) > 256 or not _MANIFEST_ID.fullmatch(manifest_id):
            raise _Refused(400, "invalid C2PA manifest id: expected urn:c2pa:<uuid>...")
    except _Refused as exc:
        return error(exc.status, str(exc))
    try:
        record = await _repository(svc).call(lambda store: store.get(manifest_id))
    except StoreError as exc:
        return _store_failed(exc)
    if record is None:
        return error(404, f"no manifest {manifest_id} in this repository")
    data = record.manifest_bytes
    if active_only:
        try:
            data = active_manifest_only(data)
        except ManifestError as exc:  # stored bytes are checked on the way in; never expected
            log.warning("stored manifest %s is not a JUMBF store: %s", manifest_id, exc)
            return error(500, "the stored manifest cannot be read")
    return Response(data, media_type=C2PA_MEDIA_TYPE, headers={"Cache-Control": "public, max-age=3600"})


async def supported_algorithms(request: Request) -> Response:
    """GET /services/supportedAlgorithms."""
    request.state.route = "/services/supportedAlgorithms"
    try:
        algs = await _repository(_state(request)).call(lambda store: store.supported_algorithms())
    except StoreError as exc:
        return _store_failed(exc)
    return JSONResponse(algs.to_json())


def _authorize(request: Request, svc: ServiceState) -> Response | None:
    """None when the request carries the service's API key; else the 403 / 401 to answer (before any body)."""
    key = svc.config.api_key
    if key is None:
        svc.metrics.rejected.labels("writes_disabled").inc()
        return error(403, "writes are disabled: the service was started without an API key", {"Connection": "close"})
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        svc.metrics.rejected.labels("unauthorized").inc()
        return error(401, "adding manifests needs Authorization: Bearer <API key>",
                     {"WWW-Authenticate": _REALM, "Connection": "close"})  # fmt: skip
    # Header values arrive latin-1 decoded: recover their bytes. compare_digest's time does not depend on where
    # the two differ.
    if not hmac.compare_digest(token.encode("latin-1", errors="replace"), key.encode("utf-8")):
        svc.metrics.rejected.labels("unauthorized").inc()
        return error(401, "wrong API key",
                     {"WWW-Authenticate": f'{_REALM}, error="invalid_token"', "Connection": "close"})  # fmt: skip
    return None


def validate_manifest(data: bytes, anchors: Any, claimed: str | None) -> tuple[str, str, bool]:
    """(content ID, signer, signer trusted) of a manifest store offered to the repository; raises _Refused.

    The checks the verifier makes before it trusts a manifest recovered from a store: a C2PA manifest store, whose
    claim signature and assertion hashes verify, failing only its hard binding (validated against no asset), and
    whose ``c2pa.soft-binding`` is our algorithm with a content ID."""
    from provenance.validation import ManifestStatus, RecoveryStatus, read_manifest, validate_detached

    finding = read_manifest(b"", mime="video/mp4", trust=anchors, manifest_data=data)
    if finding.status in (ManifestStatus.MALFORMED, ManifestStatus.ABSENT):
        raise _Refused(400, f"the body is not a C2PA manifest store: {finding.error or finding.status.value}")
    soft = finding.soft_binding
    if soft is None or soft.alg != SOFT_BINDING_ALG:
        raise _Refused(422, f"the manifest declares no {SOFT_BINDING_ALG} soft binding (this repository's key)")
    if not _HEX12.fullmatch(soft.value) or soft.value != soft.value.lower():
        raise _Refused(422, "the manifest's soft binding value is not a content ID (12 lowercase hex digits)")
    if claimed is not None and claimed != soft.value:
        raise _Refused(422, "value is not the soft binding the manifest declares")
    detached = validate_detached(data, b"", mime="video/mp4", trust=anchors, content_id=soft.value)
    if detached.status not in (RecoveryStatus.RECOVERED, RecoveryStatus.RECOVERED_UNTRUSTED):
        reasons = ", ".join(sorted(r.value for r in detached.reasons)) or "none"
        raise _Refused(422, f"the manifest does not validate ({detached.status.value}; reasons: {reasons})")
    return soft.value, finding.signer_subject or "unknown", detached.status is RecoveryStatus.RECOVERED


async def add_manifest(request: Request) -> Response:
    """POST /manifests?assetSha256=[&alg=&value=]: add a manifest store (the body) to the repository."""
    request.state.route = "/manifests"
    svc = _state(request)
    denied = _authorize(request, svc)
    if denied is not None:
        return denied
    query = request.query_params
    try:
        sha256 = _param(query, "assetSha256", required=True)
        assert sha256 is not None
        if not _SHA256.fullmatch(sha256):
            raise _Refused(400, "assetSha256 must be the signed file's sha256: 64 hex digits")
        alg = _param(query, "alg")
        if alg is not None:
            _check_alg(alg)
        value = _param(query, "value")
        claimed = None if value is None else _content_id(value)
        if _media_type(request) not in ("", C2PA_MEDIA_TYPE, "application/octet-stream"):
            raise _Refused(415, f"the body is a C2PA manifest store: Content-Type: {C2PA_MEDIA_TYPE}")
    except _Refused as exc:
        return error(exc.status, str(exc), {"Connection": "close"})
    received = await receive_or_error(request, svc, _small_limits(svc, MAX_MANIFEST_BYTES))
    if isinstance(received, Response):
        return received
    try:
        data = received.read_bytes()
    finally:
        received.unlink(missing_ok=True)
    repo = _repository(svc)
    try:
        content_id, signer, trusted = await repo.run(validate_manifest, data, repo.anchors(), claimed)
        record = ManifestRecord.from_manifest(data, content_id=content_id, signer=signer, asset_sha256=sha256.lower())
    except _Refused as exc:
        return error(exc.status, str(exc))
    except ValueError as exc:
        return error(400, str(exc))

    def write(store: ManifestStore) -> bool | None:
        """True: added; False: already there, identical; None: another record has this id."""
        try:
            return store.put(record)
        except StoreError:
            if store.get(record.manifest_id) is not None:
                return None
            raise

    try:
        created = await repo.call(write)
    except StoreError as exc:
        return _store_failed(exc)
    if created is None:
        return error(409, f"manifest {record.manifest_id} is already stored with different content")
    location = "/manifests/" + quote(record.manifest_id, safe=":")
    log.info("manifest %s added for content ID %s (signer %r)", record.manifest_id, content_id, signer)
    body = {
        "manifestId": record.manifest_id,
        "alg": SOFT_BINDING_ALG,
        "value": encode_value(content_id),
        "contentId": content_id,
        "signer": signer,
        "signerTrusted": trusted,
        "created": bool(created),
    }
    return JSONResponse(body, status_code=201 if created else 200, headers={"Location": location})


def routes() -> list[BaseRoute]:
    return [
        Route("/matches/byBinding", by_binding, methods=["GET", "POST"]),
        Route("/matches/byContent", by_content, methods=["POST"]),
        Route("/manifests", add_manifest, methods=["POST"]),
        Route("/manifests/{manifest_id}", get_manifest, methods=["GET"]),
        Route("/services/supportedAlgorithms", supported_algorithms, methods=["GET"]),
    ]
