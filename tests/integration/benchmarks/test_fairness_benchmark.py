"""The fairness benchmark on a few real sample photos: the face models, the groups file, JSON.

Five photos (two of Obama at 240 px, two of Kit Harington, one of Rose Leslie) and one partial
face, copied into a temporary folder with their own manifest; a few seconds with the models.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import fairness

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples" / "faces"

PHOTOS = {
    "obama/obama_small.jpg": ("obama", "low resolution"),
    "obama/obama_240p.jpg": ("obama", "low resolution"),
    "kit_harington/kit_harington_1.jpg": ("kit_harington", "larger JPEG"),
    "kit_harington/kit_harington_2.jpg": ("kit_harington", "larger JPEG"),
    "rose_leslie/rose_leslie_1.jpg": ("rose_leslie", "larger JPEG"),
    "edge/obama_partial_face_1.jpg": ("obama", "face cut at border"),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fairness-data")
    rows = ["path,identities,faces,notes"]
    for path, (who, _) in PHOTOS.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLES / path, folder / path)
        rows.append(f"{path},{who},1,")
    rows.append("group/kit_harington_and_rose_leslie.jpg,kit_harington;rose_leslie,2,")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    labels = ["# test labels", "path,group"] + [f"{p},{g}" for p, (_, g) in PHOTOS.items()]
    (folder / "groups.csv").write_text("\n".join(labels) + "\n", encoding="utf-8")
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    assert fairness.main(list(args)) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_figures_per_group_on_real_photos(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPTIN_MATCH_THRESHOLD", raising=False)
    monkeypatch.delenv("OPTIN_MATCH_MARGIN", raising=False)
    out, err = run(capsys, "--data", str(data), "--groups", str(data / "groups.csv"), "--json")
    report = json.loads(out)
    assert (report["threshold"], report["margin"], report["quality_gate"]) == (0.6, 0.05, True)
    assert report["skipped"] == [
        {"path": "group/kit_harington_and_rose_leslie.jpg", "reason": "not one known person"}
    ]
    failures = {p["path"]: p["failure"] for p in report["photos"] if not p["usable"]}
    assert failures == {"edge/obama_partial_face_1.jpg": "face-cut-off"}

    rows = {row["group"]: row for row in report["groups"]}
    assert list(rows) == ["all", "face cut at border", "larger JPEG", "low resolution"]
    everyone = rows["all"]
    # Obama's two low-resolution photos and Kit Harington's two photos: same person, matched.
    assert (everyone["genuine_pairs"], everyone["fnmr"]["errors"]) == (2, 0)
    assert (everyone["impostor_pairs"], everyone["fmr"]["errors"]) == (8, 0)
    assert everyone["max_genuine_distance"] < 0.6 < everyone["min_impostor_distance"]
    assert everyone["fnmr"]["ci95"][1] > 0.5  # two pairs say next to nothing
    assert everyone["not_usable"] == {
        "errors": 1,
        "trials": 6,
        "rate": pytest.approx(1 / 6),
        "ci95": pytest.approx([0.0301, 0.5635], abs=1e-3),
    }
    assert rows["low resolution"]["genuine_pairs"] == 1
    assert rows["low resolution"]["impostor_pairs"] == 6
    assert rows["larger JPEG"]["genuine_pairs"] == 1
    assert rows["larger JPEG"]["impostor_pairs"] == 8
    assert rows["face cut at border"]["genuine_pairs"] == 0
    assert rows["face cut at border"]["not_usable"]["errors"] == 1

    gate = everyone["gate"]
    assert gate["missed"]["errors"] == 0
    assert gate["missed"]["trials"] == 4
    # Rose Leslie has one photo: a stranger to the others, and not let through as anyone.
    assert gate["strangers_admitted"]["errors"] == 0
    assert gate["strangers_admitted"]["trials"] == 1
    assert gate["strangers_admitted"]["ci95"] == pytest.approx([0.0, 0.7935], abs=1e-4)
    assert len(report["warnings"]) == 4
    assert "embedding" not in out

    assert "analysing 6 photos" in err
    assert "[6/6] edge/obama_partial_face_1.jpg: not usable (face-cut-off)" in err


def test_text_report_and_every_face(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = run(capsys, "--data", str(data), "--all-faces", "--quiet", "--threshold", "0.5")
    assert err == ""
    assert "6 photos of 3 people, 6 usable (every detected face)" in out
    assert "match_threshold 0.5" in out
    assert "groups: none (--groups FILE)" in out
    assert "WARNING: 1 of 1 rows rest on too few pairs or people" in out


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.fairness", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--groups" in done.stdout
