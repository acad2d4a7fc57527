"""What a service worker process runs per upload: :func:`verifier.verify`, the report named after the upload,
and (for the web page) the thumbnails the manifest carries."""

from __future__ import annotations

import base64
import io
import json
import logging
from pathlib import Path
from typing import Any

from .._verify import verify

log = logging.getLogger(__name__)

MAX_THUMBNAILS = 8
MAX_THUMBNAIL_BYTES = 1 << 20
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


def verify_upload(
    path: str, *, filename: str = "upload", thumbnails: bool = False, **verify_kwargs: Any
) -> dict[str, Any]:
    """The report dict for the spooled upload at ``path``; with ``thumbnails``: ``{"report", "thumbnails"}``."""
    report = verify(path, **verify_kwargs).to_dict()
    report["source"] = filename
    if not thumbnails:
        return report
    found: list[dict[str, str]] = []
    if report["c2pa"]["present"]:
        try:
            found = manifest_thumbnails(Path(path), report["media"].get("mime"))
        except Exception as exc:  # a thumbnail is a nicety: never fail the verification for it
            log.info("thumbnails unreadable: %r", exc)
    return {"report": report, "thumbnails": found}


def manifest_thumbnails(path: Path, mime: str | None) -> list[dict[str, str]]:
    """The claim and ingredient thumbnails of the active manifest, as data URIs (images only, bounded)."""
    import c2pa

    from provenance import _c2pa_context

    out: list[dict[str, str]] = []
    with path.open("rb") as stream, _c2pa_context.context(None) as ctx:
        reader = c2pa.Reader.try_create(mime or "video/mp4", stream, None, ctx)
        if reader is None:
            return out
        with reader:
            store = json.loads(reader.json())
            manifest = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
            wanted = [("the signed asset", manifest.get("thumbnail"))]
            for ing in manifest.get("ingredients") or []:
                wanted.append((f"ingredient: {ing.get('title') or 'untitled'}", ing.get("thumbnail")))
            for label, ref in wanted:
                if len(out) >= MAX_THUMBNAILS:
                    break
                if not isinstance(ref, dict) or ref.get("format") not in _IMAGE_TYPES or not ref.get("identifier"):
                    continue
                buf = io.BytesIO()
                reader.resource_to_stream(ref["identifier"], buf)
                data = buf.getvalue()
                if 0 < len(data) <= MAX_THUMBNAIL_BYTES:
                    uri = f"data:{ref['format']};base64,{base64.b64encode(data).decode('ascii')}"
                    out.append({"label": label, "mime": ref["format"], "data_uri": uri})
    return out
