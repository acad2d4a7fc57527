"""Speech synthesis with per-phone timings from the Festival speech synthesis system (its ``festival`` binary).

espeak-ng is a formant synthesiser: nothing in its sound was ever spoken by a person. Festival's English voices are
closer to real speech. ``kal`` and ``ked`` are diphone voices, which concatenate segments recorded from real
speakers. ``slt`` is an HTS voice: a statistical model trained on a real speaker's recordings (CMU ARCTIC).
Festival reports each segment's end time and each word's first segment, which give the same ``Utterance`` as
``models.motion.corpus.espeak``.

Install on Debian/Ubuntu: ``apt-get install festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts``.
Training only: nothing at render time uses Festival.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import wave

import numpy as np

from .espeak import Phone, Utterance

VOICES = {"kal": "voice_kal_diphone", "ked": "voice_ked_diphone", "slt": "voice_cmu_us_slt_arctic_hts"}

# Festival's US phone set (radio) is ARPAbet in lower case plus these; pauses are dropped.
_EXTRA_IPA = {"ax": "ə", "axr": "ɚ", "el": "əl", "em": "əm", "en": "ən", "dx": "d", "nx": "n", "hh": "h"}
_SILENCE = {"pau", "h#", "brth", "#"}


class FestivalError(RuntimeError):
    """The ``festival`` binary or a voice is missing, or synthesis failed."""


def available(voice: str = "kal") -> bool:
    """Whether ``festival`` is installed with ``voice``."""
    if shutil.which("festival") is None:
        return False
    try:
        synthesize("Hello.", voice=voice)
    except FestivalError:
        return False
    return True


def _ipa(phone: str) -> str | None:
    from .visemes import ARPABET_IPA

    if phone in _SILENCE:
        return None
    return _EXTRA_IPA.get(phone) or ARPABET_IPA.get(phone.upper())


def synthesize(text: str, *, voice: str = "kal", stretch: float = 1.0, timeout_s: float = 60.0) -> Utterance:
    """Speak ``text`` with a Festival voice (``VOICES``); ``stretch`` > 1 speaks slower (diphone voices only)."""
    if voice not in VOICES:
        raise ValueError(f"unknown Festival voice {voice!r}; choose from {sorted(VOICES)}")
    if shutil.which("festival") is None:
        raise FestivalError("festival is not installed (apt-get install festival festvox-kallpc16k ...)")
    safe = re.sub(r'["\\]', " ", text)
    with tempfile.TemporaryDirectory(prefix="dirfa-festival-") as tmp:
        wav = os.path.join(tmp, "out.wav")
        script = os.path.join(tmp, "say.scm")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(
                f"({VOICES[voice]})\n"
                f"(Parameter.set 'Duration_Stretch {float(stretch):.4f})\n"
                f'(set! utt (Utterance Text "{safe}"))\n'
                "(utt.synth utt)\n"
                f'(utt.save.wave utt "{wav}" \'riff)\n'
                '(mapcar (lambda (s) (format t "S %s %f\\n" (item.name s) (item.feat s "end")))'
                " (utt.relation.items utt 'Segment))\n"
                '(mapcar (lambda (w) (format t "W %f\\n"'
                ' (item.feat w "R:SylStructure.daughter1.daughter1.segment_start")))'
                " (utt.relation.items utt 'Word))\n"
            )
        try:
            proc = subprocess.run(["festival", "-b", script], capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FestivalError(f"festival failed: {exc}") from exc
        if proc.returncode != 0 or not os.path.exists(wav):
            raise FestivalError(f"festival failed (voice {voice}): {proc.stderr.strip()[-300:]}")
        with wave.open(wav, "rb") as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            raw = w.readframes(w.getnframes())
    if width != 2:
        raise FestivalError(f"unexpected sample width {width}")
    samples = np.frombuffer(raw, "<i2").reshape(-1, channels).mean(axis=1).astype(np.float32) / 32768.0
    phones, words, start = [], [], 0.0
    for line in proc.stdout.splitlines():
        kind, *rest = line.split()
        if kind == "S" and len(rest) == 2:
            end = float(rest[1])
            ipa = _ipa(rest[0])
            if ipa is not None and end > start:
                phones.append(Phone(ipa, start, end))
            start = end
        elif kind == "W" and len(rest) == 1:
            words.append(float(rest[0]))
    if not phones:
        raise FestivalError(f"festival reported no phones for {text!r}")
    return Utterance(samples, rate, tuple(phones), tuple(words))
