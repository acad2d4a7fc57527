"""``dirfa-verify FILE...``: a thin CLI over :func:`verifier.verify`.

Exit codes (with several files, the highest one wins):
  0  every file VERIFIED
  10 SIGNED_UNTRUSTED   11 RECOVERED   12 WATERMARK_ONLY
  20 TAMPERED           21 MISMATCH
  30 NO_PROVENANCE      40 UNREADABLE
  2  usage error (bad arguments, missing file, unreadable trust bundle)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from . import __version__
from ._decode import Limits
from ._isolated import verify_isolated
from ._sources import SourceError, expand
from .report import SCHEMA_VERSION, Verdict, VerificationReport

EXIT_CODES: dict[Verdict, int] = {
    Verdict.VERIFIED: 0,
    Verdict.SIGNED_UNTRUSTED: 10,
    Verdict.RECOVERED: 11,
    Verdict.WATERMARK_ONLY: 12,
    Verdict.TAMPERED: 20,
    Verdict.MISMATCH: 21,
    Verdict.NO_PROVENANCE: 30,
    Verdict.UNREADABLE: 40,
}
EXIT_USAGE = 2


def _looks_like_address(text: str) -> bool:
    if text in ("auto", "local") or "://" in text:
        return True
    host, _, port = text.rpartition(":")
    return bool(host) and port.isdigit() and not os.path.exists(text)


def build_parser(prog: str = "dirfa-verify") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Check videos and images for this SDK's watermark and a signed C2PA manifest.",
        epilog="Exit codes: 0 verified, 10 signed_untrusted, 11 recovered, 12 watermark_only, 20 tampered, "
        "21 mismatch, 30 no_provenance, 40 unreadable, 2 usage error. Several files: the highest code.",
    )
    add_arguments(p)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "files", nargs="+", metavar="FILE",
        help="video or image files, folders (searched for media files), @LIST files (one path or URL a line), URLs",
    )  # fmt: skip
    p.add_argument("--trust", metavar="PEM", help="PEM bundle of trust anchors (root certificates) to trust")
    p.add_argument("--store", metavar="URL", help="manifest store URL (sqlite:///path.db or postgresql://...)")
    p.add_argument("--key-file", metavar="FILE", help="an organisation's private watermark key (default: public key)")
    p.add_argument("--json", action="store_true", help="print JSON reports (one object, or a list for several files)")
    p.add_argument("--fast", action="store_true", help="analyse key frames only (much faster; see docs/verifier.md)")
    p.add_argument(
        "--jobs", type=int, metavar="N",
        help="verify N files in parallel (0 = all cores; default 1, or every CPU of the cluster with --ray)",
    )  # fmt: skip
    p.add_argument(
        "--ray", nargs="?", const="local", metavar="ADDRESS",
        help="verify on a Ray cluster: 'auto' (the one this machine is in), ray://HOST:PORT, or none for a local "
        "one (needs the scale extra); reports stream as they complete",
    )  # fmt: skip
    p.add_argument(
        "--json-lines", metavar="OUT",
        help="append one JSON report per line to OUT as files complete ('-': stdout); files already in OUT are "
        "skipped, so an interrupted batch resumes",
    )  # fmt: skip
    p.add_argument(
        "--timeout",
        type=float,
        default=Limits.timeout_s,
        metavar="S",
        help=f"deadline per file in seconds (default {Limits.timeout_s:g}); a file over it reads UNREADABLE (limit)",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")


def run(ns: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING - 10 * min(ns.verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    kwargs: dict[str, Any] = {"mode": "fast" if ns.fast else "full", "store": ns.store}
    try:
        if ns.trust:
            from provenance.trust import TrustAnchors

            kwargs["trust"] = TrustAnchors.from_pem(ns.trust)
        if ns.key_file:
            with open(ns.key_file, "rb") as fh:
                kwargs["key"] = fh.read().strip()
    except (OSError, ValueError) as exc:
        print(f"dirfa-verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not ns.timeout > 0:
        print("dirfa-verify: --timeout must be positive", file=sys.stderr)
        return EXIT_USAGE
    kwargs["limits"] = Limits(timeout_s=ns.timeout)
    ray_address = ns.ray
    if ray_address is not None and not _looks_like_address(ray_address):
        ns.files.insert(0, ray_address)  # `--ray a.mp4 b.mp4`: a.mp4 is a file, the cluster a local one
        ray_address = "local"
    try:
        sources = expand(ns.files)
    except SourceError as exc:
        print(f"dirfa-verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not sources:
        print("dirfa-verify: no media files to verify", file=sys.stderr)
        return EXIT_USAGE
    if ray_address is not None or ns.json_lines:
        from ._batch import run_batch

        return run_batch(sources, kwargs, jobs=ns.jobs, ray_address=ray_address, out=ns.json_lines or "-")
    jobs = ns.jobs if ns.jobs and ns.jobs > 0 else (1 if ns.jobs is None else os.cpu_count() or 1)
    # Every file is verified in a supervised worker process: a decoder crash, a memory blow-up or a file past the
    # deadline costs that file an UNREADABLE report, never the batch (verifier._isolated).
    results = verify_isolated(sources, workers=min(jobs, len(sources)), **kwargs)

    code = 0
    for result in results:
        if "error" in result:
            print(f"dirfa-verify: {result['error']}", file=sys.stderr)
            code = max(code, EXIT_USAGE)
        else:
            code = max(code, EXIT_CODES[Verdict(result["verdict"])])
    if ns.json:
        body: Any = results[0] if len(results) == 1 else {"schema_version": SCHEMA_VERSION, "reports": results}
        print(json.dumps(body, indent=2))
    else:
        for result in results:
            if "error" not in result:
                print(format_human(result))
    return code


def format_human(r: dict[str, Any]) -> str:
    """A short, readable summary of one report (a ``to_dict()`` result)."""
    lines = [f"{r['source']}: {r['verdict'].upper()}", f"  {r['summary']}"]
    ai = {True: "yes", False: "no", None: "unknown"}[r["ai_generated"]]
    origin = r.get("ai_origin")
    if origin == "modified":
        ai += " (AI-modified: real media edited by an AI model, e.g. a dub)"
    elif origin == "generated":
        ai += " (generated from scratch)"
    lines.append(f"  AI-generated: {ai}")
    c = r["c2pa"]
    if c["present"]:
        lines.append(f"  manifest:  {c['status']} (c2pa state {c['validation_state']})")
        lines.append(f"             signer {c['signer_subject']}  issuer {c['signer_issuer']}")
        lines.append(f"             generator {c['claim_generator']}  source type {c['digital_source_type']}")
        if c["failure_codes"]:
            lines.append(f"             failures: {', '.join(c['failure_codes'])}")
    else:
        lines.append("  manifest:  none")
    w = r["watermark"]
    if w["analysed"]:
        p = w["log10_p"]
        stat = f"log10 p = {p:.1f}" if p is not None else ""
        state = f"found, content id {w['content_id']}" if w["found"] else "not found"
        lines.append(f"  watermark: {state}  {stat}  ({w['frames_analysed']} frames)")
        unmarked = [s for s in w["segments"] if not s["found"]]
        if w["found"] and unmarked:
            spans = ", ".join(f"{s['start_s']:.1f}-{s['end_s']:.1f} s" for s in unmarked)
            lines.append(f"             unmarked time ranges: {spans}")
    else:
        lines.append("  watermark: not analysed")
    a = r.get("audio_watermark") or {}
    if a.get("analysed"):
        p = a["log10_p"]
        stat = f"log10 p = {p:.1f}" if p is not None else ""
        state = f"found, content id {a['content_id']}" if a["found"] else "not found"
        speed = f", speed x{a['speed']:.3f}" if a["found"] and a.get("speed") not in (None, 1.0) else ""
        lines.append(f"  audio mark: {state}  {stat}  ({a['duration_s']:.1f} s of soundtrack{speed})")
    b = r["binding"]
    if b["checked"]:
        lines.append(
            f"  binding:   manifest soft binding {'matches' if b['matches'] else 'DOES NOT match'} the watermark"
        )
    rec = r["recovery"]
    if rec["attempted"]:
        if rec["found"]:
            lines.append(
                f"  recovery:  manifest {rec['manifest_id']} from the store: {rec['status']} ({rec['signer_subject']})"
            )
        else:
            lines.append("  recovery:  no manifest for this content ID in the store")
    for err in r["errors"]:
        lines.append(f"  note: {err}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    return run(ns)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["EXIT_CODES", "VerificationReport", "main"]
