"""``optin faces`` as other programs see it: JSON shapes, exit codes, one-line errors.

Each call is a real subprocess (about 1-2 s, most of it loading dlib's models).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

OBAMA = "obama/obama_small.jpg"
OBAMA_2 = "obama/obama_4.jpg"
ROSE = "rose_leslie/rose_leslie_1.jpg"

QUALITY_KEYS = {"passed", "reasons", "face_width", "face_height", "blur", "border_margin"}


class Run:
    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.code = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr
        assert "Traceback" not in self.stderr + self.stdout

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return self.stderr.splitlines()


def optin(*args: str | Path, env: dict[str, str] | None = None) -> Run:
    result = subprocess.run(
        [sys.executable, "-m", "optin", "faces", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    return Run(result)


@pytest.mark.parametrize("command", [[], ["encode"], ["verify"]])
def test_help(command: list[str]) -> None:
    run = optin(*command, "--help")
    assert run.code == 0
    assert run.stdout.startswith("Usage: ")


def test_verify_same_person_matches(data_dir: Path) -> None:
    run = optin("verify", data_dir / OBAMA, data_dir / OBAMA_2, "--json")
    assert run.code == 0
    result = run.json()
    assert set(result) == {"distance", "match", "threshold"}
    assert isinstance(result["distance"], float)
    assert result["distance"] < 0.6
    assert result["match"] is True
    assert result["threshold"] == 0.6
    assert run.stderr == ""


def test_verify_different_people_do_not_match(data_dir: Path) -> None:
    run = optin("verify", data_dir / OBAMA, data_dir / ROSE, "--json")
    assert run.code == 0
    result = run.json()
    assert result["distance"] > 0.6
    assert result["match"] is False


def test_verify_threshold_option_and_human_output(data_dir: Path) -> None:
    run = optin("verify", data_dir / OBAMA, data_dir / OBAMA_2, "--threshold", "0.05")
    assert run.code == 0
    assert run.stdout.startswith("no match: distance ")
    assert run.stdout.strip().endswith("> threshold 0.05")


def test_verify_rejects_a_group_photo(data_dir: Path) -> None:
    group = data_dir / "group/kit_harington_and_rose_leslie.jpg"
    run = optin("verify", data_dir / OBAMA, group, "--json")
    assert run.code == 2
    assert run.json() == {
        "path": str(group),
        "error": "2 faces found; the photo must show exactly one person",
        "reason": "several-faces",
    }
    assert len(run.error_lines) == 1
    assert "several-faces" in run.stderr


def test_verify_missing_file(data_dir: Path, tmp_path: Path) -> None:
    run = optin("verify", tmp_path / "missing.jpg", data_dir / OBAMA)
    assert run.code == 2
    assert run.stdout == ""
    assert run.error_lines == [
        f"error: {tmp_path / 'missing.jpg'}: cannot read the file: No such file or directory "
        "[unreadable]"
    ]


def test_encode_json_shape(data_dir: Path) -> None:
    paths = [data_dir / OBAMA, data_dir / "group/kit_harington_and_rose_leslie.jpg"]
    run = optin("encode", *paths, "--json")
    assert run.code == 0, run.stderr
    assert run.stderr == ""
    result = run.json()
    assert [item["path"] for item in result] == [str(p) for p in paths]
    assert [len(item["faces"]) for item in result] == [1, 2]
    for item in result:
        assert set(item) == {"path", "faces"}
        for face in item["faces"]:
            assert set(face) == {"box", "embedding", "quality"}
            top, right, bottom, left = face["box"]
            assert all(isinstance(v, int) for v in face["box"])
            assert 0 <= top < bottom
            assert 0 <= left < right
            assert len(face["embedding"]) == 128
            assert all(isinstance(v, float) for v in face["embedding"])
            assert set(face["quality"]) == QUALITY_KEYS
            assert face["quality"]["passed"] is True


def test_encode_with_failures_still_prints_the_list(
    data_dir: Path, derived: dict[str, Path], tmp_path: Path
) -> None:
    paths = [data_dir / OBAMA, derived["text"], tmp_path / "missing.jpg", derived["no_face"]]
    run = optin("encode", *paths, "--json")
    assert run.code == 2
    result = run.json()
    assert len(result[0]["faces"]) == 1
    assert [(item.get("reason"), set(item)) for item in result[1:]] == [
        ("not-an-image", {"path", "error", "reason"}),
        ("unreadable", {"path", "error", "reason"}),
        ("no-face", {"path", "error", "reason"}),
    ]
    assert len(run.error_lines) == 3  # one line per failed image


def test_encode_enroll_applies_the_quality_gate(data_dir: Path) -> None:
    partial = data_dir / "edge/obama_partial_face_2.jpg"
    run = optin("encode", "--enroll", "--json", data_dir / OBAMA, partial)
    assert run.code == 2
    good, bad = run.json()
    assert good["faces"][0]["quality"]["passed"] is True
    assert bad["reason"] == "face-cut-off"
    assert "cut off" in bad["error"]
    assert run.error_lines == [f"error: {partial}: {bad['error']} [face-cut-off]"]


def test_encode_human_output_has_no_embedding(data_dir: Path) -> None:
    run = optin("encode", data_dir / "edge/obama_partial_face_1.jpg")
    assert run.code == 0  # without --enroll a cut-off face is reported, not refused
    assert "1 face" in run.stdout
    assert "face-cut-off" in run.stdout
    assert len(run.stdout.splitlines()) == 2


def test_encode_size_limit_from_environment(data_dir: Path) -> None:
    run = optin("encode", data_dir / OBAMA, env={"OPTIN_MAX_IMAGE_BYTES": "1000"})
    assert run.code == 2
    assert len(run.error_lines) == 1
    assert "too large" in run.stderr
    assert "[too-large]" in run.stderr


def test_bad_setting_is_one_line(data_dir: Path) -> None:
    run = optin("verify", data_dir / OBAMA, data_dir / OBAMA, env={"OPTIN_MATCH_THRESHOLD": "x"})
    assert run.code == 2
    assert len(run.error_lines) == 1
    assert "OPTIN_MATCH_THRESHOLD" in run.stderr
