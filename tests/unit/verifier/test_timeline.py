"""How detector windows become the report's time ranges (private helper; the splice test covers it end to end)."""

from verifier._verify import _timeline


def ranges(segments):
    return [(s.start_s, s.end_s, s.found) for s in segments]


def test_window_granularity_is_not_reported_as_unmarked():
    assert ranges(_timeline([(0.0, 9.0, "a")], 9.12)) == [(0.0, 9.12, True)]
    assert ranges(_timeline([(0.5, 3.0, "a"), (3.4, 9.0, "a")], 9.12)) == [(0.0, 9.12, True)]


def test_real_gaps_are_reported():
    assert ranges(_timeline([(0.0, 5.0, "a")], 9.12)) == [(0.0, 5.0, True), (5.0, 9.12, False)]
    assert ranges(_timeline([(0.0, 3.0, "a"), (6.0, 9.0, "a")], 9.0)) == [
        (0.0, 3.0, True),
        (3.0, 6.0, False),
        (6.0, 9.0, True),
    ]


def test_other_content_ids_stay_separate():
    segs = _timeline([(0.0, 4.0, "a"), (4.0, 8.0, "b")], 8.0)
    assert [(s.content_id, s.found) for s in segs] == [("a", True), ("b", True)]
