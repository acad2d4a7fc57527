"""Synthetic training corpus for the motion network (espeak-ng speech, visemes, prosody-driven head motion).

``python -m models.motion.corpus --clips 600 --seed 0 --out /tmp/corpus.npz`` writes features and motion targets.
See ``build.py`` for what a clip contains and ``visemes.py`` for the mouth targets.

Names load on first use (PEP 562): inference imports ``visemes`` alone (the phone -> mouth mapping), without the
corpus builder's scipy stack (about 1 s of import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_getattr

if TYPE_CHECKING:
    from .build import build_corpus, make_clip
    from .espeak import synthesize

_SOURCES = {"build_corpus": ".build", "make_clip": ".build", "synthesize": ".espeak"}

__all__ = ["build_corpus", "make_clip", "synthesize"]


__getattr__ = lazy_getattr(__name__, _SOURCES)
