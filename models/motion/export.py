"""Export a trained checkpoint to the shipped ONNX package. TRAINING ONLY (needs torch and onnx).

    python -m models.motion.export --checkpoint /tmp/dirfa/motion.pt --out models/motion/data

writes ``dirfa_motion.zip`` (``encoder.onnx``: features (1, T, F) -> audio encoding (1, T, d), dynamic T;
``decoder.onnx``: one autoregressive step with a sliding key/value cache, static shapes; ``config.json``) and
``dirfa_motion.json``, the model card (name, version, sha256 of the zip, metrics, training summary).
Both graphs carry the network config and the sha256 of the checkpoint's weights in ``metadata_props``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from ..schema import MOTION_INDEX, neutral_motion
from .network import EncoderExport, MotionNet, NetConfig, StepDecoder
from .train import load_checkpoint

log = logging.getLogger(__name__)

NAME = "dirfa-motion"
PACKAGE = "dirfa_motion.zip"
CARD = "dirfa_motion.json"
OPSET = 17


class _NormalizedEncoder(nn.Module):
    """Feature normalisation baked into the encoder graph, so the runtime feeds raw features."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, net: MotionNet) -> None:
        super().__init__()
        self.enc = EncoderExport(net)
        self.register_buffer("mean", torch.tensor(net.cfg.feat_mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(net.cfg.feat_std, dtype=torch.float32))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.enc((feats - self.mean) / self.std)


def weights_sha256(net: MotionNet) -> str:
    h = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().astype(np.float32).tobytes())
    return h.hexdigest()


def step_inputs(net: MotionNet, batch: int = 1) -> tuple[torch.Tensor, ...]:
    cfg = net.cfg
    dk = cfg.d_model // cfg.n_heads
    cache = (cfg.dec_layers, batch, cfg.n_heads, cfg.window - 1, dk)
    return (
        torch.zeros(batch, cfg.d_model),
        torch.zeros(batch, len(cfg.ar_dims)),
        torch.zeros(batch, cfg.z_dim),
        torch.zeros(cache),
        torch.zeros(cache),
        torch.zeros(cfg.window - 1),
    )


def _to_bytes(module: nn.Module, args: tuple, names_in, names_out, dynamic, meta: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    torch.onnx.export(  # a file-like object works (documented), the stubs only say paths
        module, args, buf, input_names=names_in, output_names=names_out, dynamic_axes=dynamic,  # type: ignore[arg-type]
        opset_version=OPSET, dynamo=False,
    )  # fmt: skip
    model = onnx.load_from_string(buf.getvalue())
    for k, v in meta.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_onnx(net: MotionNet) -> tuple[bytes, bytes]:
    """(encoder.onnx bytes, decoder.onnx bytes) for ``net``."""
    net = net.eval()
    meta = {"config": json.dumps(net.cfg.to_dict()), "weights_sha256": weights_sha256(net), "name": NAME}
    with torch.no_grad():
        enc = _to_bytes(
            _NormalizedEncoder(net).eval(), (torch.zeros(1, 40, net.cfg.n_feats),), ["feats"], ["audio"],
            {"feats": {1: "frames"}, "audio": {1: "frames"}}, meta | {"graph": "encoder"},
        )  # fmt: skip
        dec = _to_bytes(
            StepDecoder(net).eval(), step_inputs(net), ["audio_t", "prev", "z", "past_k", "past_v", "past_valid"],
            ["mu", "log_sigma", "new_k", "new_v"], None, meta | {"graph": "step_decoder"},
        )  # fmt: skip
    net.eval()  # the exporter restores the wrappers' mode recursively; keep the caller's network in eval mode
    return enc, dec


def write_package(net: MotionNet, out_dir: str | Path, *, version: str, card_extra: dict | None = None) -> Path:
    """Write ``dirfa_motion.zip`` and its card into ``out_dir``; returns the zip path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    enc, dec = export_onnx(net)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in (("encoder.onnx", enc), ("decoder.onnx", dec)):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # fixed: same weights, same bytes
            z.writestr(info, data)
        z.writestr(zipfile.ZipInfo("config.json", date_time=(2026, 1, 1, 0, 0, 0)), json.dumps(net.cfg.to_dict()))
    blob = buf.getvalue()
    path = out_dir / PACKAGE
    path.write_bytes(blob)
    card = {
        "name": NAME,
        "version": version,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "file": PACKAGE,
        "weights_sha256": weights_sha256(net),
        "parameters": sum(p.numel() for p in net.parameters()),
        "inference_parameters": sum(p.numel() for n, p in net.named_parameters() if not n.startswith("posterior")),
    } | (card_extra or {})
    if net.cfg.whisper:  # the network's input is the shipped encoder's output: pin that encoder by its hash
        from .whisper import MODEL_FILE, WhisperEncoder

        with WhisperEncoder.load() as encoder:
            card["audio_encoder"] = {"file": MODEL_FILE, "sha256": encoder.sha256}
    (out_dir / CARD).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return path


def with_sample_scale(cfg: NetConfig, overrides: dict[str, str | float]) -> NetConfig:
    """``cfg`` with some dims' sampling-noise scales replaced (names from ``models.schema``)."""
    scale = list(cfg.sample_scale)
    for name, value in overrides.items():
        if name not in MOTION_INDEX:
            raise ValueError(f"unknown motion dim {name!r}")
        scale[MOTION_INDEX[name]] = float(value)
    return dataclasses.replace(cfg, sample_scale=tuple(scale))


@torch.no_grad()
def estimate_noise_corr(net: MotionNet, corpus, max_clips: int = 80, limit: float = 0.98) -> tuple[float, ...]:
    """Per-dim lag-1 autocorrelation of the network's standardised residuals on ``corpus``
    (a ``models.motion.train.Corpus``).

    Teacher-forced, with each clip's style latent from the posterior (its mean): ``e_t = (m_t - mu_t) / sigma_t``.
    A per-frame Gaussian assumes these are independent across frames; where they are not (a smooth target the
    one-step prediction lags behind), sampling independent noise every frame makes jitter the data never had. The
    runtime draws AR(1) noise with this correlation instead (``models.motion.runtime``). Mouth dims (not sampled) get 0.
    """
    from .train import Normalizer

    norm = Normalizer(net.cfg)
    neutral = norm.motion(neutral_motion())
    num = np.zeros(net.cfg.motion_dims)
    den = np.zeros(net.cfg.motion_dims)
    for a, b in corpus.clips[:max_clips]:
        f = torch.from_numpy(norm.feats(corpus.feats[a:b]))[None]
        m = norm.motion(corpus.motion[a:b]).astype(np.float32)
        prev = torch.from_numpy(np.concatenate([neutral[None], m[:-1]]).astype(np.float32))[None]
        audio = net.encoder(f)
        z, _ = net.posterior(torch.from_numpy(m)[None], audio)
        mu, ls = net.decode(audio, prev, z)
        e = (m - mu[0].numpy()) / np.exp(ls[0].numpy())
        e = e - e.mean(axis=0)
        num += np.sum(e[1:] * e[:-1], axis=0)
        den += np.sum(e * e, axis=0)
    rho = np.clip(num / np.maximum(den, 1e-12), 0.0, limit)
    rho[np.asarray(net.cfg.sample_scale) == 0] = 0.0
    return tuple(float(round(r, 4)) for r in rho)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.motion.export", description=__doc__)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", default=str(Path(__file__).parent / "data"))
    p.add_argument("--version", default="1.0.0")
    p.add_argument(
        "--sample-scale",
        action="append",
        default=[],
        metavar="DIM=SCALE",
        help="override a dim's sampling-noise scale (inference only; the weights do not change), e.g. brow_raise=0.25",
    )
    p.add_argument(
        "--noise-corr-from",
        metavar="CORPUS.npz",
        help="set the sampling noise's per-dim lag-1 correlation from the network's residuals on this (held-out) "
        "corpus (estimate_noise_corr); without it the noise is independent per frame",
    )
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    net, ckpt = load_checkpoint(a.checkpoint)
    if a.sample_scale:
        net.cfg = with_sample_scale(net.cfg, dict(item.split("=", 1) for item in a.sample_scale))
    if a.noise_corr_from:
        from .train import Corpus

        cfg = net.cfg
        corpus = Corpus(a.noise_corr_from, phones=cfg.phones, mel=cfg.mel, visemes=cfg.visemes, whisper=cfg.whisper)
        net.cfg = dataclasses.replace(cfg, noise_corr=estimate_noise_corr(net, corpus))
        log.info("noise_corr %s", dict(zip(MOTION_INDEX, net.cfg.noise_corr, strict=True)))
    extra = {"training": {"step": ckpt["step"], "args": ckpt["train_args"], "metrics": ckpt["metrics"]}}
    path = write_package(net, a.out, version=a.version, card_extra=extra)
    log.info("wrote %s (%d bytes)", path, path.stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
