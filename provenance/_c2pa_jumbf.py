"""Minimal JUMBF (ISO/IEC 19566-5) reading: the manifest labels of a C2PA manifest store.

Only box headers and description labels are parsed; nothing here validates anything. The label of the last
manifest in the store is the active manifest's id (``urn:c2pa:...``), which keys the manifest store.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from provenance.errors import ManifestError

_C2PA_STORE_UUID = bytes.fromhex("6332706100110010800000aa00389b71")  # "c2pa"
_C2PA_MANIFEST_UUIDS = {
    bytes.fromhex("63326d6100110010800000aa00389b71"),  # "c2ma": standard manifest
    bytes.fromhex("6332756d00110010800000aa00389b71"),  # "c2um": update manifest
}


def _spans(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, box_type = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise ManifestError("truncated JUMBF box header")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ManifestError("JUMBF box size out of range")
        yield box_type, pos, pos + header, pos + size
        pos += size


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in data[start:end]."""
    for box_type, _, p0, p1 in _spans(data, start, end):
        yield box_type, p0, p1


def _description(data: bytes, start: int, end: int) -> tuple[bytes, str | None]:
    """UUID and label of the superbox whose payload is data[start:end] (its first child is ``jumd``)."""
    for box_type, p0, p1 in _boxes(data, start, end):
        if box_type != b"jumd" or p1 - p0 < 17:
            break
        uuid, toggles = data[p0 : p0 + 16], data[p0 + 16]
        label = None
        if toggles & 0x02:
            nul = data.find(b"\x00", p0 + 17, p1)
            if nul < 0:
                raise ManifestError("unterminated JUMBF label")
            label = data[p0 + 17 : nul].decode("utf-8", errors="strict")
        return uuid, label
    raise ManifestError("JUMBF superbox without a description box")


def manifest_labels(store: bytes) -> list[str]:
    """Labels of the manifests in a C2PA manifest store, in order (the active manifest is last)."""
    data = bytes(store)
    try:
        top = next(_boxes(data, 0, len(data)), None)
        if top is None or top[0] != b"jumb":
            raise ManifestError("not a JUMBF manifest store")
        uuid, _ = _description(data, top[1], top[2])
        if uuid != _C2PA_STORE_UUID:
            raise ManifestError("JUMBF box is not a C2PA manifest store")
        labels = []
        for box_type, p0, p1 in _boxes(data, top[1], top[2]):
            if box_type != b"jumb":
                continue
            uuid, label = _description(data, p0, p1)
            if uuid in _C2PA_MANIFEST_UUIDS and label:
                labels.append(label)
    except (struct.error, UnicodeDecodeError) as exc:
        raise ManifestError("damaged JUMBF manifest store") from exc
    if not labels:
        raise ManifestError("the manifest store holds no manifest")
    return labels


def active_manifest_label(store: bytes) -> str:
    """The id (``urn:c2pa:<uuid>``) of the active manifest of a store: the last one."""
    return manifest_labels(store)[-1]


def active_manifest_only(store: bytes) -> bytes:
    """A C2PA manifest store (JUMBF) holding only the active (last) manifest of ``store``; ``store`` itself when it
    holds one. Raises :class:`ManifestError` if ``store`` is not a JUMBF superbox."""
    data = bytes(store)
    top = list(_spans(data, 0, len(data)))
    if not top or top[0][0] != b"jumb":
        raise ManifestError("not a JUMBF manifest store")
    _, _, payload, end = top[0]
    children = list(_spans(data, payload, end))
    if not children or children[0][0] != b"jumd":
        raise ManifestError("JUMBF superbox without a description box")
    manifests = [c for c in children[1:] if c[0] == b"jumb"]
    if len(manifests) <= 1:
        return data
    description, last = children[0], manifests[-1]
    body = data[description[1] : description[3]] + data[last[1] : last[3]]
    return struct.pack(">I4s", 8 + len(body), b"jumb") + body
