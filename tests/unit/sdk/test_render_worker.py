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
