"""Phonemes (espeak-ng IPA) -> mouth targets with coarticulation, in the units of ``models.schema``.

Each IPA base symbol maps to a viseme: a target for the five mouth dims (jaw_open, lip_stretch, lip_pucker,
upper_lip_raise, lower_lip_depress) and a dominance (how strongly it resists its neighbours). Targets are blended
with Cohen-Massaro-style dominance functions (Gaussian in time around each phone's centre), bilabial closures are
then forced (lips must meet for p/b/m whatever the neighbours), the track is smoothed and finally moved EARLIER by
``lead_s``: real mouths lead the sound by ~80-120 ms (measured here on real speakers, ../shared/notes/lipsync.md).
"""

from __future__ import annotations

import unicodedata

import numpy as np

from .espeak import Phone

MOUTH_DIMS = ("jaw_open", "lip_stretch", "lip_pucker", "upper_lip_raise", "lower_lip_depress")

#                 jaw   stretch pucker upper  lower  dominance
_VISEMES: dict[str, tuple[float, float, float, float, float, float]] = {
    "sil": (0.00, 0.00, 0.00, 0.00, 0.00, 1.5),
    "bilabial": (0.00, 0.00, 0.10, 0.00, 0.00, 3.0),
    "labiodental": (0.04, 0.00, 0.00, 0.30, 0.50, 2.0),
    "dental": (0.07, 0.05, 0.00, 0.10, 0.10, 0.8),
    "alveolar": (0.06, 0.05, 0.00, 0.00, 0.05, 0.5),
    "sibilant": (0.04, 0.12, 0.00, 0.10, 0.10, 0.8),
    "postalveolar": (0.05, 0.00, 0.60, 0.30, 0.20, 1.2),
    "palatal": (0.06, 0.15, 0.00, 0.00, 0.00, 0.6),
    "velar": (0.10, 0.00, 0.00, 0.00, 0.00, 0.4),
    "back": (0.14, 0.00, 0.00, 0.00, 0.00, 0.3),
    "rounded_glide": (0.05, 0.00, 0.80, 0.00, 0.00, 1.5),
    "rhotic": (0.08, 0.00, 0.30, 0.00, 0.00, 0.6),
    "close_front": (0.10, 0.22, 0.00, 0.05, 0.05, 1.0),
    "close_round": (0.09, 0.00, 0.80, 0.00, 0.00, 1.2),
    "mid_front": (0.17, 0.12, 0.00, 0.05, 0.10, 1.0),
    "mid_round": (0.18, 0.00, 0.45, 0.00, 0.05, 1.0),
    "central": (0.18, 0.03, 0.00, 0.00, 0.05, 0.9),
    "open": (0.30, 0.05, 0.00, 0.10, 0.15, 1.0),
    "open_round": (0.25, 0.00, 0.30, 0.00, 0.10, 1.0),
}

_SYMBOLS: dict[str, str] = {}
for _cls, _chars in {
    "bilabial": "pbmɸβ",
    "labiodental": "fvʋɱ",
    "dental": "θð",
    "alveolar": "tdnlɾrɹɬɫɭɳʈɖ",
    "sibilant": "szʦʣ",
    "postalveolar": "ʃʒɕʑʂʐ",
    "palatal": "jçɲʎʝc",
    "velar": "kgɡŋxɣqɢ",
    "back": "hʁχʔɦħʀ",
    "rounded_glide": "wɥ",
    "rhotic": "ɻ",
    "close_front": "iɪɨe̞",
    "close_round": "uʊɯyʏ",
    "mid_front": "eɛ",
    "mid_round": "oɔøœɵ",
    "central": "əɘɜʌɐɚ",
    "open": "aæɑɶ",
    "open_round": "ɒ",
}.items():
    for _ch in _chars:
        _SYMBOLS.setdefault(_ch, _cls)


def base_symbols(ipa: str) -> list[str]:
    """The base IPA letters of one espeak phoneme (diacritics, length and stress marks dropped): 'əʊ' -> ['ə', 'ʊ']."""
    out = []
    for ch in unicodedata.normalize("NFD", ipa):
        if unicodedata.category(ch).startswith("L") and ch not in "ːˑ":
            out.append(ch)
    return out


def viseme_class(symbol: str) -> str:
    return _SYMBOLS.get(symbol, "central" if symbol.isalpha() else "sil")


def mouth_track(
    phones: tuple[Phone, ...] | list[Phone],
    duration: float,
    *,
    rate: int = 100,
    lead_s: float = 0.10,
    smooth_s: float = 0.03,
    jaw_scale: float = 1.0,
) -> np.ndarray:
    """(round(duration*rate), 5) mouth targets sampled at ``rate`` Hz."""
    n = max(1, round(duration * rate))
    t = (np.arange(n) + 0.5) / rate
    # Split multi-symbol phones (diphthongs, affricates, syllabic 'əl') evenly across their duration.
    pieces: list[tuple[str, float, float]] = []
    for ph in phones:
        syms = base_symbols(ph.ipa) or ["?"]
        step = (ph.end - ph.start) / len(syms)
        pieces.extend((viseme_class(s), ph.start + k * step, ph.start + (k + 1) * step) for k, s in enumerate(syms))
    # Silence wherever no phone is sounding (pauses, leading/trailing silence).
    spoken = np.zeros(n, bool)
    for _, s, e in pieces:
        spoken[int(s * rate) : int(np.ceil(e * rate))] = True
    k = 0
    while k < n:
        if not spoken[k]:
            j = k
            while j < n and not spoken[j]:
                j += 1
            pieces.append(("sil", k / rate, j / rate))
            k = j
        else:
            k += 1
    targets = np.array([_VISEMES[c][:5] for c, _, _ in pieces], np.float32)
    dom = np.array([_VISEMES[c][5] for c, _, _ in pieces], np.float32)
    centre = np.array([(s + e) / 2 for _, s, e in pieces], np.float32)
    width = np.array([max((e - s) / 2, 0.025) for _, s, e in pieces], np.float32)
    track = _blend(t, targets, dom, centre, width)
    # Lips meet for every bilabial, whatever the coarticulation says.
    for c, s, e in pieces:
        if c == "bilabial":
            sl = slice(int(s * rate), max(int(s * rate) + 1, int(e * rate)))
            track[sl, 0] = np.minimum(track[sl, 0], 0.005)
    track[:, 0] *= jaw_scale
    track = _gauss_smooth(track, smooth_s * rate)
    shift = round(lead_s * rate)
    if shift > 0:
        track = np.concatenate([track[shift:], np.repeat(track[-1:], shift, axis=0)])
    return track.astype(np.float32)


def _blend(t, targets, dom, centre, width, block: int = 2000) -> np.ndarray:
    """Dominance-weighted blend of the targets at times ``t``, in blocks of ``block`` samples.

    Each piece only weighs within 5 of its widths (exp(-12.5) ~ 4e-6 beyond: negligible), so long audio costs
    O(n) memory instead of a (pieces x samples) matrix.
    """
    out = np.zeros((t.size, targets.shape[1]), np.float32)
    lo_piece, hi_piece = centre - 5 * width, centre + 5 * width
    for b in range(0, t.size, block):
        tb = t[b : b + block]
        sel = np.nonzero((hi_piece >= tb[0]) & (lo_piece <= tb[-1]))[0]
        if sel.size == 0:
            continue
        w = dom[sel, None] * np.exp(-0.5 * ((tb[None, :] - centre[sel, None]) / width[sel, None]) ** 2)
        out[b : b + block] = (w.T @ targets[sel]) / (w.sum(axis=0)[:, None] + 1e-9)
    return out


def _gauss_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    if sigma < 0.5:
        return x
    r = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, ((r, r), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, d], k, mode="valid") for d in range(x.shape[1])], axis=1)


def to_video_frames(track: np.ndarray, n_frames: int, rate: int = 100, fps: int = 25) -> np.ndarray:
    """Average a ``rate`` Hz track over each video frame's interval ``[i/fps, (i+1)/fps)``."""
    per = rate // fps
    need = n_frames * per
    if track.shape[0] < need:
        track = np.concatenate([track, np.repeat(track[-1:], need - track.shape[0], axis=0)])
    return track[:need].reshape(n_frames, per, -1).mean(axis=1)


# CMU/ARPAbet phones (PocketSphinx) as representative IPA, so recognised phones reuse the same viseme targets.
ARPABET_IPA = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "B": "b", "CH": "tʃ", "D": "d", "DH": "ð",
    "EH": "ɛ", "ER": "ɚ", "EY": "eɪ", "F": "f", "G": "ɡ", "HH": "h", "IH": "ɪ", "IY": "i", "JH": "dʒ", "K": "k",
    "L": "l", "M": "m", "N": "n", "NG": "ŋ", "OW": "oʊ", "OY": "ɔɪ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ",
    "T": "t", "TH": "θ", "UH": "ʊ", "UW": "u", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}  # fmt: skip
