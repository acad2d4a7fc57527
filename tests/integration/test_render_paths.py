"""The render stage gives the same video whichever way it runs: in a child process (the default), in this process
(``pipelined=False``), or in a thread for a renderer that cannot be sent to a child."""

import av
import numpy as np
import pytest

from models import FaceRenderer
from sdk import Generator


class _Unpicklable:
    """A renderer holding a lambda: it cannot travel to a child process."""

    def __init__(self, image, *, size, framing):
        self.inner = FaceRenderer(image, size=size, framing=framing)
        self.frame_size = self.inner.frame_size
        self.hook = lambda frame: frame

    def render(self, m):
        return self.hook(self.inner.render(m))


def _frames(path):
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(np.float64)


def test_child_process_in_process_and_thread_paths_agree(tmp_path, portrait_path, short_speech):
    runs = {
        "child": Generator(size=256),
        "serial": Generator(size=256, pipelined=False),
        "thread": Generator(size=256, renderer=_Unpicklable),
    }
    frames = {}
    for name, gen in runs.items():
        result = gen.render(portrait_path, short_speech, output=tmp_path / f"{name}.mp4", seed=3)
        assert result.verdict in ("verified", "signed_untrusted")
        frames[name] = _frames(result.path)
    for name in ("serial", "thread"):
        # Only the per-render watermarks (different content IDs) separate them.
        mse = np.mean((frames["child"] - frames[name]) ** 2)
        assert 10 * np.log10(255.0**2 / mse) > 36, name  # two independent ~42 dB marks (V + Y, mark v2)


def test_a_portrait_rendered_again_reuses_its_prepared_renderer(tmp_path, portrait_path, short_speech):
    from models import load_image

    gen = Generator(size=256)
    gen.render(portrait_path, short_speech, output=tmp_path / "a.mp4", seed=1)
    (first,) = gen._renderers.values()
    pixels = load_image(portrait_path)
    gen.render(pixels, short_speech, output=tmp_path / "b.mp4", seed=1)  # same pixels, given as an array
    assert list(gen._renderers.values()) == [first]
    gen.render(pixels[:, ::-1].copy(), short_speech, output=tmp_path / "c.mp4", seed=1)  # another portrait
    assert len(gen._renderers) == 2 and first in gen._renderers.values()


def test_a_render_worker_that_dies_is_a_render_error_and_writes_nothing(tmp_path, portrait_path, short_speech):
    from sdk import RenderError
    from tests._dying_renderer import DyingRenderer

    gen = Generator(size=256, renderer=DyingRenderer)
    with pytest.raises(RenderError, match="exited"):
        gen.render(portrait_path, short_speech, output=tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("interpreter", ["/nonexistent/python", "/bin/false"])
def test_without_a_usable_worker_process_the_render_runs_here(
    tmp_path, portrait_path, short_speech, monkeypatch, interpreter
):
    import sys

    monkeypatch.setattr(sys, "executable", interpreter)  # cannot spawn / the child exits at once
    result = Generator(size=256).render(portrait_path, short_speech, output=tmp_path / "x.mp4", seed=3)
    assert result.verdict in ("verified", "signed_untrusted") and result.frame_count == 50
