"""The C2PA Soft Binding Resolution API over the manifest store (being written: see issue 18)."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
