"""Import mediapipe without paying for its drawing helpers' matplotlib (~0.3 s of a cold render).

mediapipe's package ``__init__`` imports ``solutions.drawing_utils``, which imports ``matplotlib.pyplot`` at module
level for a plotting function the landmarker never calls. While mediapipe is being imported, ``matplotlib`` and
``matplotlib.pyplot`` are stood in for by deferred modules that import the real ones on first attribute access;
they leave ``sys.modules`` as soon as mediapipe is in, so every later ``import matplotlib`` gets the real package,
and drawing_utils' own ``plt`` still works (it loads pyplot when first used). Where matplotlib is already loaded,
this is a plain import.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

__all__ = ["import_mediapipe"]

_DEFERRED = ("matplotlib", "matplotlib.pyplot")
_lock = threading.Lock()


class _Deferred(types.ModuleType):
    """A module that imports the real one of the same name on first attribute access and forwards to it."""

    def __getattr__(self, attr: str) -> Any:
        real = self.__dict__.get("_real")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__["_real"] = real
        return getattr(real, attr)


def import_mediapipe() -> types.ModuleType:
    """``import mediapipe``, with matplotlib deferred (see the module docstring)."""
    with _lock:
        if "mediapipe" in sys.modules or any(name in sys.modules for name in _DEFERRED):
            return importlib.import_module("mediapipe")
        stand_ins = {name: _Deferred(name) for name in _DEFERRED}
        stand_ins["matplotlib"].__dict__["pyplot"] = stand_ins["matplotlib.pyplot"]  # `import matplotlib.pyplot`
        sys.modules.update(stand_ins)
        try:
            return importlib.import_module("mediapipe")
        finally:
            for name, module in stand_ins.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
