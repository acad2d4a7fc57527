"""Every report the verifier produces validates against the published JSON Schema (docs/report.schema.json)."""

import json
from pathlib import Path

import jsonschema
import pytest

from verifier import SCHEMA_VERSION, Verdict, verify

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "report.schema.json").read_text())


def test_schema_is_valid_and_versioned():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert set(SCHEMA["properties"]["verdict"]["enum"]) == {v.value for v in Verdict}


@pytest.mark.parametrize("case", ["signed", "garbage", "empty"])
def test_reports_validate(case, signed_video):
    source = {"signed": signed_video, "garbage": b"nothing to see" * 20, "empty": b""}[case]
    for mode in ("full", "fast"):
        jsonschema.validate(json.loads(verify(source, mode=mode).to_json()), SCHEMA)
