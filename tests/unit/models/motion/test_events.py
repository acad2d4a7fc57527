import numpy as np

from models.motion import _events
from models.schema import MOTION_INDEX, NUM_MOTION_DIMS

BROW = MOTION_INDEX["brow_raise"]


def jerk(x: np.ndarray) -> float:
    return float(np.mean(np.abs(np.diff(x, n=3))))


def jittery_brows(n=500, seed=0):
    """A faint bump every 2 s (where a network expects emphasis) plus frame-to-frame jitter, like the raw output."""
    rng = np.random.default_rng(seed)
    v = np.zeros((n, NUM_MOTION_DIMS), np.float32)
    for c in range(25, n, 50):
        v[:, BROW] += 0.08 * _events.pulse(n, c, 3.0, 6.0)
    v[:, BROW] += 0.1 + 0.01 * rng.standard_normal(n)
    return v


def test_gaussian_smooth_keeps_constants_and_length_and_cuts_jitter():
    np.testing.assert_allclose(_events.gaussian_smooth(np.full(40, 0.3), 1.5), 0.3)
    x = np.random.default_rng(0).standard_normal(200)
    y = _events.gaussian_smooth(x, 1.0)
    assert y.shape == x.shape and jerk(y) < 0.2 * jerk(x)


def test_prominent_peaks_finds_the_bumps_not_the_jitter():
    base = _events.gaussian_smooth(jittery_brows()[:, BROW], _events.BROW_SIGMA)
    peaks = _events.prominent_peaks(base, _events.BROW_PROMINENCE)
    assert len(peaks) == 10
    assert np.all(np.abs(peaks - np.arange(25, 500, 50)) <= 2)
    assert _events.prominent_peaks(np.array([0.1, 0.2]), 0.01).size == 0


def test_brow_raises_land_on_candidates_smoothly_and_depend_on_the_seed():
    raw = jittery_brows()
    outs = [_events.with_brow_raises(raw.copy(), np.random.default_rng(s))[:, BROW] for s in range(6)]
    for out in outs:
        assert out.min() >= 0 and out.max() <= 1
        assert jerk(out) < 0.5 * jerk(raw[:, BROW])  # smoother than the raw output, despite the raises
        raised = np.flatnonzero(out - _events.gaussian_smooth(raw[:, BROW], _events.BROW_SIGMA) > 0.25)
        # every clearly raised frame lies just after a candidate (rise 2 frames, fall 8)
        assert all(np.min(np.abs(f - np.arange(25, 500, 50) - 4)) <= 10 for f in raised)
    counts = [np.sum(np.diff((out > 0.4).astype(int)) == 1) for out in outs]
    assert max(counts) > 0 and len(set(counts)) > 1  # raises happen, and how many depends on the seed


def test_events_leave_the_mouth_and_head_alone_and_are_seeded():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 0.5, (300, NUM_MOTION_DIMS)).astype(np.float32)
    a = _events.add_events(raw.copy(), 7)
    b = _events.add_events(raw.copy(), 7)
    assert np.array_equal(a, b)
    changed = {MOTION_INDEX[n] for n in ("brow_raise", "gaze_x", "gaze_y", "blink_left", "blink_right")}
    untouched = [i for i in range(NUM_MOTION_DIMS) if i not in changed]
    assert np.array_equal(a[:, untouched], raw[:, untouched])
    assert jerk(a[:, MOTION_INDEX["gaze_x"]]) < 0.5 * jerk(raw[:, MOTION_INDEX["gaze_x"]])
    assert not np.array_equal(a[:, BROW], _events.add_events(raw.copy(), 8)[:, BROW])
