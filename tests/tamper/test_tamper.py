"""The tamper suite: every untouched case verifies, every tampered case is reported tampered or invalid.

Vectors come from ``tests/tamper/generate.py`` (run once per module into a temp dir); the expectation of each
case is the third column of its ``cases.tsv`` line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance.signing import IdentityError
from provenance.trust import TrustAnchors
from provenance.validation import (
    FailureReason,
    ManifestStatus,
    RecoveryStatus,
    read_manifest,
    validate_detached,
)
from tests.tamper.generate import CASES, CONTENT_ID, generate


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    out = tmp_path_factory.mktemp("tamper")
    return out, generate(out)


def _parse(expect: str) -> tuple[set[str], str | None, set[str] | None]:
    main, _, detached = expect.partition("; detached:")
    statuses, _, reason_part = main.partition(":")
    reason = None
    if reason_part:
        reason, _, more = reason_part.partition("|")
        statuses = "|".join([statuses, more]) if more else statuses
    return set(statuses.split("|")), reason, set(detached.split("|")) if detached else None


def test_cases_tsv_has_one_line_per_case(vectors):
    out, _ = vectors
    lines = (out / "cases.tsv").read_text().splitlines()[1:]
    assert [line.split("\t")[0] for line in lines] == [c.name for c in CASES]
    assert all(len(line.split("\t")) == 3 for line in lines)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(vectors, case):
    out, results = vectors
    result = results[case.name]
    if case.expect.startswith("refused:"):
        assert isinstance(result, IdentityError), result
        assert type(result).__name__ == case.expect.removeprefix("refused:")
        return
    assert isinstance(result, Path), f"{case.name} could not be made: {result!r}"
    anchors = TrustAnchors.from_pem(out / "anchors.pem")
    finding = read_manifest(result, trust=anchors)
    statuses, reason, detached = _parse(case.expect)
    assert finding.status.name in statuses, (finding.status, finding.failures)
    if reason is not None and finding.status is ManifestStatus.INVALID:
        assert FailureReason(reason) in finding.reasons, finding.failures
    if case.untouched:
        assert finding.is_trusted
        assert finding.soft_binding.value == CONTENT_ID
    else:
        assert not finding.is_trusted, "a tampered or untrusted case must never verify"
    if detached is not None:
        manifest = (out / "signed.manifest.c2pa").read_bytes()
        recovery = validate_detached(manifest, result, content_id=CONTENT_ID, trust=anchors)
        assert recovery.status.name in detached, (recovery.status, recovery.finding.failures)
        assert validate_detached(manifest, result, content_id="000000000000", trust=anchors).status is (
            RecoveryStatus.SOFT_BINDING_MISMATCH
        )
