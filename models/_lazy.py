"""Public names that load on first use (PEP 562), for package ``__init__`` modules that must stay cheap to import
(the render worker process imports ``sdk`` and ``models.face.renderer`` without the onnxruntime, c2pa and scipy
stacks)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, sources: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``name`` is imported from ``sources[name]`` (a module, relative to
    ``package`` when it starts with a dot) the first time it is asked for, then kept in the package's namespace."""

    def __getattr__(name: str) -> Any:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source, package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
