"""The C2PA Soft Binding Resolution API (``verifier.service.softbinding``) over real HTTP: uvicorn on a loopback port,
real worker processes, a real signed render, against a SQLite store and a throwaway PostgreSQL server.

One server per store backend for the whole module (plus one without an API key for the writes-disabled case); the
manifest is added once per server, through the API, by the ``added`` fixture.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import struct
from urllib.parse import quote

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from provenance.manifest import SOFT_BINDING_ALG  # noqa: E402
from provenance.signing import dev_identity  # noqa: E402
from provenance.store import open_store  # noqa: E402
from tests._postgres import fresh_database, postgres_server  # noqa: E402
from tests._service import serve  # noqa: E402
from verifier import Limits  # noqa: E402
from verifier.service import ServiceConfig, UploadLimits  # noqa: E402
from verifier.service.softbinding import (  # noqa: E402
    MAX_MANIFEST_BYTES,
    active_manifest_only,
    content_values,
    encode_value,
    parse_value,
)

API_KEY = "sb-test-key-7f3c9a"
ALG = SOFT_BINDING_ALG
BACKENDS = ["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.system("postgresql")])]


def _config(store: str | None, api_key: str | None) -> ServiceConfig:
    return ServiceConfig(
        store=store, api_key=api_key, workers=1, trust_pem=dev_identity().root_pem,
        limits=Limits(max_bytes=50_000_000), upload=UploadLimits(max_bytes=50_000_000, idle_timeout_s=2.0),
    )  # fmt: skip


@pytest.fixture(scope="module")
def pg_server():
    with postgres_server() as url:
        yield url


class Api(httpx.Client):
    """A client of one running server, and the URL of the store behind it (to check what was written)."""

    def __init__(self, base_url: str, store_url: str) -> None:
        super().__init__(base_url=base_url, timeout=120)
        self.store_url = store_url


@pytest.fixture(scope="module", params=BACKENDS)
def api(request, tmp_path_factory):
    if request.param == "sqlite":
        store = f"sqlite:///{tmp_path_factory.mktemp('softbinding')}/manifests.db"
    else:
        store = fresh_database(request.getfixturevalue("pg_server"))
    with serve(_config(store, API_KEY)) as running, Api(running.url, store) as client:
        yield client


@pytest.fixture(scope="module")
def read_only(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('softbinding-ro')}/manifests.db"
    with serve(_config(store, None)) as running, Api(running.url, store) as client:
        yield client


@pytest.fixture(scope="module")
def signed(rendered):
    """The render's manifest store bytes (as the SDK recorded them in its default store), content ID and sha256."""
    with open_store(None) as store:
        record = store.get(rendered.manifest.manifest_id)
    assert record is not None and record.content_id == rendered.content_id
    data = rendered.path.read_bytes()
    return {
        "path": rendered.path,
        "bytes": data,
        "manifest": record.manifest_bytes,
        "manifest_id": record.manifest_id,
        "content_id": rendered.content_id,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@pytest.fixture(scope="module")
def transcoded(signed):
    """The render re-encoded frame by frame with PyAV (H.264 CRF 23, no audio): its manifest is gone."""
    import av

    out = io.BytesIO()
    with av.open(str(signed["path"])) as src, av.open(out, "w", format="mp4") as dst:
        vin = src.streams.video[0]
        stream = dst.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for frame in src.decode(vin):
            rgb = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            dst.mux(stream.encode(rgb))
        dst.mux(stream.encode())
    data = out.getvalue()
    assert data != signed["bytes"] and signed["manifest"][:64] not in data
    return data


def _add(client, manifest: bytes, sha256: str, *, key: str | None = API_KEY, params: dict | None = None):
    headers = {"Content-Type": "application/c2pa"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return client.post("/manifests", params={"assetSha256": sha256, **(params or {})}, content=manifest,
                       headers=headers)  # fmt: skip


@pytest.fixture(scope="module")
def added(api, signed):
    resp = _add(api, signed["manifest"], signed["sha256"])
    assert resp.status_code == 201, resp.text
    return resp


def _json_error(resp, status: int) -> str:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]
    return body["error"]


# -- writes ---------------------------------------------------------------------------------------------------------


def test_adding_a_manifest_needs_the_key_and_reads_the_binding_from_the_manifest(api, added, signed):
    body = added.json()
    assert body == {
        "manifestId": signed["manifest_id"], "alg": ALG, "value": encode_value(signed["content_id"]),
        "contentId": signed["content_id"], "signer": body["signer"], "signerTrusted": True, "created": True,
    }  # fmt: skip
    assert added.headers["location"] == "/manifests/" + quote(signed["manifest_id"], safe=":")
    same = {"alg": ALG, "value": encode_value(signed["content_id"])}
    again = _add(api, signed["manifest"], signed["sha256"], params=same)
    assert again.status_code == 200 and again.json()["created"] is False  # idempotent
    # the same manifest id with different content (another asset hash) is a conflict, not an overwrite
    _json_error(_add(api, signed["manifest"], "0" * 64), 409)
    with open_store(api.store_url) as store:
        assert store.count() == 1
        stored = store.get(signed["manifest_id"])
    assert stored.manifest_bytes == signed["manifest"] and stored.asset_sha256 == signed["sha256"]


def test_writes_without_the_right_key_are_401_before_the_body_is_read(api, signed):
    missing = _add(api, signed["manifest"], signed["sha256"], key=None)
    assert "Bearer" in _json_error(missing, 401) and missing.headers["www-authenticate"].startswith("Bearer")
    wrong = _add(api, signed["manifest"], signed["sha256"], key=API_KEY + "x")
    error = _json_error(wrong, 401)
    assert API_KEY not in error and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    basic_auth = {"Authorization": "Basic " + base64.b64encode(f"x:{API_KEY}".encode()).decode()}
    basic = api.post("/manifests", params={"assetSha256": signed["sha256"]}, content=signed["manifest"],
                     headers=basic_auth)  # fmt: skip
    _json_error(basic, 401)
    # refused from the headers: a declared 1 GB body is never waited for
    status, body = _headers_only(api, "/manifests?assetSha256=" + "0" * 64, 1 << 30, {})
    assert status == 401 and body["status"] == 401


def test_writes_are_403_when_the_service_has_no_key(read_only, signed):
    _json_error(_add(read_only, signed["manifest"], signed["sha256"]), 403)
    _json_error(_add(read_only, signed["manifest"], signed["sha256"], key=None), 403)


def test_a_manifest_that_does_not_validate_is_refused(api, signed):
    cid = signed["content_id"].encode()
    assert signed["manifest"].count(cid) >= 1
    forged = signed["manifest"].replace(cid, b"0123456789ab")  # an assertion changed after signing
    assert "does not validate" in _json_error(_add(api, forged, signed["sha256"]), 422)
    _json_error(_add(api, b"\x00not a manifest store" * 10, signed["sha256"]), 400)
    # the value given must be the one the manifest declares
    claimed = {"value": encode_value("000000000000")}
    assert "declares" in _json_error(_add(api, signed["manifest"], signed["sha256"], params=claimed), 422)
    with open_store(api.store_url) as store:
        assert store.find_by_binding(ALG, "0123456789ab") == [] and store.find_by_binding(ALG, "000000000000") == []


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({}, {}, 400),  # no assetSha256
        ({"assetSha256": "abc"}, {}, 400),
        ({"assetSha256": "0" * 64, "alg": "com.example.other"}, {}, 400),
        ({"assetSha256": "0" * 64, "value": "!!"}, {}, 400),
        ({"assetSha256": "0" * 64}, {"Content-Type": "text/plain"}, 415),
    ],
)
def test_bad_write_requests_get_json_4xx(api, signed, params, headers, status):
    resp = api.post("/manifests", params=params, content=signed["manifest"],
                    headers={"Authorization": f"Bearer {API_KEY}", **headers})  # fmt: skip
    _json_error(resp, status)


def test_an_oversized_manifest_is_refused_from_its_declared_length(api):
    status, body = _headers_only(
        api, "/manifests?assetSha256=" + "0" * 64, MAX_MANIFEST_BYTES + 1, {"Authorization": f"Bearer {API_KEY}"}
    )
    assert status == 413 and body["status"] == 413


# -- reads ----------------------------------------------------------------------------------------------------------


def test_by_binding_finds_the_manifest_by_the_watermark_content_id(api, added, signed):
    want = {"matches": [{"manifestId": signed["manifest_id"], "similarityScore": 100}]}
    cid = signed["content_id"]
    for value in (encode_value(cid), encode_value(cid).rstrip("="), cid, cid.upper()):
        resp = api.get("/matches/byBinding", params={"alg": ALG, "value": value})
        assert resp.status_code == 200 and resp.json() == want, value
    posted = api.post("/matches/byBinding", json={"alg": ALG, "value": encode_value(cid)})
    assert posted.status_code == 200 and posted.json() == want
    assert api.get("/matches/byBinding", params={"alg": ALG, "value": cid, "maxResults": "1"}).json() == want


def test_an_unknown_value_is_an_empty_match_list(api, added):
    for value in (encode_value("000000000000"), "ffffffffffff"):
        resp = api.get("/matches/byBinding", params={"alg": ALG, "value": value})
        assert resp.status_code == 200 and resp.json() == {"matches": []}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"value": "MDEyMzQ1Njc4OWFi"}, 400),  # no alg
        ({"alg": ALG}, 400),  # no value
        ({"alg": ALG, "value": "not base64!"}, 400),
        ({"alg": ALG, "value": base64.b64encode(b"0123456789").decode()}, 400),  # base64, but not 12 hex digits
        ({"alg": "com.adobe.trustmark.Q", "value": "MDEyMzQ1Njc4OWFi"}, 400),
        ({"alg": ALG, "value": "MDEyMzQ1Njc4OWFi", "maxResults": "0"}, 400),
        ({"alg": ALG, "value": "MDEyMzQ1Njc4OWFi", "maxResults": "ten"}, 400),
        ({"alg": ALG, "value": "MDEyMzQ1Njc4OWFi", "maxResults": "\u00b2"}, 400),  # a digit, but not 0-9
        ({"alg": ALG, "value": "A" * 3000}, 414),
    ],
)
def test_bad_binding_queries_get_json_4xx(api, params, status):
    _json_error(api.get("/matches/byBinding", params=params), status)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe{", b"[]", b"[" * 50_000, json.dumps({"alg": ALG}).encode(),
     json.dumps({"alg": ALG, "value": 12}).encode()],
)  # fmt: skip
def test_bad_binding_bodies_get_json_400(api, body):
    _json_error(api.post("/matches/byBinding", content=body, headers={"Content-Type": "application/json"}), 400)


def test_an_oversized_json_query_is_413(api):
    body = json.dumps({"alg": ALG, "value": "MDEyMzQ1Njc4OWFi", "pad": "x" * 70_000}).encode()
    _json_error(api.post("/matches/byBinding", content=body, headers={"Content-Type": "application/json"}), 413)


def test_the_manifest_is_fetched_by_id_byte_for_byte(api, added, signed):
    mid = signed["manifest_id"]
    for path in (f"/manifests/{mid}", "/manifests/" + quote(mid, safe="")):
        resp = api.get(path)
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/c2pa"
        assert resp.content == signed["manifest"]
    # one manifest in the store: the active manifest alone is the same store
    active = api.get(f"/manifests/{mid}", params={"returnActiveManifest": "true"})
    assert active.status_code == 200 and active.content == signed["manifest"]
    assert api.get(f"/manifests/{mid}", params={"returnActiveManifest": "false"}).content == signed["manifest"]
    _json_error(api.get(f"/manifests/{mid}", params={"returnActiveManifest": "maybe"}), 400)
    _json_error(api.get("/manifests/urn:c2pa:00000000-0000-4000-8000-000000000000"), 404)
    _json_error(api.get("/manifests/not-a-manifest-id"), 400)


def test_supported_algorithms(api):
    resp = api.get("/services/supportedAlgorithms")
    assert resp.status_code == 200 and resp.json() == {"watermarks": [{"alg": ALG}], "fingerprints": []}


def test_by_content_finds_the_manifest_from_the_video_and_from_a_transcoded_copy(api, added, signed, transcoded):
    want = {"matches": [{"manifestId": signed["manifest_id"], "similarityScore": 100}]}
    for body, ctype in ((signed["bytes"], "video/mp4"), (transcoded, "video/mp4"), (transcoded, None)):
        headers = {"Content-Type": ctype} if ctype else {}
        resp = api.post("/matches/byContent", params={"alg": ALG}, content=body, headers=headers)
        assert resp.status_code == 200 and resp.json() == want, resp.text
    # the copy really lost its manifest: what /verify sees
    report = api.post("/verify?mode=fast", content=transcoded).json()
    assert report["c2pa"]["present"] is False and report["watermark"]["content_id"] == signed["content_id"]


def test_by_content_of_an_unmarked_video_is_an_empty_match_list(api, tmp_path):
    from provenance._c2pa_samples import make_mp4

    video = make_mp4(tmp_path / "plain.mp4", seconds=1.0, size=96, audio=False).read_bytes()
    resp = api.post("/matches/byContent", content=video, headers={"Content-Type": "video/mp4"})
    assert resp.status_code == 200 and resp.json() == {"matches": []}


def test_bad_content_queries_get_json_4xx(api):
    _json_error(api.post("/matches/byContent", content=b"\x00garbage" * 1000), 415)
    _json_error(api.post("/matches/byContent", content=b"hello", headers={"Content-Type": "text/plain"}), 415)
    _json_error(api.post("/matches/byContent", params={"alg": "com.example.fp"}, content=b"x"), 400)
    _json_error(api.post("/matches/byContent", params={"hintAlg": ALG}, content=b"x"), 400)
    _json_error(api.post("/matches/byContent", params={"maxResults": "-1"}, content=b"x"), 400)
    status, body = _headers_only(api, "/matches/byContent", 60_000_000, {"Content-Type": "video/mp4"})
    assert status == 413 and body["status"] == 413
    _json_error(api.get("/matches/byContent"), 405)
    _json_error(api.post("/matches/byReference", json={"referenceUrl": "https://example.com/a.mp4"}), 404)


@pytest.mark.postgres
@pytest.mark.system("postgresql")
@pytest.mark.parametrize("api", ["postgresql"], indirect=True)  # the module's PostgreSQL server, not another
def test_a_dropped_database_connection_costs_at_most_one_request(api, added, signed):
    import psycopg

    with psycopg.connect(api.store_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    params = {"alg": ALG, "value": signed["content_id"]}
    first = api.get("/matches/byBinding", params=params)
    assert first.status_code in (200, 500)
    if first.status_code == 500:
        assert first.json()["error"] == "the manifest store is unavailable"  # no DSN, no driver detail
    second = api.get("/matches/byBinding", params=params)
    assert second.status_code == 200 and second.json()["matches"][0]["manifestId"] == signed["manifest_id"]


# -- pieces -----------------------------------------------------------------------------------------------------------


def test_value_encoding():
    assert encode_value("3f9a0c12be47") == "M2Y5YTBjMTJiZTQ3"
    assert parse_value("M2Y5YTBjMTJiZTQ3") == parse_value("M2Y5YTBjMTJiZTQ3==") == "3f9a0c12be47"
    assert parse_value("3F9A0C12BE47") == "3f9a0c12be47"
    assert parse_value(base64.b64encode(bytes.fromhex("3f9a0c12be47")).decode()) is None  # raw bytes: not our form
    assert parse_value("") is None and parse_value("M2Y5YTBjMTJiZTQ") is None


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _superbox(uuid_hex: str, label: str, *children: bytes) -> bytes:
    jumd = _box(b"jumd", bytes.fromhex(uuid_hex) + b"\x03" + label.encode() + b"\x00")
    return _box(b"jumb", jumd + b"".join(children))


def test_active_manifest_only_keeps_the_last_manifest():
    from provenance._c2pa_jumbf import manifest_labels

    store_uuid, manifest_uuid = "6332706100110010800000aa00389b71", "63326d6100110010800000aa00389b71"
    one = _superbox(manifest_uuid, "urn:c2pa:one", _box(b"json", b"{}"))
    two = _superbox(manifest_uuid, "urn:c2pa:two", _box(b"json", b"{}"))
    store = _superbox(store_uuid, "c2pa", one, two)
    assert manifest_labels(store) == ["urn:c2pa:one", "urn:c2pa:two"]
    active = active_manifest_only(store)
    assert manifest_labels(active) == ["urn:c2pa:two"] and active.endswith(two)
    single = _superbox(store_uuid, "c2pa", two)
    assert active_manifest_only(single) == single
    from provenance.errors import ManifestError

    with pytest.raises(ManifestError):
        active_manifest_only(b"\x00\x00\x00\x10nope")


def test_content_values_trust_the_watermark_over_a_contradicting_manifest():
    def report(found, cid, status, declared):
        return {"watermark": {"found": found, "content_id": cid},
                "c2pa": {"status": status, "soft_binding_alg": ALG, "soft_binding_value": declared}}  # fmt: skip

    assert content_values(report(True, "aaaaaaaaaaaa", "trusted", "aaaaaaaaaaaa")) == ["aaaaaaaaaaaa"]
    assert content_values(report(True, "aaaaaaaaaaaa", "trusted", "bbbbbbbbbbbb")) == ["aaaaaaaaaaaa"]
    assert content_values(report(False, None, "valid_untrusted", "bbbbbbbbbbbb")) == ["bbbbbbbbbbbb"]
    assert content_values(report(False, None, "invalid", "bbbbbbbbbbbb")) == []
    assert content_values(report(False, None, "absent", None)) == []


def _headers_only(client, path: str, length: int, headers: dict[str, str]):
    """POST with a declared Content-Length and no body at all: the answer must not wait for it."""
    url = httpx.URL(str(client.base_url))
    conn = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Length", str(length))
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()
