"""Batches on a real local Ray cluster (started here, num_cpus=2): verification with a crashing input and a worker
killed mid-batch, the CLI's resumable JSON Lines, and a render farm whose files come back as bytes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from verifier.scale import verify_on_ray  # noqa: E402

FAULTY = "tests.unit.verifier._faulty:faulty_verify"


@pytest.fixture(scope="module")
def cluster():
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def batch(tmp_path_factory, signed_video):
    d = tmp_path_factory.mktemp("batch")
    for name in ("slow-a.mp4", "slow-b.mp4", "c.mp4", "d.mp4"):
        shutil.copy(signed_video, d / name)
    (d / "garbage.mp4").write_bytes(b"\x00not a video" * 500)
    (d / "segv.mp4").write_bytes(b"crash me")
    return d


def _actor_pids() -> list[int]:
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::_VerifierActor"):
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue
    return pids


def test_a_killed_worker_loses_no_result_and_a_crash_costs_one_report(cluster, batch):
    sources = [str(batch / n) for n in ("slow-a.mp4", "slow-b.mp4", "c.mp4", "garbage.mp4", "segv.mp4", "d.mp4")]
    killed: list[int] = []

    def kill_one():  # both actors are busy with a slow file by now: the kill hits a call in flight
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not killed:
            busy = [p for p in _actor_pids() if b"verify" in Path(f"/proc/{p}/cmdline").read_bytes()]
            if busy:
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.2)

    threading.Timer(1.5, kill_one).start()
    reports = list(verify_on_ray(sources, mode="fast", target=FAULTY, in_flight=2))
    assert killed, "no actor was killed: the test did not test anything"
    by_source = {r["source"]: r for r in reports}
    assert sorted(by_source) == sorted(sources) and len(reports) == len(sources)  # every file, once
    for name in ("slow-a.mp4", "slow-b.mp4", "c.mp4", "d.mp4"):  # the killed call was retried on a new actor
        assert by_source[str(batch / name)]["verdict"] == "signed_untrusted", by_source[str(batch / name)]["summary"]
    assert by_source[str(batch / "garbage.mp4")]["verdict"] == "unreadable"
    crashed = by_source[str(batch / "segv.mp4")]
    assert crashed["verdict"] == "unreadable" and "crashed (signal 11)" in crashed["summary"]


def test_the_cli_streams_json_lines_and_resumes(cluster, batch, tmp_path, capsys):
    from verifier.cli import main

    out = tmp_path / "reports.jsonl"
    listing = tmp_path / "list.txt"
    listing.write_text(f"# two files\n{batch / 'c.mp4'}\n{batch / 'garbage.mp4'}\n")
    assert main(["--ray", "--fast", "--json-lines", str(out), f"@{listing}"]) == 40  # garbage is unreadable
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(x["source"] for x in lines) == sorted([str(batch / "c.mp4"), str(batch / "garbage.mp4")])
    assert "2 verified" in capsys.readouterr().err
    with out.open("a") as fh:
        fh.write('{"source": "cut mid-wr')  # a crash while writing the last line
    assert main(["--ray", "--fast", "--json-lines", str(out), f"@{listing}", str(batch / "d.mp4")]) == 40
    err = capsys.readouterr().err
    assert "1 verified" in err and "2 already in" in err
    reports = [json.loads(x) for x in out.read_text().splitlines() if x.startswith('{"verdict"')]
    assert [r["source"] for r in reports][-1] == str(batch / "d.mp4") and len(reports) == 3


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    from provenance._c2pa_samples import write_pki

    return write_pki(tmp_path_factory.mktemp("org-pki"), org="farm test org")


@pytest.mark.slow
def test_a_render_farm_returns_files_and_isolates_a_bad_job(cluster, tmp_path, portrait_path, short_speech, org):
    import numpy as np

    from models.motion.audio import encode_wav
    from provenance.signing import SigningIdentity
    from provenance.trust import TrustAnchors
    from sdk import Generator, RenderJob
    from sdk.scale import IdentityRef
    from verifier import verify

    silent = tmp_path / "silent.wav"
    silent.write_bytes(encode_wav(np.zeros(32000, np.float32), 16000))
    jobs = [
        RenderJob(portrait_path, short_speech, tmp_path / "out" / "a.mp4", seed=3),
        RenderJob(portrait_path, silent, tmp_path / "out" / "silent.mp4", seed=3),
    ]
    generator = Generator(size=512, identity=SigningIdentity.from_pem(org["chain.pem"], org["leaf.key"]))
    with pytest.raises(ValueError, match="never leaves its process"):  # the key itself is never sent
        generator.render_many(jobs, backend="ray")
    ref = IdentityRef.pem(org["chain.pem"], org["leaf.key"])  # each worker reads the key from its own disk
    assert b"PRIVATE KEY" not in __import__("pickle").dumps(ref)
    outcomes = generator.render_many(jobs, workers=2, backend="ray", identity_ref=ref, return_bytes=True)
    assert [o.job.output for o in outcomes] == [j.output for j in jobs]  # input order
    good, bad = outcomes
    assert good.ok and good.result.path == jobs[0].output and not bad.ok
    assert type(bad.error).__name__ == "AudioError"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4"]  # nothing else, nothing half-written
    report = verify(good.result.path, trust=TrustAnchors.from_pem(org["root.pem"].read_bytes()))
    assert report.verdict.value == "verified" and "farm test org" in (report.c2pa.signer_issuer or "") + str(
        report.c2pa.signer_subject
    )
    assert report.watermark.content_id == good.result.content_id


def test_identity_references_hold_no_key(tmp_path):
    from sdk.scale import IdentityRef

    with pytest.raises(ValueError, match="module:function"):
        IdentityRef.from_factory("no_colon")
    ref = IdentityRef.from_factory("provenance.signing:dev_identity")
    assert ref.load().is_development


@pytest.mark.slow
def test_render_batch_on_ray_survives_a_killed_actor(cluster, tmp_path, portrait_path, short_speech, capsys):
    from sdk.cli import main

    (tmp_path / "out").mkdir()
    lines = [json.dumps({"portrait": str(portrait_path), "audio": str(short_speech), "output": f"out/{i}.mp4",
                         "seed": i}) for i in range(3)]  # fmt: skip
    (tmp_path / "jobs.jsonl").write_text("\n".join(lines) + "\n")
    killed: list[int] = []

    def kill_one():  # an actor busy rendering: SIGKILL it, as a lost node or the OOM killer would
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    if cmdline.read_bytes().startswith(b"ray::_RenderActor.render"):
                        os.kill(int(cmdline.parent.name), signal.SIGKILL)
                        killed.append(int(cmdline.parent.name))
                        break
                except OSError:
                    continue
            time.sleep(0.3)

    killer = threading.Thread(target=kill_one, daemon=True)
    killer.start()
    code = main(["render-batch", str(tmp_path / "jobs.jsonl"), "--ray", "--workers", "2", "--json"])
    killer.join()
    assert killed, "no render actor was killed: the test did not test anything"
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert code == 0 and [r["ok"] for r in rows] == [True, True, True]  # the killed job was retried
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.mp4", "1.mp4", "2.mp4"]
