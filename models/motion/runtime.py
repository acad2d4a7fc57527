"""onnxruntime inference for the exported motion network (no torch). RAW primitive: outputs animation values.

``MotionRuntime`` runs the two graphs of a package written by ``models.motion.export``:

* the encoder over the whole clip in chunks of ``chunk_frames`` with ``enc_context`` frames of overlap on each
  side, which reproduces the unchunked result exactly (the encoder is a stack of convolutions);
* the step decoder frame by frame, keeping a sliding key/value cache of ``window - 1`` frames, so memory does not
  grow with the audio and there is no border between chunks at all.

Sampling is seeded: ``z ~ N(0, I) * temperature`` once per clip, then per frame
``x_t = mu_t + temperature * sample_scale * sigma_t * eps_t``. ``eps`` is unit-variance AR(1) noise per dim,
``eps_t = rho * eps_{t-1} + sqrt(1 - rho^2) * n_t`` with ``n_t ~ N(0, I)`` from the same generator and ``rho`` the
package's ``noise_corr`` (0, i.e. independent per frame, for packages that do not set it).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from ..errors import ModelError
from ..schema import MOTION_HIGH, MOTION_LOW, neutral_motion


@dataclass(frozen=True)
class RuntimeConfig:
    """The parts of ``models.motion.network.NetConfig`` the runtime needs (read from the package's config.json)."""

    raw: dict

    def __getattr__(self, name: str):
        try:
            return self.raw[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    @property
    def enc_context(self) -> int:
        return (self.raw["enc_kernel"] // 2) * sum(self.raw["enc_dilations"])


def _session(data: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # 2 shared cores: spinning threads cost more than they give
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


class MotionRuntime:
    """Both ONNX sessions of a motion package. Use as a context manager or call :meth:`close`."""

    def __init__(self, package: bytes, *, expected_sha256: str | None = None, chunk_frames: int = 1500) -> None:
        digest = hashlib.sha256(package).hexdigest()
        if expected_sha256 is not None and digest != expected_sha256:
            raise ModelError(f"motion weights sha256 mismatch: expected {expected_sha256}, got {digest}")
        self.sha256 = digest
        try:
            with zipfile.ZipFile(io.BytesIO(package)) as z:
                enc, dec = z.read("encoder.onnx"), z.read("decoder.onnx")
                self.cfg = RuntimeConfig(json.loads(z.read("config.json")))
            self._enc = _session(enc)
            self._dec = _session(dec)
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ort.capi.onnxruntime_pybind11_state.Fail) as exc:
            raise ModelError(f"cannot load motion package: {exc}") from exc
        self.chunk_frames = chunk_frames
        cfg = self.cfg
        self._mm = np.asarray(cfg.motion_mean, np.float32)
        self._ms = np.asarray(cfg.motion_std, np.float32)
        self._ar = np.asarray(cfg.ar_dims, np.int64)
        self._scale = np.asarray(cfg.sample_scale, np.float32)
        rho = np.asarray(cfg.raw.get("noise_corr") or np.zeros(cfg.motion_dims), np.float32)
        if rho.shape != (cfg.motion_dims,) or np.any(rho < 0) or np.any(rho >= 1):
            raise ModelError("noise_corr must hold one value in [0, 1) per motion dim")
        self._rho = rho

    def close(self) -> None:
        self._enc = self._dec = None

    def __enter__(self) -> MotionRuntime:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def encode(self, feats: np.ndarray) -> np.ndarray:
        """(T, F) raw features -> (T, d) audio encoding, in overlapping chunks (exact)."""
        t = feats.shape[0]
        ctx, step = self.cfg.enc_context, self.chunk_frames
        out = np.empty((t, self.cfg.d_model), np.float32)
        for a in range(0, t, step):
            b = min(a + step, t)
            lo, hi = max(0, a - ctx), min(t, b + ctx)
            enc = self._enc.run(None, {"feats": feats[None, lo:hi].astype(np.float32)})[0][0]
            out[a:b] = enc[a - lo : a - lo + (b - a)]
        return out

    def generate(self, feats: np.ndarray, *, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
        """Sample a (T, motion_dims) motion sequence in ``models.schema`` units."""
        cfg = self.cfg
        audio = self.encode(feats)
        t = audio.shape[0]
        dk = cfg.d_model // cfg.n_heads
        past_k = np.zeros((cfg.dec_layers, 1, cfg.n_heads, cfg.window - 1, dk), np.float32)
        past_v = np.zeros_like(past_k)
        valid = np.zeros(cfg.window - 1, np.float32)
        z = (rng.standard_normal((1, cfg.z_dim)) * temperature).astype(np.float32)
        eps = correlated_noise(rng.standard_normal((t, cfg.motion_dims)), self._rho)
        noise_scale = (temperature * self._scale).astype(np.float32)
        low = (MOTION_LOW - self._mm) / self._ms
        high = (MOTION_HIGH - self._mm) / self._ms
        prev = ((neutral_motion() - self._mm) / self._ms)[self._ar][None].astype(np.float32)
        out = np.empty((t, cfg.motion_dims), np.float32)
        run = self._dec.run
        for i in range(t):
            mu, log_sigma, nk, nv = run(
                None,
                {"audio_t": audio[i : i + 1], "prev": prev, "z": z, "past_k": past_k, "past_v": past_v,
                 "past_valid": valid},
            )  # fmt: skip
            x = np.clip(mu[0] + noise_scale * np.exp(log_sigma[0]) * eps[i], low, high)
            out[i] = x
            prev = x[self._ar][None]
            past_k = np.concatenate([past_k[:, :, :, 1:], nk], axis=3)
            past_v = np.concatenate([past_v[:, :, :, 1:], nv], axis=3)
            valid = np.concatenate([valid[1:], [1.0]]).astype(np.float32)
        return out * self._ms + self._mm


def correlated_noise(white: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """(T, D) unit-variance AR(1) noise with lag-1 correlation ``rho`` (D,) from (T, D) standard normal ``white``."""
    out = np.asarray(white, np.float64).copy()
    rho = np.asarray(rho, np.float64)
    if np.any(rho):
        innov = np.sqrt(1.0 - rho**2)
        for i in range(1, out.shape[0]):
            out[i] = rho * out[i - 1] + innov * out[i]
    return out.astype(np.float32)
