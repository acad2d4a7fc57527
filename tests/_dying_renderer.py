"""A renderer whose render process dies after a few frames (importable by the render worker child)."""

from __future__ import annotations

import os

from models import FaceRenderer


class DyingRenderer:
    def __init__(self, image, *, size, framing, frames_before_death=5):
        self.inner = FaceRenderer(image, size=size, framing=framing)
        self.frame_size = self.inner.frame_size
        self.left = frames_before_death
        self.parent = os.getpid()

    def render(self, m):
        if os.getpid() != self.parent:  # only in the child: a crash in native code looks like this
            self.left -= 1
            if self.left < 0:
                os._exit(70)
        return self.inner.render(m)
