"""Coverage-guided fuzzing of the verifier (atheris + libFuzzer): the container walk, the image-header parser, the
manifest section and the decoder entry, then the whole ``verify()``.

    python -m fuzz.verifier_fuzz CORPUS_DIR [SEED_DIR...] -max_total_time=60 -timeout=40 -rss_limit_mb=2048

A finding is any exception escaping ``verify()`` (it must answer UNREADABLE for bad media, never raise), a native
crash, a run over libFuzzer's ``-timeout`` (the verifier's own deadline is 30 s) or memory over ``-rss_limit_mb``.
libFuzzer writes the offending input as ``crash-*`` / ``timeout-*`` / ``oom-*`` in the working directory.
``make fuzz FUZZ_SECONDS=N`` runs it with the generated seeds (``fuzz/seeds.py``).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["verifier", "provenance"]):
    from provenance.mime import sniff_mime
    from provenance.validation import read_manifest
    from verifier import Limits, _decode, verify

LIMITS = Limits(timeout_s=20.0)


def one_input(data: bytes) -> None:
    mime = sniff_mime(data[:64])
    deadline = _decode.Deadline(LIMITS.timeout_s)
    # The stages one at a time: each may refuse with UnreadableMedia, nothing else.
    try:
        _decode.check_boxes(data, LIMITS, deadline)
        _decode.check_image_header(data, mime, LIMITS)
    except _decode.UnreadableMedia:
        return
    if mime:
        read_manifest(data, mime=mime, trust=None)  # reports damage as a status, never raises
    # The whole verification (decoder entry included): never raises for bad media.
    report = verify(data, limits=LIMITS, mode="fast" if len(data) % 2 else "full")
    report.to_json()


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
