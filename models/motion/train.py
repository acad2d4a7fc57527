"""Train the motion network on a corpus .npz (``python -m models.motion.corpus`` or
``models.motion.video_targets``). TRAINING ONLY.

    python -m models.motion.train --corpus /tmp/dirfa/train.npz --heldout /tmp/dirfa/heldout.npz \
        --minutes 30 --out /tmp/dirfa/motion.pt

Checkpoints are ``torch.save`` dicts holding the network config (``NetConfig.to_dict()``), the weights, the step,
the training arguments and the last held-out metrics, so a checkpoint alone rebuilds its network.
Set ``OMP_WAIT_POLICY=PASSIVE``; training uses one thread (``--threads``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from ..schema import neutral_motion
from . import features as F
from .network import MotionNet, NetConfig, loss_fn

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainArgs:
    window_frames: int = 64
    batch: int = 16
    lr: float = 2e-3
    beta: float = 0.02  # KL weight
    prev_noise: float = 0.1  # noise on teacher-forced inputs (normalised units), against exposure bias
    # Fraction of windows whose log-mel is blanked (set to its mean) when phone features are present: on espeak
    # speech the log-mel alone predicts the targets, so without this the network would ignore the phones, which
    # are what transfers to real voices.
    mel_dropout: float = 0.3
    seed: int = 0


GROUPS = F.GROUP_WIDTHS  # feature column groups, in this order (``models.motion.features``)


class Corpus:
    """Clips from one or more corpus .npz files: ``feats`` (T, F), ``motion`` (T, D), ``offsets`` (clips + 1).

    Optional arrays: ``groups`` (the feature column groups, in order; else inferred from the width: 320, 360 or
    365 are the log-mel / phones / visemes layouts of the synthetic corpus before 2.0), ``weight`` (T, D) the
    per-frame, per-dim loss weight (0 where a dim was not measured, e.g. head pose on a real clip; default 1) and
    ``clip_weight`` (clips,) the sampling weight of each clip. ``share`` gives each file's share of the training
    windows (default: in proportion to its frames). The flags select which feature groups the network gets.
    """

    def __init__(
        self,
        path: str | Path | list,
        *,
        phones: bool = True,
        mel: bool = True,
        visemes: bool = True,
        whisper: bool = True,
        share: list[float] | None = None,
    ) -> None:
        paths = [path] if isinstance(path, (str, Path)) else list(path)
        if share is not None and len(share) != len(paths):
            raise ValueError("one share per corpus file")
        want = {"mel": mel, "phones": phones, "visemes": visemes, "whisper": whisper}
        feats, motion, weight, cw, offsets = [], [], [], [], [0]
        found_groups: list[str] | None = None
        for k, p in enumerate(paths):
            d = np.load(p)
            f = d["feats"]
            if "groups" in d:
                layout = [str(g) for g in d["groups"]]
            else:
                layout = {320: ["mel"], 360: ["mel", "phones"], 365: ["mel", "phones", "visemes"]}.get(f.shape[1], [])
            if sum(GROUPS[g] for g in layout) != f.shape[1]:
                raise ValueError(f"{p}: unexpected feature width {f.shape[1]}")
            cols, start, groups = [], 0, []
            for g in layout:
                if want[g]:
                    cols.append(np.arange(start, start + GROUPS[g]))
                    groups.append(g)
                start += GROUPS[g]
            if not cols:
                raise ValueError("no feature group selected")
            if found_groups is not None and groups != found_groups:
                raise ValueError(f"{p}: feature groups {groups} differ from {found_groups}")
            found_groups = groups
            feats.append(f[:, np.concatenate(cols)].astype(np.float32))
            m = d["motion"].astype(np.float32)
            motion.append(m)
            weight.append(d["weight"].astype(np.float32) if "weight" in d else np.ones_like(m))
            n_clips = len(d["offsets"]) - 1
            w = d["clip_weight"].astype(np.float64) if "clip_weight" in d else np.diff(d["offsets"]).astype(np.float64)
            if share is not None:
                w = w / w.sum() * share[k]
            cw.append(w)
            offsets.extend((d["offsets"][1:] + offsets[-1]).tolist())
            if len(w) != n_clips:
                raise ValueError(f"{p}: clip_weight has {len(w)} entries for {n_clips} clips")
        self.groups: list[str] = found_groups or []
        self.feats, self.motion, self.weight = np.concatenate(feats), np.concatenate(motion), np.concatenate(weight)
        self.offsets = np.asarray(offsets, np.int64)
        self.clip_weight = np.concatenate(cw)
        self.mel, self.phones, self.visemes, self.whisper = (
            g in self.groups for g in ("mel", "phones", "visemes", "whisper")
        )

    @property
    def clips(self) -> list[tuple[int, int]]:
        return [(int(a), int(b)) for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)]


def make_config(corpus: Corpus, **overrides) -> NetConfig:
    """A config whose normalisation statistics come from ``corpus``."""
    fm, fs = corpus.feats.mean(0), corpus.feats.std(0) + 1e-3
    mm, ms = corpus.motion.mean(0), corpus.motion.std(0) + 1e-3
    return NetConfig(
        n_feats=corpus.feats.shape[1],
        phones=corpus.phones,
        mel=corpus.mel,
        visemes=corpus.visemes,
        whisper=corpus.whisper,
        feat_mean=tuple(map(float, fm)),
        feat_std=tuple(map(float, fs)),
        motion_mean=tuple(map(float, mm)),
        motion_std=tuple(map(float, ms)),
        **overrides,
    )


class Normalizer:
    def __init__(self, cfg: NetConfig) -> None:
        self.fm, self.fs = np.asarray(cfg.feat_mean, np.float32), np.asarray(cfg.feat_std, np.float32)
        self.mm, self.ms = np.asarray(cfg.motion_mean, np.float32), np.asarray(cfg.motion_std, np.float32)

    def feats(self, x: np.ndarray) -> np.ndarray:
        return (x - self.fm) / self.fs

    def motion(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mm) / self.ms

    def unmotion(self, x: np.ndarray) -> np.ndarray:
        return x * self.ms + self.mm


def batch_windows(corpus: Corpus, norm: Normalizer, args: TrainArgs, rng: np.random.Generator):
    """(feats, motion, prev, weight) float tensors of shape (B, L, .): random windows inside clips, clips drawn by
    ``corpus.clip_weight``."""
    keep = [k for k, (a, b) in enumerate(corpus.clips) if b - a >= args.window_frames]
    if not keep:
        raise ValueError(f"no clip has {args.window_frames} frames")
    clips = [corpus.clips[k] for k in keep]
    p = corpus.clip_weight[keep] / corpus.clip_weight[keep].sum()
    neutral = norm.motion(neutral_motion())
    L = args.window_frames
    mel_cols = None
    if corpus.mel and len(corpus.groups) > 1:
        start = int(sum(GROUPS[g] for g in corpus.groups[: corpus.groups.index("mel")]))
        mel_cols = slice(start, start + GROUPS["mel"])
    while True:
        f, m, pv, w = [], [], [], []
        for k in rng.choice(len(clips), size=args.batch, p=p):
            a, b = clips[k]
            s = a + int(rng.integers(0, b - a - L + 1))
            mot = norm.motion(corpus.motion[s : s + L])
            first = norm.motion(corpus.motion[s - 1]) if s > a else neutral
            f.append(norm.feats(corpus.feats[s : s + L]))
            m.append(mot)
            pv.append(np.concatenate([first[None], mot[:-1]]))
            w.append(corpus.weight[s : s + L])
        feats = np.stack(f)
        if mel_cols is not None and args.mel_dropout > 0:
            feats[rng.random(args.batch) < args.mel_dropout, :, mel_cols] = 0.0
        prev = np.stack(pv) + rng.standard_normal((args.batch, L, len(neutral))).astype(np.float32) * args.prev_noise
        yield (
            torch.from_numpy(feats),
            torch.from_numpy(np.stack(m)),
            torch.from_numpy(prev.astype(np.float32)),
            torch.from_numpy(np.stack(w)),
        )


@torch.no_grad()
def evaluate(net: MotionNet, corpus: Corpus, max_clips: int = 60) -> dict[str, float]:
    """Teacher-forced held-out metrics with z = 0 (the prior mean): jaw Pearson r (pooled) and NLL.

    The mouth is not fed back, so the teacher-forced jaw is close to what generation produces; the benchmark
    (``benchmarks/motion_synthetic.py``) measures the real generation path.
    """
    norm = Normalizer(net.cfg)
    net.eval()
    neutral = norm.motion(neutral_motion())
    preds, targets, nlls = [], [], []
    for a, b in corpus.clips[:max_clips]:
        f = torch.from_numpy(norm.feats(corpus.feats[a:b]))[None]
        m = norm.motion(corpus.motion[a:b])
        prev = torch.from_numpy(np.concatenate([neutral[None], m[:-1]]))[None]
        zero = torch.zeros(1, net.cfg.z_dim)
        mu, ls = net.decode(net.encoder(f), prev, zero)
        nlls.append(float(loss_fn(mu, ls, torch.from_numpy(m)[None], zero, zero, beta=0.0)["nll"]))
        preds.append(norm.unmotion(mu[0].numpy())[:, 0])
        targets.append(corpus.motion[a:b, 0])
    net.train()
    p, t = np.concatenate(preds), np.concatenate(targets)
    return {"jaw_r": float(np.corrcoef(p, t)[0, 1]), "nll": float(np.mean(nlls))}


def save_checkpoint(path: str | Path, net: MotionNet, *, step: int, args: TrainArgs, metrics: dict) -> None:
    torch.save(
        {
            "config": net.cfg.to_dict(),
            "state_dict": net.state_dict(),
            "step": step,
            "train_args": dataclasses.asdict(args),
            "metrics": metrics,
        },
        path,
    )


def load_checkpoint(path: str | Path) -> tuple[MotionNet, dict]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    net = MotionNet(NetConfig.from_dict(ckpt["config"]))
    net.load_state_dict(ckpt["state_dict"], strict=True)
    net.eval()
    return net, ckpt


def train(
    corpus: Corpus,
    *,
    cfg: NetConfig,
    args: TrainArgs,
    steps: int | None = None,
    minutes: float | None = None,
    heldout: Corpus | None = None,
    out: str | Path | None = None,
    eval_every: int = 500,
) -> tuple[MotionNet, list[float]]:
    """Train until ``steps`` or ``minutes`` (whichever first); returns the network and the per-step losses."""
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    net = MotionNet(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.01)
    total = steps if steps is not None else 10**9
    deadline = time.monotonic() + 60 * minutes if minutes else float("inf")
    est_total = total if steps is not None else None
    batches = batch_windows(corpus, Normalizer(cfg), args, rng)
    losses: list[float] = []
    metrics: dict = {}
    t0 = time.monotonic()
    step = 0
    for step in range(1, total + 1):
        if time.monotonic() > deadline:
            break
        # Cosine decay over the step budget, or over the time budget when only minutes are given.
        frac = step / est_total if est_total else (time.monotonic() - t0) / max(deadline - t0, 1e-9)
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0)))) * min(1.0, step / 200)
        f, m, prev, w = next(batches)
        mu, ls, zm, zl = net(f, m, prev)
        parts = loss_fn(mu, ls, m, zm, zl, beta=args.beta * min(1.0, step / 2000), weight=w)
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(float(parts["loss"].detach()))
        if step % eval_every == 0:
            metrics = {k: v.item() for k, v in parts.items()} | {"step": step, "s": time.monotonic() - t0}
            if heldout is not None:
                metrics |= {f"heldout_{k}": v for k, v in evaluate(net, heldout).items()}
            log.info("step %d %s", step, json.dumps({k: round(v, 4) for k, v in metrics.items()}))
            if out is not None:
                save_checkpoint(out, net, step=step, args=args, metrics=metrics)
    if heldout is not None:
        metrics |= {f"heldout_{k}": v for k, v in evaluate(net, heldout).items()}
    metrics |= {"step": step, "s": time.monotonic() - t0}
    if out is not None:
        save_checkpoint(out, net, step=step, args=args, metrics=metrics)
    net.eval()
    return net, losses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.motion.train", description=__doc__)
    p.add_argument("--corpus", required=True, nargs="+", help="one or more corpus .npz files, mixed")
    p.add_argument("--share", type=float, nargs="+", help="each corpus file's share of the training windows")
    p.add_argument("--heldout")
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--steps", type=int)
    p.add_argument("--no-phones", action="store_true", help="ignore the phone feature columns")
    p.add_argument("--no-mel", action="store_true", help="no log-mel columns")
    p.add_argument("--no-visemes", action="store_true", help="ignore phone-derived viseme columns")
    p.add_argument("--no-whisper", action="store_true", help="ignore the real-speech encoder's columns")
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--mel-dropout", type=float, default=TrainArgs.mel_dropout)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(a.threads)
    groups: dict[str, bool] = {
        "phones": not a.no_phones, "mel": not a.no_mel, "visemes": not a.no_visemes, "whisper": not a.no_whisper
    }  # fmt: skip
    corpus = Corpus(a.corpus, share=a.share, **groups)
    heldout = Corpus(a.heldout, share=None, **groups) if a.heldout else None
    cfg = make_config(corpus, d_model=a.d_model, dec_layers=a.layers)
    args = TrainArgs(seed=a.seed, batch=a.batch, lr=a.lr, mel_dropout=a.mel_dropout)
    log.info(
        "frames %d, feats %d, params %d",
        corpus.feats.shape[0],
        cfg.n_feats,
        sum(x.numel() for x in MotionNet(cfg).parameters()),
    )
    _, losses = train(corpus, cfg=cfg, args=args, steps=a.steps, minutes=a.minutes, heldout=heldout, out=a.out)
    log.info("done: %d steps, final loss %.4f", len(losses), losses[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
