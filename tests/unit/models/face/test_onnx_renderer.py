"""OnnxRenderer: the neural-generator seat, exercised with a tiny randomly initialised generator exported here."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from models.errors import ModelError, NoFaceError
from models.face.onnx_renderer import OnnxRenderer
from models.face.renderer import Renderer
from models.schema import MOTION_INDEX, MOTION_NAMES, NUM_MOTION_DIMS

torch = pytest.importorskip("torch")
# The legacy exporter keeps this test free of onnxscript; its deprecation warnings are not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
onnx = pytest.importorskip("onnx")

SIDE = 64


class TinyGenerator(torch.nn.Module):
    """source (N,3,H,W) + motion (N,D) [+ landmarks] -> frame (N,3,H,W) in [0, 1]."""

    def __init__(self, landmarks: bool = False) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.film = torch.nn.Linear(NUM_MOTION_DIMS, 3)
        self.use_lm = landmarks
        if landmarks:
            self.lm = torch.nn.Linear(3, 3)

    def forward(self, source, motion, source_landmarks=None):
        bias = self.film(motion)[:, :, None, None]
        if self.use_lm:
            bias = bias + self.lm(source_landmarks.mean(dim=1))[:, :, None, None]
        return torch.sigmoid(self.conv(source * 4.0 - 2.0) + bias)


def export(path, *, landmarks=False, names=("source", "motion"), dynamic=True, meta=None, side=SIDE):
    torch.manual_seed(0)
    model = TinyGenerator(landmarks).eval()
    args = [torch.rand(1, 3, side, side), torch.zeros(1, NUM_MOTION_DIMS)]
    input_names = list(names)
    if landmarks:
        args.append(torch.rand(1, 478, 3))
        input_names.append("source_landmarks")
    axes = {n: {0: "n"} for n in [*input_names, "frame"]} if dynamic else None
    if dynamic == "hw":
        axes = {"source": {0: "n", 2: "h", 3: "w"}, "motion": {0: "n"}, "frame": {0: "n", 2: "h", 3: "w"}}
    torch.onnx.export(
        model, tuple(args), str(path), input_names=input_names, output_names=["frame"],
        dynamic_axes=axes, opset_version=17, dynamo=False,
    )  # fmt: skip
    if meta:
        m = onnx.load(str(path))
        for k, v in meta.items():
            m.metadata_props.add(key=k, value=v)
        onnx.save(m, str(path))
    return model


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    model = export(path, meta={"dirfa.contract": "1", "dirfa.motion_names": ",".join(MOTION_NAMES)})
    return path, model


def test_renders_frames_that_match_the_torch_model(generator, portrait_path):
    path, model = generator
    with OnnxRenderer(portrait_path, path) as r:
        assert isinstance(r, Renderer)
        assert r.frame_size == (SIDE, SIDE)  # the model's static H, W win over the default size
        m = r.neutral_motion()
        m[MOTION_INDEX["jaw_open"]] = 0.3
        frame = r.render(m)
        assert frame.dtype == np.uint8 and frame.shape == (SIDE, SIDE, 3)
        src = torch.from_numpy(r.source.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            ref = model(src, torch.from_numpy(m[None])).numpy()[0].transpose(1, 2, 0)
        assert np.abs(frame.astype(float) - ref * 255.0).max() <= 1.0
        other = r.neutral_motion()
        other[MOTION_INDEX["head_yaw"]] = 25.0
        assert not np.array_equal(frame, r.render(other))
        batch = r.render_batch(np.stack([m, other, m]))
        assert batch.shape == (3, SIDE, SIDE, 3) and np.array_equal(batch[0], frame) and np.array_equal(batch[2], frame)


def test_size_comes_from_the_model_when_static(tmp_path, portrait_path):
    path = tmp_path / "static.onnx"
    export(path, dynamic=False, side=96)
    r = OnnxRenderer(portrait_path, path, size=512)
    assert r.frame_size == (96, 96)
    frames = r.render_batch(np.stack([r.neutral_motion()] * 3))  # fixed batch of 1: run frame by frame
    assert frames.shape == (3, 96, 96, 3)
    free = tmp_path / "free.onnx"
    export(free, dynamic="hw")
    assert OnnxRenderer(portrait_path, free, size=128).frame_size == (128, 128)


def test_optional_landmarks_input_is_fed(tmp_path, portrait_path):
    path = tmp_path / "lm.onnx"
    export(path, landmarks=True)
    r = OnnxRenderer(portrait_path, path, size=SIDE)
    assert r.render(r.neutral_motion()).shape == (SIDE, SIDE, 3)


def test_contract_violations_raise_model_error(tmp_path, portrait_path, generator):
    path, _ = generator
    with pytest.raises(ModelError):
        OnnxRenderer(portrait_path, tmp_path / "missing.onnx")
    with pytest.raises(ModelError):
        OnnxRenderer(portrait_path, path, sha256="0" * 64)
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    OnnxRenderer(portrait_path, path, size=SIDE, sha256=good).close()
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        OnnxRenderer(portrait_path, junk)
    renamed = tmp_path / "renamed.onnx"
    export(renamed, names=("image", "motion"))
    with pytest.raises(ModelError):
        OnnxRenderer(portrait_path, renamed)
    layout = tmp_path / "layout.onnx"
    export(layout, meta={"dirfa.motion_names": ",".join(reversed(MOTION_NAMES))})
    with pytest.raises(ModelError):
        OnnxRenderer(portrait_path, layout)


def test_input_errors(generator, portrait_path):
    path, _ = generator
    with pytest.raises(NoFaceError):
        OnnxRenderer(np.full((200, 200, 3), 80, np.uint8), path)
    with pytest.raises(ValueError):
        OnnxRenderer(portrait_path, path, framing="full")
    import functools

    factory = functools.partial(OnnxRenderer, model=path)  # drop-in for FaceRenderer's factory signature
    r = factory(portrait_path, size=SIDE, framing="crop")
    with pytest.raises(ValueError):
        r.render(np.zeros(3, np.float32))
    r.close()
    with pytest.raises(ModelError):
        r.render(r.neutral_motion())
