"""``dirfa``: render, verify, demo and key management. A thin layer over the public API.

Exit codes of ``dirfa render``, ``dirfa dub``, ``dirfa render-batch`` (the highest over its jobs) and ``dirfa demo``:
  0  written and self-verified
  2  usage error (bad arguments, unreadable job file or identity)
  3  bad input (image, audio, output path) - nothing written for that job
  4  provenance could not be applied or did not verify - nothing written for that job
  5  the render stage failed (its worker process died) - nothing written for that job
``dirfa verify`` uses ``dirfa-verify``'s codes (0 verified, 10-40 by verdict).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

from provenance._version import __version__

EXIT_OK, EXIT_USAGE, EXIT_INPUT, EXIT_PROVENANCE, EXIT_RENDER = 0, 2, 3, 4, 5


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dirfa", description="Provenance-first talking-head generation (DIRFA).")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("render", help="animate a portrait with speech into a signed, watermarked MP4")
    r.add_argument("portrait", help="portrait image (JPEG, PNG, WebP, ...)")
    r.add_argument("audio", help="speech audio (WAV, MP3, M4A, FLAC, ...)")
    _render_options(r, required_output=True)

    b = sub.add_parser("render-batch", help="render every job of a JSON Lines job file")
    b.add_argument("jobs", help='job file: one {"portrait": ..., "audio": ..., "output": ..., "seed": ...} per line')
    b.add_argument("--workers", type=int, default=2, help="renders in flight (default 2)")
    b.add_argument("--size", type=int, default=512, help="output size in pixels (default 512)")
    b.add_argument("--framing", choices=("crop", "full"), default="crop", help="face-centred square or full image")
    b.add_argument("--fps", type=int, default=25, help="frames per second (default 25)")
    b.add_argument("--identity", nargs=2, metavar=("CHAIN_PEM", "KEY_PEM"), help="signing identity (default: dev)")
    b.add_argument("--json", action="store_true", help="print one JSON object per job")
    b.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="render on a Ray cluster ('auto', ray://HOST:PORT, or none for a local one; scale extra); "
        "--workers is then the number of actors (0 = one per cluster CPU)",
    )
    b.add_argument(
        "--identity-factory",
        metavar="MODULE:FUNCTION",
        help="with --ray: each worker calls this to get its SigningIdentity (e.g. a KMS callback)",
    )
    b.add_argument("--store", metavar="URL", help="manifest store URL every renderer records into (postgresql://...)")
    b.add_argument(
        "--return-bytes",
        action="store_true",
        help="with --ray: workers send the files back and this process writes them (no shared disk)",
    )

    u = sub.add_parser("dub", help="make the person in a video say new speech (signed as an AI edit of the video)")
    u.add_argument("video", help="source video (MP4 or MOV) of one speaking person")
    u.add_argument("audio", help="the new speech (WAV, MP3, M4A, FLAC, ...)")
    u.add_argument("-o", "--output", required=True, help="output .mp4 path")
    u.add_argument("--seed", type=int, help="random seed (default: random, reported)")
    u.add_argument("--extend", choices=("loop", "hold"), default="loop",
                   help="a video shorter than the speech loops (default) or holds its last frame")  # fmt: skip
    u.add_argument("--expressiveness", type=float, default=1.0, help="scale of the mouth movement (default 1.0)")
    u.add_argument("--identity", nargs=2, metavar=("CHAIN_PEM", "KEY_PEM"), help="signing identity (default: dev)")
    u.add_argument("--json", action="store_true", help="print the result as JSON")

    d = sub.add_parser("demo", help="render the bundled sample portrait and speech, then verify the result")
    _render_options(d, required_output=False)

    from verifier.cli import add_arguments

    v = sub.add_parser("verify", help="verify videos (same as dirfa-verify)")
    add_arguments(v)

    from ._cli_keys import register

    register(sub)
    return p


def _render_options(p: argparse.ArgumentParser, *, required_output: bool) -> None:
    p.add_argument("-o", "--output", required=required_output, help="output .mp4 path")
    p.add_argument("--seed", type=int, help="random seed (default: random, reported)")
    p.add_argument("--size", type=int, default=512, help="output size in pixels (default 512)")
    p.add_argument("--framing", choices=("crop", "full"), default="crop", help="face-centred square or full image")
    p.add_argument("--fps", type=int, default=25, help="frames per second (default 25)")
    p.add_argument("--identity", nargs=2, metavar=("CHAIN_PEM", "KEY_PEM"), help="signing identity (default: dev)")
    p.add_argument(
        "--expressiveness", type=float, default=1.0, help="scale of mouth, smile and brow movement (default 1.0)"
    )
    p.add_argument("--head-motion", type=float, default=1.0, help="scale of the head pose movement (default 1.0)")
    p.add_argument("--pose-from", metavar="VIDEO", help="take the head pose from this MP4/MOV video (retimed)")
    p.add_argument("--blinks-from", metavar="VIDEO", help="take the blinks from this MP4/MOV video (retimed)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _progress(enabled: bool):
    if not enabled:
        return None
    start = time.monotonic()

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        rate = done / max(time.monotonic() - start, 1e-6)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} frames {rate:5.1f} fps")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _render(ns: argparse.Namespace, portrait: Any, audio: Any, output: str) -> tuple[int, Any]:
    from provenance.errors import IdentityError
    from sdk import Generator, InputError, ProvenanceFailure, RenderError

    identity = None
    try:
        if ns.identity:
            from provenance.signing import SigningIdentity

            identity = SigningIdentity.from_pem(ns.identity[0], ns.identity[1])
        gen = Generator(identity=identity, size=ns.size, fps=ns.fps, framing=ns.framing)
        result = gen.render(
            portrait,
            audio,
            output=output,
            seed=ns.seed,
            expressiveness=ns.expressiveness,
            head_motion=ns.head_motion,
            pose_from=ns.pose_from,
            blinks_from=ns.blinks_from,
            progress=_progress(sys.stderr.isatty()),
        )
    except (InputError, IdentityError, ValueError) as exc:
        print(f"dirfa: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INPUT, None
    except ProvenanceFailure as exc:
        print(f"dirfa: provenance failure, nothing written: {exc}", file=sys.stderr)
        return EXIT_PROVENANCE, None
    except RenderError as exc:
        print(f"dirfa: render failed, nothing written: {exc}", file=sys.stderr)
        return EXIT_RENDER, None
    return EXIT_OK, result


def _exit_code(error: BaseException) -> int:
    from sdk import ProvenanceFailure, RenderError

    if isinstance(error, RenderError):
        return EXIT_RENDER
    return EXIT_PROVENANCE if isinstance(error, ProvenanceFailure) else EXIT_INPUT


def _print_result(result: Any, as_json: bool) -> None:
    if as_json:
        d = asdict(result)
        d["path"] = str(result.path)
        print(json.dumps(d, indent=2))
        return
    m = result.manifest
    print(f"wrote {result.path}")
    print(f"  {result.frame_count} frames, {result.duration:.2f} s at {result.fps} fps, {result.width}x{result.height}")
    print(f"  seed {result.seed}, watermark content id {result.content_id}")
    print(f"  signed by {m.signer}{'  [development identity: untrusted]' if m.development_identity else ''}")
    print(f"  self-verification: {result.verdict}; rendered in {result.timings.get('total', 0):.1f} s")


def cmd_render(ns: argparse.Namespace) -> int:
    code, result = _render(ns, ns.portrait, ns.audio, ns.output)
    if result is not None:
        _print_result(result, ns.json)
    return code


def cmd_dub(ns: argparse.Namespace) -> int:
    from provenance.errors import IdentityError
    from sdk import Generator, InputError, ProvenanceFailure

    try:
        identity = None
        if ns.identity:
            from provenance.signing import SigningIdentity

            identity = SigningIdentity.from_pem(ns.identity[0], ns.identity[1])
        result = Generator(identity=identity).dub(
            ns.video, ns.audio, output=ns.output, seed=ns.seed, extend=ns.extend,
            expressiveness=ns.expressiveness, progress=_progress(sys.stderr.isatty()),
        )  # fmt: skip
    except (InputError, IdentityError, ValueError, TypeError) as exc:
        print(f"dirfa: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except ProvenanceFailure as exc:
        print(f"dirfa: provenance failure, nothing written: {exc}", file=sys.stderr)
        return EXIT_PROVENANCE
    if ns.json:
        d = asdict(result)
        d["path"] = str(result.path)
        print(json.dumps(d, indent=2))
    else:
        lost = sum(b - a for a, b in result.face_lost)
        print(f"wrote {result.path}")
        size = f"{result.width}x{result.height}"
        print(f"  {result.frame_count} frames, {result.duration:.2f} s at {result.fps} fps, {size}")
        print(f"  mouth re-synthesised on {result.dubbed_frames} frames; face lost (passed through) on {lost}")
        print(f"  seed {result.seed}, watermark content id {result.content_id}")
        print(f"  self-verification: {result.verdict}; dubbed in {result.timings.get('total', 0):.1f} s")
    return EXIT_OK


def cmd_demo(ns: argparse.Namespace) -> int:
    data = resources.files("sdk") / "data"
    output = ns.output or "dirfa-demo.mp4"
    with resources.as_file(data / "portrait.jpg") as portrait, resources.as_file(data / "speech.wav") as audio:
        code, result = _render(ns, Path(portrait), Path(audio), output)
    if result is None:
        return code
    _print_result(result, ns.json)
    if ns.json:
        return code
    from provenance.trust import TrustAnchors
    from verifier import verify
    from verifier.cli import format_human

    print("\nA platform that trusts nobody in particular sees:")
    print(format_human(verify(result.path).to_dict()))
    if result.manifest.development_identity:
        print("\nA verifier told to trust this machine's development root (dirfa keys export-root) sees:")
        print(format_human(verify(result.path, trust=TrustAnchors.dev()).to_dict()))
    return code


def cmd_render_batch(ns: argparse.Namespace) -> int:
    from provenance.errors import IdentityError
    from sdk import Generator, read_jobs

    try:
        jobs = read_jobs(ns.jobs)
        identity = None
        if ns.identity:
            from provenance.signing import SigningIdentity

            identity = SigningIdentity.from_pem(ns.identity[0], ns.identity[1])
        if ns.identity_factory:
            from sdk.scale import IdentityRef

            identity = IdentityRef.from_factory(ns.identity_factory).load()  # this process checks it loads
        gen = Generator(identity=identity, store=ns.store, size=ns.size, fps=ns.fps, framing=ns.framing)
        if ns.ray is None:
            if ns.identity_factory or ns.return_bytes:
                raise ValueError("--identity-factory and --return-bytes need --ray")
            outcomes = gen.render_many(jobs, workers=ns.workers)
        else:
            from sdk.scale import IdentityRef

            ref = None
            if ns.identity_factory:
                ref = IdentityRef.from_factory(ns.identity_factory)
            elif ns.identity:
                ref = IdentityRef.pem(Path(ns.identity[0]).resolve(), Path(ns.identity[1]).resolve())
            outcomes = gen.render_many(jobs, workers=ns.workers, backend="ray", ray_address=ns.ray,
                                       identity_ref=ref, return_bytes=ns.return_bytes)  # fmt: skip
    except ImportError as exc:
        print(f"dirfa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, ValueError, TypeError, IdentityError) as exc:
        print(f"dirfa: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    code = EXIT_OK
    for o in outcomes:
        if o.error is not None:
            code = max(code, _exit_code(o.error))
        if ns.json:
            body = {
                "output": str(o.job.output),
                "ok": o.ok,
                "error": None if o.ok else f"{type(o.error).__name__}: {o.error}",
            }
            if o.result is not None:
                body.update(content_id=o.result.content_id, seed=o.result.seed, duration=o.result.duration)
            print(json.dumps(body))
        elif o.result is not None:
            print(f"ok     {o.job.output}  content id {o.result.content_id}  seed {o.result.seed}")
        else:
            print(f"FAILED {o.job.output}  {type(o.error).__name__}: {o.error}")
    return code


def cmd_verify(ns: argparse.Namespace) -> int:
    from verifier.cli import run

    return run(ns)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(ns.verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    handlers = {"render": cmd_render, "render-batch": cmd_render_batch, "demo": cmd_demo, "verify": cmd_verify,
                "dub": cmd_dub}  # fmt: skip
    handler = handlers.get(ns.command) or getattr(ns, "handler", None)
    if handler is None:
        parser.error(f"unknown command {ns.command}")
    return int(handler(ns))


if __name__ == "__main__":
    sys.exit(main())
