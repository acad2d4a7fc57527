"""Build a synthetic talking-head corpus: espeak-ng speech + motion targets + augmented audio + features.

One clip = one to three sentences of pseudo-text in one language, spoken by one espeak-ng voice variant at a random
rate and pitch. Its motion targets (25 fps, ``models.schema`` units):

* mouth: phoneme timings (C API) -> visemes with coarticulation and a ~100 ms lead (``visemes.mouth_track``);
* head pose: a per-clip speaking style (amplitudes drawn at random) drives smooth Ornstein-Uhlenbeck sway that grows
  while speaking, plus nods on emphasised words (word onsets followed by loud speech);
* brows raise on some emphasised words; blinks are a renewal process, likelier in pauses; gaze makes small saccades.

Head, brows, blinks and gaze are RANDOM given the audio: that is the diversity the probabilistic network learns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ...schema import MOTION_INDEX, NUM_MOTION_DIMS, clip_motion
from .. import features as F
from .._events import pulse
from ..audio import load_audio
from . import augment as A
from .espeak import synthesize
from .visemes import MOUTH_DIMS, mouth_track, to_video_frames

log = logging.getLogger(__name__)

WORDS = {
    "en": "the of and to in is you that it he was for on are as with his they at be this have from or one had by "
    "word but not what all were we when your can said there use each which she do how their if will up other about "
    "out many then them these so some her would make like him into time has look two more write go see number way "
    "could people my than first water been call who oil now find long down day did get come made may part over new "
    "sound take only little work know place year live me back give most very after thing our just name good sentence "
    "man think say great where help through much before line right too mean old any same tell boy follow came want "
    "show also around form three small set put end does another well large must big even such because turn here why "
    "ask went men read need land different home us move try kind hand picture again change off play spell air away "
    "animal house point page letter mother answer found study still learn should america world",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an werden aus er "
    "hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur oder aber vor zur "
    "bis mehr durch man sein wurde sei heute morgen immer wieder gut schön Wasser Mutter Vater Haus Stadt Zeit Jahr",
    "es": "de la que el en y a los se del las un por con no una su para es al lo como más o pero sus le ha me si sin "
    "sobre este ya entre cuando todo esta ser son dos también fue había era muy años hasta desde está mi porque qué "
    "sólo han yo hay vez puede todos así nos ni parte tiene él uno donde bien tiempo mismo ese ahora cada",
    "fr": "le de un être et à il avoir ne je son que se qui ce dans en du elle au pour pas que vous par sur faire plus "
    "dire me on mon lui nous comme mais pouvoir avec tout y aller voir en bien où sans tu ou leur homme si deux mari "
    "moi vouloir te femme venir quand grand celui si notre devoir là jour prendre même votre tout rien petit encore",
    "it": "di che è e la il un a per in una mi sono ho non ma lo ha le si ti con cosa se io come da ci questo qui hai "
    "bene sei del tu no me più al mio c'è solo tutto della lei gli mia fatto sì quando fare ancora anche so te voglio "
    "cosa molto prima andare sempre casa grazie",
    "pt": "de a o que e do da em um para é com não uma os no se na por mais as dos como mas foi ao ele das tem à seu "
    "sua ou ser quando muito há nos já está eu também só pelo pela até isso ela entre era depois sem mesmo aos ter",
    "nl": "de van een het en in is dat op te zijn met voor niet aan er om ook als dan maar bij of uit nog wordt door "
    "naar heeft hij tot ze wel worden kan zich meer al zo was die deze veel tijd huis water goed",
}
LANG_VOICES = {"en": ["en", "en-us", "en-gb-x-rp", "en-gb-scotland"], "de": ["de"], "es": ["es"], "fr": ["fr"],
               "it": ["it"], "pt": ["pt"], "nl": ["nl"]}  # fmt: skip
TRAIN_VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f5", "klatt", "klatt2", "klatt4",
                  "Alex", "Andy", "Annie", "belinda", "david", "ed", "john", "linda", "max", "paul", "robert", "steph",
                  "croak", "whisperf", "grandma", "iven"]  # fmt: skip
HELDOUT_VARIANTS = ["m6", "f4", "klatt3", "Andrea", "edward", "steph2", "Mario", "shelby"]


@dataclass(frozen=True)
class Clip:
    audio: np.ndarray  # 16 kHz mono, augmented
    motion: np.ndarray  # (frames, NUM_MOTION_DIMS) float32 targets
    voice: str
    text: str
    augmentation: dict


def random_text(lang: str, rng: np.random.Generator) -> str:
    words = WORDS[lang].split()
    sentences = []
    for _ in range(int(rng.integers(1, 4))):
        n = int(rng.integers(3, 12))
        s = " ".join(rng.choice(words, n))
        sentences.append(s[0].upper() + s[1:] + str(rng.choice([".", ".", ",", "?", "!"])))
    return " ".join(sentences)


def _ou(n: int, tau: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Ornstein-Uhlenbeck process with time constant ``tau`` frames."""
    a = np.exp(-1.0 / tau)
    x = np.empty(n, np.float32)
    x[0] = rng.standard_normal()
    noise = rng.standard_normal(n) * np.sqrt(1 - a * a)
    for i in range(1, n):
        x[i] = a * x[i - 1] + noise[i]
    return x


def _pulse(n: int, centre: float, rise: float, fall: float) -> np.ndarray:
    return pulse(n, centre, rise, fall).astype(np.float32)  # the shape generation draws its events with


def prosody_motion(
    samples: np.ndarray, word_starts: tuple[float, ...], n: int, rng: np.random.Generator, fps: int = 25
) -> np.ndarray:
    """Head pose, brows, blinks, gaze and smile for ``n`` frames of clean 16 kHz speech (mouth dims left at zero)."""
    out = np.zeros((n, NUM_MOTION_DIMS), np.float32)
    db = F.num_frames(samples.size)
    x = samples[: db * F.FRAME] if samples.size >= db * F.FRAME else np.pad(samples, (0, db * F.FRAME - samples.size))
    level = 20 * np.log10(np.sqrt(np.mean(x.reshape(db, F.FRAME) ** 2, axis=1)) + 1e-7)
    level = np.pad(level, (0, max(0, n - db)), constant_values=-100)[:n]
    speaking = (level > level.max() - 35).astype(np.float32)
    activity = np.convolve(speaking, np.ones(12) / 12, mode="same")  # ~0.5 s speech activity
    # Clip-level speaking style: how much this speaker moves.
    # Roll sways about as much as pitch in conversation (tilting the head while talking); up to corpus 1.1.1 it was
    # drawn from 0.5-3 degrees and the trained model's roll varied by only 1.3 degrees across seeds.
    amp = {"head_yaw": rng.uniform(1.0, 6.0), "head_pitch": rng.uniform(0.8, 4.0), "head_roll": rng.uniform(1.0, 5.0)}
    gain = 0.5 + 0.6 * activity
    for dim, a in amp.items():
        out[:, MOTION_INDEX[dim]] = a * _ou(n, rng.uniform(15, 40), rng) * gain
    # Emphasis: word onsets followed by loud speech -> nods and brow raises.
    nod_depth = rng.uniform(1.0, 4.0)
    brow_prob = rng.uniform(0.1, 0.6)
    for w in word_starts:
        f = int(w * fps)
        if f >= n or rng.random() > 0.35:
            continue
        if level[f : f + 6].max(initial=-100) < level.max() - 12:
            continue
        out[:, MOTION_INDEX["head_pitch"]] += nod_depth * _pulse(n, f + 3, 3, 6)
        if rng.random() < brow_prob:
            out[:, MOTION_INDEX["brow_raise"]] += rng.uniform(0.3, 0.8) * _pulse(n, f + 1, 2, 8)
    out[:, MOTION_INDEX["brow_raise"]] += rng.uniform(0, 0.15)
    out[:, MOTION_INDEX["brow_furrow"]] = max(0.0, rng.normal(0.05, 0.1)) * (1 + 0.3 * _ou(n, 50, rng))
    # Head translation and scale follow rotation (the head pivots about the neck).
    out[:, MOTION_INDEX["head_tx"]] = 0.006 * out[:, MOTION_INDEX["head_yaw"]] + 0.01 * _ou(n, 40, rng)
    out[:, MOTION_INDEX["head_ty"]] = 0.005 * out[:, MOTION_INDEX["head_pitch"]] + 0.01 * _ou(n, 40, rng)
    out[:, MOTION_INDEX["head_scale"]] = 0.015 * _ou(n, 60, rng)
    # Blinks: renewal process, shorter intervals in pauses.
    blink = np.zeros(n, np.float32)
    rate = rng.uniform(0.15, 0.5)  # per second
    t = rng.uniform(0, 2.0)
    while t * fps < n:
        f = int(t * fps)
        blink = np.maximum(blink, _pulse(n, f, 1.0, 2.0))
        t += rng.exponential(1.0 / rate) * (0.5 if speaking[min(f, n - 1)] == 0 else 1.0) + 0.3
    out[:, MOTION_INDEX["blink_left"]] = blink
    out[:, MOTION_INDEX["blink_right"]] = blink
    # Gaze: small saccades between fixations.
    for dim, s in (("gaze_x", 0.15), ("gaze_y", 0.08)):
        g = np.zeros(n, np.float32)
        f = 0
        while f < n:
            g[f:] = rng.normal(0, s)
            f += int(rng.uniform(0.5, 2.5) * fps)
        out[:, MOTION_INDEX[dim]] = np.convolve(np.pad(g, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    out[:, MOTION_INDEX["smile"]] = rng.uniform(-0.1, 0.4) + 0.05 * _ou(n, 50, rng)
    return out


def make_clip(
    rng: np.random.Generator, *, variants: list[str], augment: bool = True, lead_s: float = 0.10, engine: str = "espeak"
) -> Clip:
    """One random clip: synthesis, motion targets and (optionally) augmented audio.

    ``engine`` "espeak": a random language, espeak-ng voice and variant, rate and pitch. "festival": English text
    spoken by a random Festival voice (``models.motion.corpus.festival``, closer to real speech) at a random duration
    stretch, then resampled by 0.88-1.14 (pitch and formants scale together, as between speakers of different size).
    Text/voice, motion and augmentation draw from separate child generators, so the augmentation chosen for a seed
    does not depend on the synthesised audio (espeak-ng output can differ by a few samples between calls).
    """
    rng, motion_rng, aug_rng = rng.spawn(3)
    if engine == "festival":
        from . import festival

        voice_name = str(rng.choice(sorted(festival.VOICES)))
        text = random_text("en", rng)
        utt = festival.synthesize(text, voice=voice_name, stretch=float(rng.uniform(0.8, 1.3)))
        size = float(rng.uniform(0.88, 1.14))
        clean = load_audio(utt.samples, sample_rate=round(utt.sample_rate * size))
        voice_name = f"festival-{voice_name}"
    elif engine == "espeak":
        lang = str(rng.choice(list(LANG_VOICES)))
        voice = str(rng.choice(LANG_VOICES[lang]))
        variant = str(rng.choice(variants))
        voice_name = f"{voice}+{variant}" if variant else voice
        text = random_text(lang, rng)
        utt = synthesize(
            text,
            voice=voice_name,
            rate=int(rng.integers(110, 240)),
            pitch=int(rng.integers(20, 80)),
            pitch_range=int(rng.integers(20, 90)),
        )
        size = 1.0
        clean = load_audio(utt.samples, sample_rate=utt.sample_rate)
    else:
        raise ValueError(f"unknown engine {engine!r}")
    # Pad with 0.2-0.8 s of silence on both sides: the model must learn a closed mouth in silence.
    pre, post = rng.uniform(0.2, 0.8, size=2)
    clean = np.concatenate([np.zeros(int(pre * 16000), np.float32), clean, np.zeros(int(post * 16000), np.float32)])
    n = F.num_frames(clean.size)
    phones = [type(p)(p.ipa, p.start / size + pre, p.end / size + pre) for p in utt.phones]
    mouth = mouth_track(phones, clean.size / 16000, lead_s=lead_s, jaw_scale=float(rng.uniform(0.75, 1.25)))
    motion = prosody_motion(clean, tuple(w / size + pre for w in utt.word_starts), n, motion_rng)
    motion[:, [MOTION_INDEX[d] for d in MOUTH_DIMS]] = to_video_frames(mouth, n)
    audio, applied = A.augment(clean, aug_rng) if augment else (clean, {})
    return Clip(audio, clip_motion(motion), voice_name, text, applied)


def build_corpus(
    n_clips: int,
    *,
    seed: int,
    heldout: bool = False,
    phones: bool = True,
    visemes: bool = False,
    augment: bool = True,
    lead_s: float = 0.10,
    festival_share: float = 0.0,
    mel: bool = True,
    whisper: bool = False,
) -> dict[str, np.ndarray]:
    """Concatenated features/targets of ``n_clips`` clips: ``feats`` (T, F), ``motion`` (T, D), ``offsets`` (n+1,),
    ``groups`` (the feature column groups, ``models.motion.features.feature_groups``).

    ``festival_share``: the fraction of clips spoken by Festival voices instead of espeak-ng (see ``make_clip``).
    """
    rng = np.random.default_rng(seed)
    variants = HELDOUT_VARIANTS if heldout else TRAIN_VARIANTS
    n_festival = round(festival_share * n_clips)
    feats, motions, offsets, voices = [], [], [0], []
    for k in range(n_clips):
        engine = "festival" if k < n_festival else "espeak"
        clip = make_clip(rng, variants=variants, augment=augment, lead_s=lead_s, engine=engine)
        f = F.audio_features(
            clip.audio, phones=phones, visemes=visemes, mel=mel, whisper=whisper, n_frames=clip.motion.shape[0]
        )
        feats.append(f)
        motions.append(clip.motion)
        offsets.append(offsets[-1] + f.shape[0])
        voices.append(clip.voice)
        if (k + 1) % 100 == 0:
            log.info("corpus: %d/%d clips", k + 1, n_clips)
    return {
        "feats": np.concatenate(feats).astype(np.float32),
        "motion": np.concatenate(motions).astype(np.float32),
        "offsets": np.asarray(offsets, np.int64),
        "voices": np.asarray(voices),
        "groups": np.asarray(F.feature_groups(phones=phones, mel=mel, visemes=visemes, whisper=whisper)),
    }
