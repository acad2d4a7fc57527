"""The DIRFA stage-1 network (torch): audio -> a distribution over facial-animation sequences. TRAINING ONLY.

Inference runs the ONNX export of this module with onnxruntime (``models.motion.runtime``); nothing here is imported at
render time.

    audio features (T, F) --[AudioEncoder: linear + dilated residual convs, +-16 frames context]--> a (T, d)
    target motion + a      --[StylePosterior: conv + mean pool]--> q(z | motion, audio)   (training only)
    z ~ q (training) or N(0, I) * temperature (inference)                                 clip-level style latent
    token_t = a_t + W_m prev_motion_{t-1}[ar dims] + W_z z
    tokens  --[Decoder: pre-LN transformer, causal mask with per-head periodic linear bias over a window]--> h (T, d)
    h_t     --> per-frame Gaussian N(mu_t, sigma_t) over the motion dims (normalised units)

The temporally-biased mask follows FaceFormer: head ``h`` of ``n`` gets slope ``m_h = 2^(-8h/n)`` and key ``j`` adds
``-m_h * floor((i - j) / period)`` to query ``i``'s score; keys in the future or ``window`` or more frames in the past
are masked out. Because the decoder sees no absolute positions, running it step by step over a sliding key/value
cache of ``window - 1`` past frames (``StepDecoder``, exported to ONNX) is EXACTLY the training computation, for audio
of any length.

The network is a conditional VAE: the posterior sees the target motion in training; the KL term pulls it towards
the N(0, I) prior, which is sampled (times the temperature) at inference.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..schema import NUM_MOTION_DIMS

MOUTH = tuple(range(6))  # jaw_open .. smile: driven by the audio, not fed back


@dataclass(frozen=True)
class NetConfig:
    """Everything needed to rebuild the network; stored in checkpoints and in the ONNX metadata."""

    n_feats: int = 360  # 4 x 80 log-mel + 40 phone classes (``models.motion.features``)
    phones: bool = True  # whether the last 40 feature columns are PocketSphinx phone fractions
    mel: bool = True  # whether the first 320 feature columns are log-mel (False: phones only)
    visemes: bool = False  # whether the last 5 columns are phone-derived viseme targets
    whisper: bool = False  # whether the first 384 columns are the real-speech encoder's (``models.motion.whisper``)
    d_model: int = 128
    enc_dilations: tuple[int, ...] = (1, 2, 4, 1)  # kernel 5: 2 * sum = 16 frames of context each side
    enc_kernel: int = 5
    dec_layers: int = 3
    n_heads: int = 4
    d_ff: int = 256
    window: int = 50  # attention span in frames (2 s at 25 fps)
    period: int = 25  # bias period in frames (FaceFormer uses the frame rate)
    z_dim: int = 8
    motion_dims: int = NUM_MOTION_DIMS
    ar_dims: tuple[int, ...] = tuple(range(6, NUM_MOTION_DIMS))  # fed back autoregressively (not the mouth)
    # Per-dim multiplier of the sampling temperature. 0 for the mouth: independent per-frame noise on the lips is
    # visible jitter, and lip sync must not depend on the seed; lip diversity comes from the style latent.
    sample_scale: tuple[float, ...] = (0.0,) * 6 + (1.0,) * (NUM_MOTION_DIMS - 6)
    # Per-dim lag-1 correlation of the sampling noise (AR(1), unit variance; 0 = independent per frame, the default;
    # empty = all 0). Set at export from the network's own teacher-forced residuals (``models.motion.export``).
    noise_corr: tuple[float, ...] = ()
    dropout: float = 0.1
    feat_mean: tuple[float, ...] = field(default=())  # input normalisation (training-set statistics)
    feat_std: tuple[float, ...] = field(default=())
    motion_mean: tuple[float, ...] = field(default=())
    motion_std: tuple[float, ...] = field(default=())

    @property
    def enc_context(self) -> int:
        return (self.enc_kernel // 2) * sum(self.enc_dilations)

    def to_dict(self) -> dict:
        """JSON-ready (numpy scalars become Python numbers)."""
        return {k: [v.item() if hasattr(v, "item") else v for v in val] if isinstance(val, tuple) else val
                for k, val in asdict(self).items()}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> NetConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})  # type: ignore[arg-type]


def alibi_slopes(n_heads: int) -> torch.Tensor:
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


def biased_mask(cfg: NetConfig, t: int) -> torch.Tensor:
    """(H, T, T) additive attention bias: periodic linear bias inside the causal window, -inf elsewhere."""
    i = torch.arange(t)[:, None]
    j = torch.arange(t)[None, :]
    dist = (i - j).float()
    bias = -alibi_slopes(cfg.n_heads)[:, None, None] * torch.floor(dist / cfg.period)[None]
    allowed = (dist >= 0) & (dist < cfg.window)
    return bias.masked_fill(~allowed[None], float("-inf"))


class AudioEncoder(nn.Module):
    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.inp = nn.Linear(cfg.n_feats, cfg.d_model)
        self.convs = nn.ModuleList(
            nn.Conv1d(cfg.d_model, cfg.d_model, cfg.enc_kernel, dilation=d, padding=d * (cfg.enc_kernel // 2))
            for d in cfg.enc_dilations
        )
        self.norms = nn.ModuleList(nn.LayerNorm(cfg.d_model) for _ in cfg.enc_dilations)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:  # (B, T, F) normalised -> (B, T, d)
        x = self.inp(feats)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = x + self.drop(F.gelu(conv(norm(x).transpose(1, 2)).transpose(1, 2)))
        return x


class StylePosterior(nn.Module):
    """q(z | motion, audio): the clip's speaking style, seen only in training."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.inp = nn.Linear(cfg.motion_dims + cfg.d_model, cfg.d_model)
        self.conv = nn.Conv1d(cfg.d_model, cfg.d_model, 5, padding=2)
        self.out = nn.Linear(cfg.d_model, 2 * cfg.z_dim)

    def forward(self, motion: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.gelu(self.inp(torch.cat([motion, audio], dim=-1)))  # (B, T, d)
        h = F.gelu(self.conv(h.transpose(1, 2))).mean(dim=2)  # (B, d)
        mu, logvar = self.out(h).chunk(2, dim=-1)
        return mu, logvar.clamp(-8, 4)


class Attention(nn.Module):
    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.h, self.dk = cfg.n_heads, cfg.d_model // cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.h, self.dk).permute(2, 0, 3, 1, 4)  # 3 x (B, H, T, dk)
        return q, k, v

    def attend(self, q, k, v, bias) -> torch.Tensor:
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.dk) + bias  # (B, H, Tq, Tk)
        out = torch.softmax(att, dim=-1) @ v  # (B, H, Tq, dk)
        b, _, t, _ = out.shape
        return self.proj(out.transpose(1, 2).reshape(b, t, self.h * self.dk))


class Block(nn.Module):
    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.ff = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        q, k, v = self.attn.split(self.ln1(x))
        x = x + self.drop(self.attn.attend(q, k, v, bias))
        return x + self.drop(self.ff(self.ln2(x)))

    def step(self, x, past_k, past_v, bias):
        """One new frame ``x`` (B, 1, d) against cached keys/values (B, H, W-1, dk); returns output and new k, v."""
        q, k, v = self.attn.split(self.ln1(x))
        x = x + self.attn.attend(q, torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2), bias)
        return x + self.ff(self.ln2(x)), k, v


class MotionNet(nn.Module):
    ar_index: torch.Tensor

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.encoder = AudioEncoder(cfg)
        self.posterior = StylePosterior(cfg)
        self.prev_in = nn.Linear(len(cfg.ar_dims), d)
        self.z_in = nn.Linear(cfg.z_dim, d)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.dec_layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, 2 * cfg.motion_dims)
        self.register_buffer("ar_index", torch.tensor(cfg.ar_dims, dtype=torch.long), persistent=False)

    def gaussian(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_sigma = self.head(self.ln_f(h)).chunk(2, dim=-1)
        return mu, log_sigma.clamp(-6.0, 2.0)

    def decode(self, audio: torch.Tensor, prev: torch.Tensor, z: torch.Tensor):
        """Teacher-forced decoding. audio (B, T, d), prev (B, T, motion_dims) = motion shifted by one, z (B, z)."""
        x = audio + self.prev_in(prev[..., self.ar_index]) + self.z_in(z)[:, None, :]
        bias = biased_mask(self.cfg, x.shape[1]).to(x.dtype)
        for blk in self.blocks:
            x = blk(x, bias)
        return self.gaussian(x)

    def forward(self, feats: torch.Tensor, motion: torch.Tensor, prev: torch.Tensor):
        """Training pass on normalised tensors; returns (mu, log_sigma, z_mu, z_logvar)."""
        audio = self.encoder(feats)
        z_mu, z_logvar = self.posterior(motion, audio)
        z = z_mu + torch.randn_like(z_mu) * torch.exp(0.5 * z_logvar) if self.training else z_mu
        mu, log_sigma = self.decode(audio, prev, z)
        return mu, log_sigma, z_mu, z_logvar


def loss_fn(
    mu, log_sigma, target, z_mu, z_logvar, *, beta: float, jaw_weight: float = 2.0, weight=None
) -> dict[str, torch.Tensor]:
    """Gaussian NLL per frame and dim + beta * KL(q(z) || N(0, I)) + an extra jaw MSE (lip sync matters most).

    ``weight`` (B, T, D), optional: per-frame, per-dim weight of the NLL and jaw terms (0 = not measured: a real
    clip supervises only the mouth dims FaceMesh measures; the synthetic corpus supervises every dim)."""
    per = log_sigma + 0.5 * ((target - mu) / torch.exp(log_sigma)) ** 2
    kl = (-0.5 * (1 + z_logvar - z_mu**2 - torch.exp(z_logvar))).sum(dim=-1).mean()
    if weight is None:
        nll = per.mean()
        jaw = F.mse_loss(mu[..., 0], target[..., 0])
    else:
        nll = (per * weight).sum() / weight.numel()
        w0 = weight[..., 0]
        jaw = (w0 * (mu[..., 0] - target[..., 0]) ** 2).sum() / w0.sum().clamp_min(1.0)
    return {"loss": nll + beta * kl + jaw_weight * jaw, "nll": nll, "kl": kl, "jaw_mse": jaw}


class EncoderExport(nn.Module):
    """ONNX graph 1: normalised features (1, T, F) -> audio encoding (1, T, d)."""

    def __init__(self, net: MotionNet) -> None:
        super().__init__()
        self.encoder = net.encoder

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.encoder(feats)


class StepDecoder(nn.Module):
    """ONNX graph 2: one decoder step with a sliding key/value cache of ``window - 1`` past frames (static shapes).

    Inputs: audio_t (B, d), prev (B, len(ar_dims)) normalised, z (B, z_dim), past_k / past_v
    (L, B, H, W-1, dk), past_valid (W-1,) with 1 for filled cache slots (oldest first).
    Outputs: mu, log_sigma (B, motion_dims), new_k / new_v (L, B, H, 1, dk) to append to the cache.
    """

    bias: torch.Tensor

    def __init__(self, net: MotionNet) -> None:
        super().__init__()
        self.net: MotionNet = net
        cfg = net.cfg
        dist = torch.arange(cfg.window - 1, -1, -1).float()  # cache slots (oldest..newest) then the new frame
        self.register_buffer("bias", -alibi_slopes(cfg.n_heads)[:, None] * torch.floor(dist / cfg.period)[None])

    def forward(self, audio_t, prev, z, past_k, past_v, past_valid):
        net = self.net
        x = (audio_t + net.prev_in(prev) + net.z_in(z))[:, None, :]  # (B, 1, d)
        valid = torch.cat([past_valid, torch.ones_like(past_valid[:1])])  # (W,)
        bias = (self.bias + (valid - 1.0) * 1e9)[None, :, None, :]  # (1, H, 1, W)
        new_k, new_v = [], []
        blocks: list[Block] = list(net.blocks)  # type: ignore[arg-type]
        for i, blk in enumerate(blocks):
            x, k, v = blk.step(x, past_k[i], past_v[i], bias)
            new_k.append(k)
            new_v.append(v)
        mu, log_sigma = net.gaussian(x[:, 0])
        return mu, log_sigma, torch.stack(new_k), torch.stack(new_v)
