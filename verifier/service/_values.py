"""The Soft Binding Resolution API's value of our watermark's content ID: the base64 of its 12 hex digits."""

from __future__ import annotations

import base64
import binascii
import re

_HEX12 = re.compile(r"[0-9a-fA-F]{12}")


def encode_value(content_id: str) -> str:
    """The API value of a content ID: the base64 of its 12 hex digits."""
    return base64.b64encode(content_id.encode("ascii")).decode("ascii")


def parse_value(text: str) -> str | None:
    """The content ID (12 lowercase hex digits) an API value names, or None if it is not one."""
    s = text.strip()
    if _HEX12.fullmatch(s):
        return s.lower()
    b64 = s.replace(" ", "+").replace("-", "+").replace("_", "/")  # '+' arrives as ' ' from an unencoded query
    b64 += "=" * (-len(b64) % 4)
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        decoded = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return decoded.lower() if _HEX12.fullmatch(decoded) else None
