"""Synthetic training corpus for the motion network (espeak-ng speech, visemes, prosody-driven head motion).

``python -m models.corpus --clips 600 --seed 0 --out /tmp/corpus.npz`` writes features and motion targets.
See ``build.py`` for what a clip contains and ``visemes.py`` for the mouth targets.
"""

from .build import build_corpus, make_clip
from .espeak import synthesize

__all__ = ["build_corpus", "make_clip", "synthesize"]
