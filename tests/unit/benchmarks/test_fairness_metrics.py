"""The fairness benchmark's arithmetic, on synthetic distances and embeddings (no face models)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import fairness
from benchmarks.fairness import (
    ALL,
    UNLABELLED,
    InputError,
    Pair,
    Rate,
    Sample,
    build_report,
    figures,
    gate_outcomes,
    make_pairs,
    read_groups,
    read_manifest,
    small_group_warning,
    wilson_interval,
)
from gate_agent.matching import MatchKind

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples" / "faces"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "faces"
THRESHOLD = 0.6

MANIFEST = """path,identities,faces,notes
a/a_1.jpg,alice,1,
a/a_2.jpg,alice,1,low resolution
b/b_1.png,bob,1,
group/ab.jpg,alice;bob,2,
group/c_and_stranger.jpg,carol;unknown,2,
video/clip.mp4,alice,varies,
"""


def pair(distance: float, genuine: bool, *groups: str, people: tuple[str, ...] = ()) -> Pair:
    who = frozenset(people) if people else frozenset({"p"} if genuine else {"p", "q"})
    return Pair(distance, genuine, frozenset(groups), who)


def vector(*values: tuple[int, float]) -> np.ndarray:
    """A 128-d embedding with the given (axis, value) entries, zero elsewhere."""
    result = np.zeros(128)
    for axis, value in values:
        result[axis] = value
    return result


# ------------------------------------------------------------------------------------------
# Wilson interval and rates


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(0, 11)  # type: ignore[misc]
    assert low == 0.0
    assert high == pytest.approx(0.2588, abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(1, 1000) == pytest.approx((0.000177, 0.005648), abs=1e-5)
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("errors", "trials"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_interval_refuses_impossible_counts(errors: int, trials: int) -> None:
    with pytest.raises(ValueError, match="errors <= trials"):
        wilson_interval(errors, trials)


@given(trials=st.integers(1, 100_000), data=st.data())
def test_wilson_interval_holds_the_estimate_inside_zero_one(
    trials: int, data: st.DataObject
) -> None:
    errors = data.draw(st.integers(0, trials))
    interval = wilson_interval(errors, trials)
    assert interval is not None
    low, high = interval
    assert 0.0 <= low <= errors / trials <= high <= 1.0
    assert high - low > 0


def test_interval_narrows_with_more_trials() -> None:
    intervals = [wilson_interval(0, n) for n in (3, 30, 300, 3000)]
    widths = [high - low for low, high in filter(None, intervals)]
    assert widths == sorted(widths, reverse=True)
    # No errors in n trials still bounds the rate near 3.84 / (n + 3.84), not at 0.
    assert intervals[2] == pytest.approx((0.0, 3.84 / 303.84), abs=1e-4)


def test_rate_text_and_json() -> None:
    assert str(Rate(0, 11)) == "0/11 = 0% [0%-26%]"
    assert str(Rate(1, 1000)) == "1/1000 = 0.1% [0.018%-0.56%]"
    assert str(Rate(0, 0)) == "-"
    assert Rate(0, 0).as_dict() == {"errors": 0, "trials": 0, "rate": None, "ci95": None}
    shown = Rate(2, 8).as_dict()
    assert shown["rate"] == 0.25
    assert shown["ci95"] == pytest.approx([0.0715, 0.5907], abs=1e-4)


# ------------------------------------------------------------------------------------------
# FNMR, FMR, groups and warnings on synthetic distances


def test_fnmr_and_fmr_at_the_threshold() -> None:
    pairs = [
        pair(0.30, True),
        pair(0.60, True),  # exactly at the threshold: a match (face_recognition's <=)
        pair(0.61, True),  # false non-match
        pair(0.90, True),  # false non-match
        pair(0.60, False),  # false match
        pair(0.59, False),  # false match
        pair(0.75, False),
        pair(1.00, False),
    ]
    row = figures(ALL, [], pairs, [], THRESHOLD)
    assert (row.fnmr.errors, row.fnmr.trials) == (2, 4)
    assert (row.fmr.errors, row.fmr.trials) == (2, 4)
    assert row.max_genuine == 0.90
    assert row.min_impostor == 0.59
    assert figures(ALL, [], pairs, [], threshold=0.65).fnmr.errors == 1


def test_a_pair_counts_for_every_group_of_its_two_photos() -> None:
    pairs = [
        pair(0.7, True, "low resolution"),  # both photos low resolution
        pair(0.2, True, "low resolution", "larger"),  # one of each
        pair(0.3, True, "larger"),
        pair(0.5, False, "larger"),
        pair(0.8, False, "RGBA PNG", "larger"),
    ]
    by_group = {
        name: figures(name, [], pairs, [], THRESHOLD)
        for name in (ALL, "low resolution", "larger", "RGBA PNG")
    }
    assert by_group[ALL].fnmr == Rate(1, 3)
    assert by_group["low resolution"].fnmr == Rate(1, 2)
    assert by_group["larger"].fnmr == Rate(0, 2)
    assert by_group["larger"].fmr == Rate(1, 2)
    assert by_group["RGBA PNG"].fnmr == Rate(0, 0)
    assert by_group["RGBA PNG"].fmr == Rate(0, 1)
    assert by_group["RGBA PNG"].max_genuine is None


def test_counts_photos_people_and_failures_to_acquire_per_group() -> None:
    samples = [
        Sample("a1", "alice", frozenset({"x"}), vector((0, 0.1))),
        Sample("a2", "alice", frozenset({"x", "y"}), vector((0, 0.2))),
        Sample("b1", "bob", frozenset({"y"}), None, "face-cut-off"),
        Sample("c1", "carol", frozenset({"y"}), None, "no-face"),
    ]
    x = figures("x", samples, make_pairs(samples), [], THRESHOLD)
    y = figures("y", samples, make_pairs(samples), [], THRESHOLD)
    assert (x.photos, x.people, x.not_usable) == (2, 1, Rate(0, 2))
    assert (y.photos, y.people, y.not_usable) == (3, 3, Rate(2, 3))
    assert y.fnmr == Rate(0, 1)
    assert y.genuine_people == 1


def test_small_groups_are_flagged_with_their_uncertainty() -> None:
    warning = small_group_warning("low resolution", Rate(0, 3), 1, Rate(0, 10))
    assert warning is not None
    assert "'low resolution'" in warning
    assert "3 genuine pairs (fewer than 30)" in warning
    assert "of 1 person (fewer than 10)" in warning
    assert "10 impostor pairs (fewer than 30)" in warning
    assert "FNMR 0/3 = 0% [0%-56%]" in warning
    assert "FMR 0/10 = 0% [0%-28%]" in warning
    assert "Anecdotal" in warning

    empty = small_group_warning("face cut at border", Rate(0, 0), 0, Rate(0, 0))
    assert empty is not None
    assert "no FNMR; no FMR" in empty
    assert "brackets" not in empty


def test_many_pairs_of_few_people_are_flagged_too() -> None:
    warning = small_group_warning("all", Rate(1, 44), 5, Rate(0, 146))
    assert warning is not None
    assert "44 genuine pairs of 5 people (fewer than 10)" in warning
    assert "impostor" not in warning
    assert small_group_warning("all", Rate(1, 44), 12, Rate(0, 146)) is None
    assert small_group_warning("all", Rate(0, 29), 12, Rate(0, 30)) is not None
    assert small_group_warning("all", Rate(0, 30), 12, Rate(0, 29)) is not None
    assert small_group_warning("all", Rate(0, 5), 2, Rate(0, 5), min_pairs=5, min_people=2) is None


def test_figures_carry_the_warning() -> None:
    pairs = [pair(0.2, True, "g", people=(f"p{i}",)) for i in range(40)]
    pairs += [pair(0.9, False, "g") for _ in range(40)]
    assert figures("g", [], pairs, [], THRESHOLD).warning is None
    assert figures("g", [], pairs[:10] + pairs[40:], [], THRESHOLD).warning is not None


# ------------------------------------------------------------------------------------------
# Pairs and gate decisions from synthetic embeddings


def test_make_pairs_compares_every_usable_photo_once() -> None:
    samples = [
        Sample("a1", "alice", frozenset({"x"}), vector()),
        Sample("a2", "alice", frozenset({"y"}), vector((0, 0.3))),
        Sample("b1", "bob", frozenset(), vector((1, 0.4))),
        Sample("b2", "bob", frozenset(), None, "no-face"),
    ]
    pairs = make_pairs(samples)
    assert len(pairs) == 3
    ordered = sorted(pairs, key=lambda p: p.distance)
    assert [p.distance for p in ordered] == pytest.approx([0.3, 0.4, 0.5])
    assert [p.genuine for p in ordered] == [True, False, False]
    genuine = next(p for p in pairs if p.genuine)
    assert genuine.groups == {"x", "y"}
    assert genuine.identities == {"alice"}
    assert make_pairs(samples[:1]) == []


def test_gate_outcomes_apply_threshold_and_margin() -> None:
    samples = [
        Sample("a1", "alice", frozenset({"x"}), vector()),
        Sample("a2", "alice", frozenset({"x"}), vector((0, 0.3))),
        # One photo only: a stranger to the gallery, and nearly as close to a1 as a2 is.
        Sample("d1", "dave", frozenset({"y"}), vector((1, 0.32))),
        Sample("e1", "erin", frozenset({"y"}), vector((2, 2.0))),
    ]
    outcomes = {o.identity + str(i): o for i, o in enumerate(gate_outcomes(samples, 0.6, 0.05))}
    a1, a2, d1, e1 = outcomes.values()
    assert (a1.enrolled, a1.kind) == (True, MatchKind.AMBIGUOUS)  # alice 0.30, dave 0.32
    assert (a2.enrolled, a2.kind, a2.matched) == (True, MatchKind.MATCH, "alice")
    assert a2.recognised
    assert (d1.enrolled, d1.kind, d1.matched) == (False, MatchKind.MATCH, "alice")
    assert d1.admitted_as_someone_else
    assert (e1.enrolled, e1.kind) == (False, MatchKind.NONE)

    x = figures("x", samples, [], list(outcomes.values()), 0.6)
    assert x.gate_missed == Rate(1, 2)
    assert (x.gate_ambiguous, x.gate_wrong_person) == (1, 0)
    y = figures("y", samples, [], list(outcomes.values()), 0.6)
    assert y.strangers_admitted == Rate(1, 2)
    assert y.gate_missed == Rate(0, 0)

    # Without a margin the same photos decide.
    relaxed = gate_outcomes(samples, 0.6, 0.0)
    assert relaxed[0].recognised


def test_build_report_rows_json_and_text() -> None:
    samples = [
        Sample("a1", "alice", frozenset({"larger"}), vector()),
        Sample("a2", "alice", frozenset({"low resolution"}), vector((0, 0.7))),
        Sample("b1", "bob", frozenset({"RGBA PNG"}), vector((1, 0.9))),
        Sample("b2", "bob", frozenset({UNLABELLED}), None, "face-cut-off"),
    ]
    report = build_report(
        samples, threshold=0.6, margin=0.05, data="synthetic", skipped={"g.jpg": "x"}
    )
    assert [row.group for row in report.rows] == [
        ALL,
        "larger",
        "low resolution",
        "RGBA PNG",
        UNLABELLED,
    ]
    everyone = report.rows[0]
    assert everyone.fnmr == Rate(1, 1)
    assert everyone.fmr == Rate(0, 2)
    assert everyone.not_usable == Rate(1, 4)

    data = json.loads(json.dumps(report.as_dict()))
    assert data["threshold"] == 0.6
    assert data["groups"][0]["fnmr"]["rate"] == 1.0
    assert data["groups"][0]["genuine_pairs"] == 1
    assert data["photos"][3] == {
        "path": "b2",
        "identity": "bob",
        "groups": [UNLABELLED],
        "usable": False,
        "failure": "face-cut-off",
    }
    assert len(data["warnings"]) == 5
    assert "embedding" not in json.dumps(data)

    out = io.StringIO()
    fairness.render(report, out)
    text = out.getvalue()
    assert "synthetic: 4 photos of 2 people, 3 usable" in text
    assert "1/1 = 100% [21%-100%]" in text
    assert "b2: face-cut-off" in text
    assert "WARNING: 5 of 5 rows" in text
    assert "not how fair" in text


# ------------------------------------------------------------------------------------------
# Manifest and groups file


def test_read_manifest_keeps_single_person_photos() -> None:
    manifest = read_manifest(MANIFEST)
    assert [(p.path, p.identity) for p in manifest.photos] == [
        ("a/a_1.jpg", "alice"),
        ("a/a_2.jpg", "alice"),
        ("b/b_1.png", "bob"),
    ]
    assert manifest.skipped == {
        "group/ab.jpg": "not one known person",
        "group/c_and_stranger.jpg": "not one known person",
        "video/clip.mp4": "not a photo",
    }
    assert manifest.identities == {"alice", "bob", "carol"}


def test_read_manifest_needs_its_columns() -> None:
    with pytest.raises(InputError, match="no identities column"):
        read_manifest("path,who\na.jpg,alice\n", "m.csv")
    with pytest.raises(InputError, match=r"m\.csv line 2: no path"):
        read_manifest("path,identities\n,alice\n", "m.csv")


def test_read_groups_by_path_with_comments_and_several_groups() -> None:
    text = (
        "# capture conditions\n"
        "path,group\n"
        "a/a_1.jpg,larger\n"
        "\n"
        "a/a_2.jpg,low resolution\n"
        'a/a_2.jpg,"240 px, JPEG"\n'
        "group/ab.jpg,larger\n"  # a skipped photo of the manifest: accepted, unused
    )
    groups = read_groups(text, read_manifest(MANIFEST))
    assert groups == {
        "a/a_1.jpg": {"larger"},
        "a/a_2.jpg": {"low resolution", "240 px, JPEG"},
        "b/b_1.png": set(),
    }


def test_read_groups_by_identity() -> None:
    groups = read_groups(
        "identity,group\nalice,cohort A\ncarol,cohort B\n", read_manifest(MANIFEST)
    )
    assert groups == {"a/a_1.jpg": {"cohort A"}, "a/a_2.jpg": {"cohort A"}, "b/b_1.png": set()}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "g.csv: empty; expected a header"),
        ("# only a comment\n", "g.csv: empty"),
        ("file,group\n", "g.csv line 1: the header is 'file,group'"),
        (
            "path,group\na/a_3.jpg,larger\n",
            "g.csv line 2: 'a/a_3.jpg' is not a path of the manifest",
        ),
        (
            "# c\npath,group\n\na/a_1.jpg,x\nA/A_1.JPG,x\n",
            "g.csv line 5: 'A/A_1.JPG' is not a path",
        ),
        ("identity,group\nmallory,x\n", "g.csv line 2: 'mallory' is not an identity"),
        ("path,group\na/a_1.jpg\n", "g.csv line 2: expected 2 columns, got 1"),
        ("path,group\na/a_1.jpg,x,y\n", "g.csv line 2: expected 2 columns, got 3"),
        ("path,group\na/a_1.jpg, \n", "g.csv line 2: empty group for 'a/a_1.jpg'"),
    ],
)
def test_read_groups_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        read_groups(text, read_manifest(MANIFEST), "g.csv")
    assert message in str(caught.value)


def test_bad_groups_file_stops_before_any_photo_is_analysed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "manifest.csv").write_text(MANIFEST, encoding="utf-8")
    labels = tmp_path / "groups.csv"
    labels.write_text("path,group\nnope.jpg,x\n", encoding="utf-8")
    with pytest.raises(SystemExit) as caught:
        fairness.main(["--data", str(tmp_path), "--groups", str(labels)])
    assert caught.value.code == 2
    assert "'nope.jpg' is not a path of the manifest" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        fairness.main(["--data", str(tmp_path), "--groups", str(tmp_path / "missing.csv")])
    assert "missing.csv: cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("labels", "data"),
    [
        ("groups_capture_condition.csv", SAMPLES),
        ("groups_capture_condition_fixtures.csv", FIXTURES),
    ],
)
def test_shipped_labels_cover_every_photo_with_one_capture_condition(
    labels: str, data: Path
) -> None:
    if not (data / "manifest.csv").exists():
        pytest.skip(f"{data.name} is not beside the project")
    manifest = read_manifest((data / "manifest.csv").read_text(encoding="utf-8"))
    groups = read_groups((ROOT / "benchmarks" / labels).read_text(encoding="utf-8"), manifest)
    assert all(len(names) == 1 for names in groups.values()), groups
    assert {name for names in groups.values() for name in names} == {
        "larger JPEG",
        "low resolution",
        "RGBA PNG",
        "face cut at border",
    }
