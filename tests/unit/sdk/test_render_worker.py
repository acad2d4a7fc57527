"""The render stage in a child process gives exactly the in-process frames, and its failures surface typed."""

import numpy as np
import pytest

from models import FaceRenderer
from sdk._render_worker import RenderWorkerError, picklable, render_in_subprocess


@pytest.fixture(scope="module")
def renderer(portrait_path):
    return FaceRenderer(portrait_path, size=256)


def motion(renderer, n=6):
    m = np.tile(renderer.neutral_motion(), (n, 1))
    m[:, 0] = np.linspace(0.0, 0.3, n)  # jaw_open
    m[:, 12] = np.linspace(-8, 8, n)  # head_yaw
    return m


def test_same_frames_as_in_process(renderer):
    m = motion(renderer)
    assert picklable(renderer)
    child = list(render_in_subprocess(renderer, m))
    assert len(child) == len(m)
    for got, row in zip(child, m, strict=True):
        assert got.dtype == np.uint8 and np.array_equal(got, renderer.render(row))
    assert child[0].flags.writeable


def test_child_failure_is_raised(renderer):
    bad = np.zeros((3, 5), np.float32)  # wrong motion width: render() raises in the child
    with pytest.raises(RenderWorkerError):
        list(render_in_subprocess(renderer, bad))


def test_consumer_stopping_early_ends_the_child(renderer):
    frames = render_in_subprocess(renderer, motion(renderer, 50))
    next(frames)
    frames.close()  # the generator's finally kills and reaps the child


def _ring_files():
    import glob
    import tempfile

    return glob.glob("/dev/shm/dirfa-ring-*") + glob.glob(f"{tempfile.gettempdir()}/dirfa-ring-*")


def test_motion_in_chunks_gives_the_same_frames_and_leaves_no_ring_file(renderer):
    from sdk._render_worker import RenderProcess

    m = motion(renderer, 13)
    with RenderProcess() as proc:
        assert proc.start(renderer)
        assert proc.ready() == (renderer.frame_size, "FaceRenderer")
        chunked = list(proc.frames(iter([m[:5], m[5:6], m[6:]])))
    assert len(chunked) == 13
    for got, row in zip(chunked, m, strict=True):
        assert np.array_equal(got, renderer.render(row))
    assert not _ring_files()


def test_a_failing_motion_producer_surfaces(renderer):
    from sdk._render_worker import RenderProcess

    def chunks():
        yield motion(renderer, 3)
        raise RuntimeError("motion failed")

    with RenderProcess() as proc, pytest.raises(RuntimeError, match="motion failed"):
        assert proc.start(renderer)
        list(proc.frames(chunks()))


def test_a_renderer_that_does_not_pickle_is_refused(renderer):
    from sdk._render_worker import RenderProcess

    class Local:  # a local class does not pickle
        frame_size = (256, 256)

    with RenderProcess() as proc:
        assert not proc.start(Local())


def test_a_child_killed_mid_stream_is_an_error(renderer):
    from sdk._render_worker import RenderProcess

    with RenderProcess() as proc:
        assert proc.start(renderer)
        frames = proc.frames([motion(renderer, 200)])
        next(frames)
        proc._proc.kill()
        with pytest.raises(RenderWorkerError):
            for _ in frames:
                pass
    assert not _ring_files()
