"""Audio and video stay in sync for 10 minutes, AAC priming included: a click at every whole second of audio must
decode at the same time as a white frame at every whole second of video."""

import av
import numpy as np
import pytest

from sdk._encode import Mp4Writer


@pytest.mark.slow
def test_no_drift_over_ten_minutes(tmp_path):
    seconds, rate, fps = 600, 48_000, 25
    audio = np.zeros(seconds * rate, np.float32)
    for s in range(seconds):
        audio[s * rate : s * rate + 240] = 0.8
    path = tmp_path / "sync.mp4"
    black, white = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)
    with Mp4Writer(path, width=64, height=64, fps=fps, audio=audio) as w:
        for i in range(seconds * fps):
            w.write(white if i % fps == 0 else black)

    with av.open(str(path)) as c:
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(c.streams.audio[0])])
    with av.open(str(path)) as c:
        flashes = np.array(
            [float(f.time) for f in c.decode(c.streams.video[0]) if f.to_ndarray(format="gray").mean() > 128]
        )
    above = np.abs(pcm) > 0.3
    clicks = np.flatnonzero(np.concatenate([[above[0]], above[1:] & ~above[:-1]])) / rate

    assert len(clicks) == len(flashes) == seconds
    # Priming handled (the MP4 edit list skips it): every click within a sample or two of its flash.
    assert np.max(np.abs(clicks - flashes)) < 1 / fps / 4
    assert abs(clicks[-1] - (seconds - 1)) < 1e-3
    assert abs(pcm.size / rate - seconds) < 1 / fps  # durations equal within one frame
