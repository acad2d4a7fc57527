"""The edit (dub) manifest definition: actions, source type, and marks declared exactly as a render declares them."""

from __future__ import annotations

import datetime as dt

import pytest

from provenance._edit_manifest import COMPOSITE_SOURCE_TYPE, EditInfo, build_edit_definition
from provenance.manifest import GENERATION_LABEL, Ingredient, ManifestInfo, ModelInfo, build_definition

WHEN = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.timezone.utc)
MODEL = ModelInfo("dirfa-motion", "2.0.0", "a" * 64)
SPEECH = Ingredient(b"RIFF....WAVEfmt ", "audio/wav", "speech.wav")


def _info(tmp_path, **kw) -> EditInfo:
    src = tmp_path / "source.mp4"
    src.write_bytes(b"\x00\x00\x00\x18ftypisom")
    edit = {"region": "mouth", "synthesised": [{"start_s": 0.0}]}
    args = dict(title="dub.mp4", content_id="0123456789ab", model=MODEL, seed=3, fps=25.0, duration=4.0, source=src,
                source_mime="video/mp4", audio=SPEECH, edit=edit)  # fmt: skip
    args.update(kw)
    return EditInfo(**args)


def test_edit_definition_declares_an_ai_edit_of_the_parent(tmp_path):
    d = build_edit_definition(_info(tmp_path), created_at=WHEN, source_sha256="b" * 64)
    by_label = {a["label"]: a["data"] for a in d["assertions"]}
    actions = by_label["c2pa.actions"]["actions"]
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited", "c2pa.watermarked"]
    assert actions[0]["parameters"]["ingredientIds"] == ["source"]
    assert actions[1]["digitalSourceType"] == COMPOSITE_SOURCE_TYPE
    assert actions[1]["softwareAgent"]["name"] == MODEL.name
    assert "c2pa.created" not in {a["action"] for a in actions}
    g = by_label[GENERATION_LABEL]
    assert g["operation"] == "dub" and g["source_sha256"] == "b" * 64 and g["region"] == "mouth"
    assert "portrait_sha256" not in g


def test_edit_definition_declares_the_marks_as_a_render_does(tmp_path):
    info = _info(tmp_path)
    render = ManifestInfo(title="x.mp4", content_id=info.content_id, model=MODEL, renderer="r", seed=1, fps=25.0,
                          duration=info.duration, image=SPEECH, audio=SPEECH)  # fmt: skip
    ref = {a["label"]: a for a in build_definition(render, created_at=WHEN)["assertions"]}
    got = {a["label"]: a for a in build_edit_definition(info, created_at=WHEN, source_sha256="b" * 64)["assertions"]}
    for label in set(ref) - {"c2pa.actions", GENERATION_LABEL}:
        assert got[label] == ref[label]
    ref_marks = [a for a in ref["c2pa.actions"]["data"]["actions"] if a["action"] == "c2pa.watermarked"]
    assert [a for a in got["c2pa.actions"]["data"]["actions"] if a["action"] == "c2pa.watermarked"] == ref_marks


def test_edit_info_rejects_bad_values(tmp_path):
    with pytest.raises(ValueError):
        _info(tmp_path, source_mime="video/webm")
    with pytest.raises(ValueError):
        _info(tmp_path, duration=0.0)
    with pytest.raises(ValueError):
        _info(tmp_path, created_at=dt.datetime(2026, 1, 1))
