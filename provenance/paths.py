"""Per-user directories of dirfa: configuration (signing keys) and data (the manifest store).

``DIRFA_HOME`` overrides both (tests point it at a temporary directory): ``$DIRFA_HOME/config`` and
``$DIRFA_HOME/data``. Otherwise the XDG base directories are used: ``$XDG_CONFIG_HOME/dirfa`` (default
``~/.config/dirfa``) and ``$XDG_DATA_HOME/dirfa`` (default ``~/.local/share/dirfa``).

The functions only compute paths; callers create the directories they write to (``ensure_private_dir``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["config_dir", "data_dir", "dev_keys_dir", "ensure_private_dir"]

_APP = "dirfa"


def _home_override() -> Path | None:
    value = os.environ.get("DIRFA_HOME")
    return Path(value).expanduser() if value else None


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    # The XDG spec says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_dir() -> Path:
    """Directory for configuration and signing credentials."""
    home = _home_override()
    if home is not None:
        return home / "config"
    return _xdg("XDG_CONFIG_HOME", ".config") / _APP


def data_dir() -> Path:
    """Directory for data: the default SQLite manifest store lives here."""
    home = _home_override()
    if home is not None:
        return home / "data"
    return _xdg("XDG_DATA_HOME", ".local/share") / _APP


def dev_keys_dir() -> Path:
    """Where :func:`provenance.signing.dev_identity` keeps the development credentials."""
    return config_dir() / "keys" / "dev"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 for the leaf directory; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
