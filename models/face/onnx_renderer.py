"""Raw neural face rendering (NO provenance: frames from here carry no watermark or manifest; ``sdk`` adds them).

The seat for DIRFA's "generic generation network": :class:`OnnxRenderer` runs a user-supplied ONNX generator with
the same interface as the default warp renderer (:class:`models.face.renderer.Renderer`), so the SDK can use either.
No trained generator ships with the project.

ONNX contract (version 1)
-------------------------
Inputs, by name (batch dimension N may be fixed to 1 or dynamic):

- ``source``: float32 ``(N, 3, H, W)``, RGB in ``[0, 1]``: the portrait framed as
``FaceRenderer(framing="crop")``
  frames it (a face-centred square). H and W come from the model's static shape; if they are dynamic, from ``size``.
- ``motion``: float32 ``(N, D)``, one motion vector per frame in :mod:`models.schema` units and order
  (``D = NUM_MOTION_DIMS``). ``jaw_open`` is absolute (see :class:`models.face.renderer.FaceRenderer`).
- ``source_landmarks`` (optional): float32 ``(N, 478, 3)``, the portrait's FaceMesh landmarks in the framed source,
  divided by (W, H, W).

Output: the one named ``frame``, else the first output: float32 ``(N, 3, H, W)``, RGB in ``[0, 1]`` (clipped).

Metadata (``metadata_props``, optional but checked when present): ``dirfa.contract`` must be ``1``;
``dirfa.motion_names`` must be the comma-joined :data:`models.schema.MOTION_NAMES` the model was trained with.
Pass ``sha256=`` to pin the weights file; a mismatch raises :class:`models.errors.ModelError`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ModelError
from models.face._framing import frame_portrait
from models.face.image_io import load_image
from models.face.landmarks import INNER_LIP_LOWER, INNER_LIP_UPPER, select_face
from models.schema import MOTION_INDEX, MOTION_NAMES, NUM_MOTION_DIMS, clip_motion, neutral_motion

logger = logging.getLogger(__name__)

CONTRACT_VERSION = "1"
_REQUIRED = ("source", "motion")


class OnnxRenderer:
    """Frames from a user-supplied ONNX generator; a context manager (closes its onnxruntime session).

    Takes the same keyword arguments as :class:`models.face.renderer.FaceRenderer` (``size``, ``framing``,
    ``face_index``), so ``functools.partial(OnnxRenderer, model=path)`` can stand in for it wherever a renderer
    factory is expected; ``framing`` must be ``"crop"``.
    """

    def __init__(
        self,
        image: Any,
        model: str | os.PathLike[str],
        *,
        size: int = 512,
        framing: str = "crop",
        face_index: int | None = None,
        sha256: str | None = None,
        intra_op_num_threads: int = 1,
    ) -> None:
        if framing != "crop":
            # Generators are trained on face-centred crops; "full" framing would feed them out-of-distribution input.
            raise ValueError(f"OnnxRenderer supports framing='crop' only, got {framing!r}")
        path = Path(model)
        if not path.is_file():
            raise ModelError(f"no ONNX model at {path}")
        if sha256 is not None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != sha256.lower():
                raise ModelError(f"sha256 mismatch for {path.name}: expected {sha256}, got {digest}")
        self._session = self._open(path, intra_op_num_threads)
        inputs = {i.name: i for i in self._session.get_inputs()}
        missing = [n for n in _REQUIRED if n not in inputs]
        if missing:
            raise ModelError(f"ONNX model lacks required input(s) {missing}; has {sorted(inputs)}")
        self._check_metadata()
        src_shape = inputs["source"].shape
        if len(src_shape) != 4 or (isinstance(src_shape[1], int) and src_shape[1] != 3):
            raise ModelError(f"'source' must be (N, 3, H, W), model declares {src_shape}")
        mot_shape = inputs["motion"].shape
        if len(mot_shape) != 2 or (isinstance(mot_shape[1], int) and mot_shape[1] != NUM_MOTION_DIMS):
            raise ModelError(f"'motion' must be (N, {NUM_MOTION_DIMS}), model declares {mot_shape}")
        h_fixed, w_fixed = src_shape[2], src_shape[3]
        if isinstance(h_fixed, int) and isinstance(w_fixed, int):
            if h_fixed != w_fixed:
                raise ModelError(f"'source' must be square (crop framing), model declares {h_fixed}x{w_fixed}")
            size = h_fixed
        self._fixed_batch = src_shape[0] if isinstance(src_shape[0], int) else None
        self._use_landmarks = "source_landmarks" in inputs
        outs = [o.name for o in self._session.get_outputs()]
        self._output = "frame" if "frame" in outs else outs[0]

        rgb = load_image(image)
        face = select_face(rgb, face_index)
        framed = frame_portrait(rgb, face.points, size=size, framing="crop")
        self._frame = framed.image
        side = self._frame.shape[0]
        self._source = (self._frame.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]  # (1, 3, H, W)
        pts = framed.map_points(face.points)
        self._landmarks = (pts / np.array([side, side, side])).astype(np.float32)[None]  # (1, 478, 3)
        iod = float(np.linalg.norm(pts[263, :2] - pts[33, :2]))
        self._neutral = neutral_motion()
        self._neutral[MOTION_INDEX["jaw_open"]] = np.float32(
            np.linalg.norm(pts[INNER_LIP_UPPER, :2] - pts[INNER_LIP_LOWER, :2]) / iod
        )

    @staticmethod
    def _open(path: Path, threads: int) -> Any:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - part of the generate extra
            raise ModelError("onnxruntime is required for OnnxRenderer (install dirfa[generate])") from exc
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"cannot load ONNX model {path.name}: {exc}") from exc

    def _check_metadata(self) -> None:
        meta = self._session.get_modelmeta().custom_metadata_map
        contract = meta.get("dirfa.contract")
        if contract is not None and contract != CONTRACT_VERSION:
            raise ModelError(f"model follows renderer contract {contract}, this build supports {CONTRACT_VERSION}")
        names = meta.get("dirfa.motion_names")
        if names is not None and tuple(names.split(",")) != MOTION_NAMES:
            raise ModelError("model was trained with a different motion vector layout (dirfa.motion_names)")

    # ---------------------------------------------------------------- Renderer protocol
    @property
    def frame_size(self) -> tuple[int, int]:
        return int(self._frame.shape[1]), int(self._frame.shape[0])

    @property
    def source(self) -> np.ndarray:
        return self._frame

    def neutral_motion(self) -> np.ndarray:
        return self._neutral.copy()

    def render(self, motion_frame: np.ndarray) -> np.ndarray:
        m = np.asarray(motion_frame, dtype=np.float32)
        if m.shape != (NUM_MOTION_DIMS,):
            raise ValueError(f"motion_frame must have shape ({NUM_MOTION_DIMS},), got {m.shape}")
        return self.render_batch(m[None])[0]

    def render_batch(self, motions: np.ndarray) -> np.ndarray:
        """(T, D) motion vectors -> (T, H, W, 3) RGB uint8 frames, in model-sized batches."""
        m = np.asarray(motions, dtype=np.float32)
        if m.ndim != 2 or m.shape[1] != NUM_MOTION_DIMS:
            raise ValueError(f"motions must be (frames, {NUM_MOTION_DIMS}), got {m.shape}")
        if not np.isfinite(m).all():
            raise ValueError("motion contains NaN or infinite values")
        m = clip_motion(m)
        step = self._fixed_batch or 16
        frames = [self._run(m[i : i + step]) for i in range(0, len(m), step)]
        return np.concatenate(frames) if frames else np.zeros((0, *self._frame.shape), np.uint8)

    def _run(self, m: np.ndarray) -> np.ndarray:
        if self._session is None:
            raise ModelError("OnnxRenderer is closed")
        n = len(m)
        pad = (self._fixed_batch - n) if self._fixed_batch else 0
        if pad:
            m = np.concatenate([m, np.repeat(m[-1:], pad, axis=0)])
        b = len(m)
        feeds = {"source": np.repeat(self._source, b, axis=0), "motion": m}
        if self._use_landmarks:
            feeds["source_landmarks"] = np.repeat(self._landmarks, b, axis=0)
        try:
            out = self._session.run([self._output], feeds)[0]
        except Exception as exc:
            raise ModelError(f"ONNX generator failed: {exc}") from exc
        out = np.asarray(out)
        want = (b, 3, self._frame.shape[0], self._frame.shape[1])
        if out.shape != want:
            raise ModelError(f"generator output has shape {out.shape}, contract needs {want}")
        out = np.clip(np.nan_to_num(out[:n], nan=0.0), 0.0, 1.0)
        return np.ascontiguousarray((out.transpose(0, 2, 3, 1) * 255.0 + 0.5).astype(np.uint8))

    # ---------------------------------------------------------------- resources
    def close(self) -> None:
        self._session = None

    def __enter__(self) -> OnnxRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
