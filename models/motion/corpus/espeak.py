"""Speech synthesis with per-phoneme timings through the libespeak-ng C API (ctypes).

The CLI cannot report phoneme times (``--pho`` needs MBROLA voices); the C API can: with
``espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_PHONEME_IPA`` the synth callback receives ``espeakEVENT_PHONEME``
events whose ``audio_position`` (ms) marks the start of each phoneme; a phoneme ends where the next event starts.

libespeak-ng keeps global state, so one process-wide engine is used behind a lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Phone:
    """One phoneme as espeak-ng spoke it: IPA symbol(s) (stress marks kept) and times in seconds."""

    ipa: str
    start: float
    end: float


@dataclass(frozen=True)
class Utterance:
    samples: np.ndarray  # float32 mono in [-1, 1] at ``sample_rate``
    sample_rate: int
    phones: tuple[Phone, ...]
    word_starts: tuple[float, ...]  # seconds


class EspeakError(RuntimeError):
    """libespeak-ng is missing or failed."""


class _Engine:
    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self.lib = ctypes.CDLL(name)
        except OSError as exc:
            raise EspeakError(f"libespeak-ng not found ({name}); apt-get install espeak-ng") from exc
        lib = self.lib
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_SetSynthCallback.argtypes = (_CALLBACK,)
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        )
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA)
        if rate <= 0:
            raise EspeakError("espeak_Initialize failed")
        self.sample_rate = int(rate)
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, bytes]] = []
        self._cb = _CALLBACK(self._on_audio)  # keep a reference: ctypes does not
        lib.espeak_SetSynthCallback(self._cb)
        self.lock = threading.Lock()

    def _on_audio(self, wav, num, events) -> int:
        if num > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num,)).astype(np.float32) / 32768.0)
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                self._events.append((ev.type, ev.audio_position, bytes(ev.id.string).split(b"\0")[0]))
            elif ev.type == _EVENT_WORD:
                self._events.append((ev.type, ev.audio_position, b""))
            i += 1
        return 0

    def synth(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> Utterance:
        with self.lock:
            self._chunks, self._events = [], []
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise EspeakError(f"unknown espeak-ng voice {voice!r}")
            for param, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range)):
                self.lib.espeak_SetParameter(param, int(value), 0)
            self.lib.espeak_SetParameter(_PARAM_VOLUME, 100, 0)
            data = text.encode("utf-8") + b"\0"
            err = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if err != 0:
                raise EspeakError(f"espeak_Synth failed ({err})")
            chunks, events = self._chunks, self._events
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        duration = samples.size / self.sample_rate
        starts = [(pos / 1000.0, name.decode("utf-8", "replace")) for t, pos, name in events if t == _EVENT_PHONEME]
        phones = []
        for k, (start, ipa) in enumerate(starts):
            end = starts[k + 1][0] if k + 1 < len(starts) else duration
            if ipa and end > start:
                phones.append(Phone(ipa, start, min(end, duration)))
        words = tuple(pos / 1000.0 for t, pos, _ in events if t == _EVENT_WORD)
        return Utterance(samples, self.sample_rate, tuple(phones), words)


_engine: _Engine | None = None


def synthesize(text: str, *, voice: str = "en", rate: int = 170, pitch: int = 50, pitch_range: int = 50) -> Utterance:
    """Speak ``text`` with an espeak-ng voice (e.g. ``"en"``, ``"de+f3"``); rate in words per minute, pitch 0-99."""
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine.synth(text, voice, rate, pitch, pitch_range)
