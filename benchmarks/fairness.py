"""False non-match and false match rates, overall and per group, at the product's threshold.

Every single-person photo of a folder with a ``manifest.csv`` (``path,identities,faces,notes``,
as in ``samples/faces``) is analysed once, as enrollment does it: one face, quality checks
(size, cut off at the border, blur), a 128-d embedding. A photo without exactly one usable face
is a failure to acquire (the person would be sent to the conventional lane); ``--all-faces``
compares faces that fail the quality checks too. Photos of several people are skipped.

Then, at ``FaceSettings.match_threshold`` (``OPTIN_MATCH_THRESHOLD``, 0.6 by default):
- 1:1 comparisons: every pair of usable photos. Same person: a distance above the threshold is a
  false non-match (FNMR); different people: a distance at or below it is a false match (FMR);
- gate decisions (1:N): each photo in turn is the probe and every other photo is an enrolled
  template of its person; the gate's rule applies (nearest person within the threshold and
  ``GateSettings.match_margin`` closer than anyone else). A probe whose person has another photo
  should be recognised (a miss sends them to the conventional lane); one whose person has none is
  a stranger and must not be let through as someone.

``--groups FILE`` splits the figures by group: a CSV with the header ``path,group`` (photos, as
in the manifest) or ``identity,group`` (everyone in the photos of that identity); a key may
have several groups, ``#`` starts a comment line. A pair counts for every group one of its two
photos belongs to; a probe for its own groups. Each rate comes with its count and a 95% Wilson
interval, and a group with fewer than ``--min-pairs`` (30) genuine or impostor pairs, or whose
genuine pairs come from fewer than ``--min-people`` (10) people, is flagged: its rates are
anecdotal. The intervals treat pairs as independent; pairs sharing a photo or a person are not,
so the true uncertainty is larger.

The labels describe capture conditions here (``benchmarks/groups_capture_condition.csv``). Never
label people with attributes guessed from their photos: demographic groups must come from what
consenting participants of an evaluation set declared about themselves.

    uv run python -m benchmarks.fairness [--data samples/faces]
        [--groups benchmarks/groups_capture_condition.csv] [--all-faces] [--json]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from gate_agent.gallery import Entry, GalleryState
from gate_agent.matching import MatchKind, match
from optin.config import FaceSettings, Settings
from optin.errors import OptinError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "samples" / "faces"
MANIFEST = "manifest.csv"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
#: Fewer pairs than this in a group and its rates are flagged as anecdotal.
MIN_PAIRS = 30
#: Genuine pairs from fewer people than this are flagged too: pairs of one person are not
#: independent, so many pairs of few people say little more than a few pairs.
MIN_PEOPLE = 10
#: Two-sided 95% normal quantile, for the Wilson interval.
Z95 = 1.959963984540054
#: Photos that carry no label in the groups file are counted here.
UNLABELLED = "(unlabelled)"
#: The row of every usable photo, whatever its group.
ALL = "all"

Vector = npt.NDArray[np.float64]


class InputError(Exception):
    """A manifest or groups file that cannot be used; the message says where and why."""


# --------------------------------------------------------------------------------------------
# Rates and their uncertainty


def wilson_interval(errors: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``errors / trials`` (None without trials).

    Unlike the normal approximation it stays inside [0, 1] and is not empty for 0 errors:
    0 in 11 gives about 0 to 0.26.
    """
    if trials < 0 or not 0 <= errors <= trials:
        raise ValueError(f"need 0 <= errors <= trials, got {errors} of {trials}")
    if trials == 0:
        return None
    p = errors / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    low = 0.0 if errors == 0 else max(0.0, centre - half)
    high = 1.0 if errors == trials else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True, slots=True)
class Rate:
    """``errors`` out of ``trials``, with its 95% Wilson interval (None without trials)."""

    errors: int
    trials: int

    @property
    def value(self) -> float | None:
        return self.errors / self.trials if self.trials else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.errors, self.trials)

    def as_dict(self) -> dict[str, Any]:
        interval = self.interval
        return {
            "errors": self.errors,
            "trials": self.trials,
            "rate": self.value,
            "ci95": list(interval) if interval else None,
        }

    def __str__(self) -> str:
        interval = self.interval
        if interval is None:
            return "-"
        low, high = interval
        return f"{self.errors}/{self.trials} = {_pct(self.value)} [{_pct(low)}-{_pct(high)}]"


def _pct(value: float | None) -> str:
    """A share as a percentage with two significant digits: 0%, 0.12%, 4.5%, 49%, 100%."""
    if value is None:
        return "-"
    if value in (0, 1):
        return f"{value:.0%}"
    return f"{float(f'{value * 100:.2g}'):g}%"


# --------------------------------------------------------------------------------------------
# Inputs: the manifest, the groups file


@dataclass(frozen=True, slots=True)
class Photo:
    """One single-person photo of the manifest."""

    path: str  # relative to the data folder, as in the manifest
    identity: str


@dataclass(frozen=True, slots=True)
class Manifest:
    photos: list[Photo]
    skipped: dict[str, str]  # path -> why it is not used
    identities: frozenset[str]  # everyone named, in used and skipped rows


def read_manifest(text: str, source: str = MANIFEST) -> Manifest:
    """The single-person photos of a manifest (``path,identities,faces,notes``)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"path", "identities"} - set(reader.fieldnames or ())
    if missing:
        raise InputError(f"{source}: no {' or '.join(sorted(missing))} column in the header")
    photos: list[Photo] = []
    skipped: dict[str, str] = {}
    everyone: set[str] = set()
    for row in reader:
        path = (row.get("path") or "").strip()
        people = [name.strip() for name in (row.get("identities") or "").split(";")]
        people = [name for name in people if name]
        if not path:
            raise InputError(f"{source} line {reader.line_num}: no path")
        everyone.update(name for name in people if name != "unknown")
        faces = (row.get("faces") or "1").strip()
        if not path.lower().endswith(PHOTO_SUFFIXES):
            skipped[path] = "not a photo"
        elif len(people) != 1 or faces != "1" or people[0] == "unknown":
            skipped[path] = "not one known person"
        else:
            photos.append(Photo(path, people[0]))
    return Manifest(photos, skipped, frozenset(everyone))


def read_groups(text: str, manifest: Manifest, source: str = "groups file") -> dict[str, set[str]]:
    """Photo path -> its groups, from a ``path,group`` or ``identity,group`` CSV.

    Raises InputError naming the line for a bad header, a short row, an empty group, or a path
    or identity the manifest does not have (a typo would otherwise leave a group silently empty).
    """
    rows = [
        (number, next(csv.reader([line])))
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not rows:
        raise InputError(f"{source}: empty; expected a header 'path,group' or 'identity,group'")
    header = [cell.strip().lower() for cell in rows[0][1]]
    if header not in (["path", "group"], ["identity", "group"]):
        raise InputError(
            f"{source} line {rows[0][0]}: the header is {','.join(rows[0][1])!r}; expected "
            "'path,group' or 'identity,group'"
        )
    by_path = header[0] == "path"
    known_paths = {photo.path for photo in manifest.photos} | set(manifest.skipped)
    groups: dict[str, set[str]] = {photo.path: set() for photo in manifest.photos}
    for number, row in rows[1:]:
        where = f"{source} line {number}"
        if len(row) != 2:
            raise InputError(f"{where}: expected 2 columns, got {len(row)}")
        key, group = row[0].strip(), row[1].strip()
        if not group:
            raise InputError(f"{where}: empty group for {key!r}")
        if by_path:
            if key not in known_paths:
                raise InputError(f"{where}: {key!r} is not a path of the manifest")
            if key in groups:
                groups[key].add(group)
        else:
            if key not in manifest.identities:
                raise InputError(f"{where}: {key!r} is not an identity of the manifest")
            for photo in manifest.photos:
                if photo.identity == key:
                    groups[photo.path].add(group)
    return groups


# --------------------------------------------------------------------------------------------
# Samples, pairs and the figures


@dataclass(frozen=True, slots=True)
class Sample:
    """A photo after analysis: its embedding, or why there is none (a failure to acquire)."""

    path: str
    identity: str
    groups: frozenset[str]
    embedding: Vector | None = field(default=None, repr=False)  # biometric: never printed
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class Pair:
    """Two usable photos: their distance, whether they show the same person, their groups."""

    distance: float
    genuine: bool
    groups: frozenset[str]
    identities: frozenset[str]


def make_pairs(samples: Sequence[Sample]) -> list[Pair]:
    """Every pair of usable samples (each embedding compared once)."""
    usable = [sample for sample in samples if sample.embedding is not None]
    if len(usable) < 2:
        return []
    matrix = np.stack([sample.embedding for sample in usable if sample.embedding is not None])
    pairs = []
    for i, j in combinations(range(len(usable)), 2):
        a, b = usable[i], usable[j]
        pairs.append(
            Pair(
                distance=float(np.linalg.norm(matrix[i] - matrix[j])),
                genuine=a.identity == b.identity,
                groups=a.groups | b.groups,
                identities=frozenset({a.identity, b.identity}),
            )
        )
    return pairs


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """One probe under the gate's rule, leave-one-out."""

    identity: str
    groups: frozenset[str]
    enrolled: bool  # the probe's person has another usable photo in the gallery
    kind: MatchKind
    matched: str | None  # who the gate took the probe for (MATCH only)

    @property
    def recognised(self) -> bool:
        return self.kind is MatchKind.MATCH and self.matched == self.identity

    @property
    def admitted_as_someone_else(self) -> bool:
        return self.kind is MatchKind.MATCH and self.matched != self.identity


def gate_outcomes(samples: Sequence[Sample], threshold: float, margin: float) -> list[GateOutcome]:
    """Each usable sample as a probe against all the others, with the gate's own decision rule.

    Distances are unchanged by the venue transform (a rotation), so raw embeddings stand in for
    the transformed templates.
    """
    usable = [sample for sample in samples if sample.embedding is not None]
    outcomes = []
    for index, probe in enumerate(usable):
        templates: dict[str, list[Vector]] = {}
        for other_index, other in enumerate(usable):
            if other_index != index and other.embedding is not None:
                templates.setdefault(other.identity, []).append(other.embedding)
        gallery = GalleryState(
            "fairness",
            1,
            [
                Entry(who, frozenset({"entry"}), None, np.array(rows, dtype=np.float32))
                for who, rows in templates.items()
            ],
        )
        assert probe.embedding is not None
        result = match(gallery, probe.embedding, threshold=threshold, margin=margin)
        outcomes.append(
            GateOutcome(
                identity=probe.identity,
                groups=probe.groups,
                enrolled=probe.identity in templates,
                kind=result.kind,
                matched=result.ref,
            )
        )
    return outcomes


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """Everything reported for one group (or for all photos)."""

    group: str
    photos: int
    people: int
    not_usable: Rate  # failures to acquire: no face, several faces, quality refused
    fnmr: Rate  # genuine pairs above the threshold
    genuine_people: int  # how many people the genuine pairs come from
    fmr: Rate  # impostor pairs at or below the threshold
    max_genuine: float | None
    min_impostor: float | None
    gate_missed: Rate  # enrolled probes not recognised (no match, ambiguous or someone else)
    gate_ambiguous: int
    gate_wrong_person: int  # enrolled probes taken for someone else
    strangers_admitted: Rate  # probes without another photo let through as someone
    warning: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "photos": self.photos,
            "people": self.people,
            "not_usable": self.not_usable.as_dict(),
            "genuine_pairs": self.fnmr.trials,
            "genuine_people": self.genuine_people,
            "fnmr": self.fnmr.as_dict(),
            "impostor_pairs": self.fmr.trials,
            "fmr": self.fmr.as_dict(),
            "max_genuine_distance": _rounded(self.max_genuine),
            "min_impostor_distance": _rounded(self.min_impostor),
            "gate": {
                "missed": self.gate_missed.as_dict(),
                "ambiguous": self.gate_ambiguous,
                "wrong_person": self.gate_wrong_person,
                "strangers_admitted": self.strangers_admitted.as_dict(),
            },
            "warning": self.warning,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def figures(
    group: str,
    samples: Sequence[Sample],
    pairs: Sequence[Pair],
    outcomes: Sequence[GateOutcome],
    threshold: float,
    min_pairs: int = MIN_PAIRS,
    min_people: int = MIN_PEOPLE,
) -> GroupFigures:
    """The figures of ``group`` (``ALL`` for everything) from already computed pairs."""

    def member(groups: frozenset[str]) -> bool:
        return group == ALL or group in groups

    photos = [sample for sample in samples if member(sample.groups)]
    genuine = [pair for pair in pairs if pair.genuine and member(pair.groups)]
    impostor = [pair for pair in pairs if not pair.genuine and member(pair.groups)]
    probes = [outcome for outcome in outcomes if member(outcome.groups)]
    enrolled = [outcome for outcome in probes if outcome.enrolled]
    strangers = [outcome for outcome in probes if not outcome.enrolled]
    genuine_people = len({name for pair in genuine for name in pair.identities})
    fnmr = Rate(sum(pair.distance > threshold for pair in genuine), len(genuine))
    fmr = Rate(sum(pair.distance <= threshold for pair in impostor), len(impostor))
    return GroupFigures(
        group=group,
        photos=len(photos),
        people=len({sample.identity for sample in photos}),
        not_usable=Rate(sum(sample.embedding is None for sample in photos), len(photos)),
        fnmr=fnmr,
        genuine_people=genuine_people,
        fmr=fmr,
        max_genuine=max((pair.distance for pair in genuine), default=None),
        min_impostor=min((pair.distance for pair in impostor), default=None),
        gate_missed=Rate(sum(not outcome.recognised for outcome in enrolled), len(enrolled)),
        gate_ambiguous=sum(outcome.kind is MatchKind.AMBIGUOUS for outcome in enrolled),
        gate_wrong_person=sum(outcome.admitted_as_someone_else for outcome in enrolled),
        strangers_admitted=Rate(
            sum(outcome.kind is MatchKind.MATCH for outcome in strangers), len(strangers)
        ),
        warning=small_group_warning(group, fnmr, genuine_people, fmr, min_pairs, min_people),
    )


def small_group_warning(
    group: str,
    fnmr: Rate,
    genuine_people: int,
    fmr: Rate,
    min_pairs: int = MIN_PAIRS,
    min_people: int = MIN_PEOPLE,
) -> str | None:
    """A sentence when a group has too few pairs (or people) to mean much; else None."""
    few_people = fnmr.trials > 0 and genuine_people < min_people
    counts, rates = [], []
    if fnmr.trials < min_pairs or few_people:
        count = f"{fnmr.trials} genuine pairs"
        if fnmr.trials < min_pairs:
            count += f" (fewer than {min_pairs})"
        if few_people:
            people = "person" if genuine_people == 1 else "people"
            count += f" of {genuine_people} {people} (fewer than {min_people})"
        counts.append(count)
        rates.append(f"FNMR {fnmr}" if fnmr.trials else "no FNMR")
    if fmr.trials < min_pairs:
        counts.append(f"{fmr.trials} impostor pairs (fewer than {min_pairs})")
        rates.append(f"FMR {fmr}" if fmr.trials else "no FMR")
    if not counts:
        return None
    brackets = " (95% intervals in brackets)" if "[" in "".join(rates) else ""
    return (
        f"group {group!r}: {' and '.join(counts)}: {'; '.join(rates)}{brackets}. "
        "Anecdotal, not a measurement of this group."
    )


@dataclass(frozen=True, slots=True)
class Report:
    data: str
    threshold: float
    margin: float
    quality_gate: bool
    groups_file: str | None
    samples: list[Sample]
    skipped: dict[str, str]
    rows: list[GroupFigures]

    def as_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "threshold": self.threshold,
            "margin": self.margin,
            "quality_gate": self.quality_gate,
            "groups_file": self.groups_file,
            "photos": [
                {
                    "path": sample.path,
                    "identity": sample.identity,
                    "groups": sorted(sample.groups),
                    "usable": sample.embedding is not None,
                    "failure": sample.failure,
                }
                for sample in self.samples
            ],
            "skipped": [{"path": path, "reason": why} for path, why in self.skipped.items()],
            "groups": [row.as_dict() for row in self.rows],
            "warnings": [row.warning for row in self.rows if row.warning],
        }


def build_report(
    samples: Sequence[Sample],
    *,
    threshold: float,
    margin: float,
    min_pairs: int = MIN_PAIRS,
    min_people: int = MIN_PEOPLE,
    data: str = "",
    quality_gate: bool = True,
    groups_file: str | None = None,
    skipped: dict[str, str] | None = None,
) -> Report:
    """Pairs, gate decisions and the figures: all photos, each group by name, unlabelled last."""
    pairs = make_pairs(samples)
    outcomes = gate_outcomes(samples, threshold, margin)
    names = sorted(
        {group for sample in samples for group in sample.groups},
        key=lambda name: (name == UNLABELLED, name.casefold()),
    )
    rows = [
        figures(name, samples, pairs, outcomes, threshold, min_pairs, min_people)
        for name in [ALL, *names]
    ]
    return Report(
        data=data,
        threshold=threshold,
        margin=margin,
        quality_gate=quality_gate,
        groups_file=groups_file,
        samples=list(samples),
        skipped=dict(skipped or {}),
        rows=rows,
    )


# --------------------------------------------------------------------------------------------
# Analysing the photos (the only part that needs the face models)


def analyse_photos(
    folder: Path,
    photos: Sequence[Photo],
    groups: dict[str, set[str]] | None,
    settings: FaceSettings,
    *,
    quality_gate: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[Sample]:
    """Each photo analysed once (detect, landmarks, quality, embedding)."""
    from optin import faces  # loads nothing yet; the models load on the first photo

    samples = []
    for number, photo in enumerate(photos, start=1):
        started = time.perf_counter()
        labels = frozenset(groups.get(photo.path) or {UNLABELLED}) if groups else frozenset()
        embedding: Vector | None = None
        failure: str | None = None
        try:
            found = faces.analyse(folder / photo.path, settings)
        except OptinError as exc:
            failure = str(exc.extra.get("reason") or exc.code)
        else:
            if not found:
                failure = faces.NO_FACE
            elif len(found) > 1:
                failure = faces.SEVERAL_FACES
            elif quality_gate and not found[0].quality.passed:
                failure = ",".join(found[0].quality.reasons)
            else:
                embedding = np.asarray(found[0].embedding, dtype=np.float64)
        samples.append(Sample(photo.path, photo.identity, labels, embedding, failure))
        if progress:
            outcome = f"not usable ({failure})" if failure else "ok"
            elapsed = time.perf_counter() - started
            progress(f"[{number}/{len(photos)}] {photo.path}: {outcome}, {elapsed:.2f} s")
    return samples


# --------------------------------------------------------------------------------------------
# Output


def render(report: Report, out: TextIO) -> None:
    def say(line: str = "") -> None:
        print(line, file=out)

    usable = sum(sample.embedding is not None for sample in report.samples)
    people = len({sample.identity for sample in report.samples})
    checked = "quality checks as at enrollment" if report.quality_gate else "every detected face"
    say(
        f"{report.data}: {len(report.samples)} photos of {people} people, {usable} usable "
        f"({checked}); {len(report.skipped)} skipped (not one known person)"
    )
    say(
        f"match_threshold {report.threshold}, gate match_margin {report.margin}; "
        f"groups: {report.groups_file or 'none (--groups FILE)'}"
    )
    width = max(5, *(len(row.group) for row in report.rows))
    say()
    say("1:1 comparisons; a pair counts for each group of its two photos; [95% Wilson interval]")
    say(
        f"  {'group':<{width}} photos people unusable  {'FNMR (same person)':<22} "
        f"{'FMR (different people)':<23} same max/diff min"
    )
    for row in report.rows:
        unusable = f"{row.not_usable.errors}/{row.not_usable.trials}"
        say(
            f"  {row.group:<{width}} {row.photos:>6} {row.people:>6} {unusable:>8}  "
            f"{row.fnmr!s:<22} {row.fmr!s:<23} {_distance(row.max_genuine)} / "
            f"{_distance(row.min_impostor)}"
        )
    say()
    say("Gate decisions (1:N, each photo against all the others, threshold and margin)")
    say(
        f"  {'group':<{width}} {'enrolled, not recognised':<24} ambiguous wrong person  "
        "strangers let through"
    )
    for row in report.rows:
        say(
            f"  {row.group:<{width}} {row.gate_missed!s:<24} {row.gate_ambiguous:>9} "
            f"{row.gate_wrong_person:>12}  {row.strangers_admitted!s}"
        )
    failures = [sample for sample in report.samples if sample.failure]
    if failures:
        say()
        say("Not usable (failure to acquire: this person would use the conventional lane):")
        for sample in failures:
            say(f"  {sample.path}: {sample.failure}")
    warnings = [row.warning for row in report.rows if row.warning]
    if warnings:
        say()
        say(f"WARNING: {len(warnings)} of {len(report.rows)} rows rest on too few pairs or people:")
        for warning in warnings:
            say(f"  - {warning}")
    say()
    say("A handful of photos of public figures shows that the measurement works, not how fair")
    say("the model is: see README, 'Fairness figures'.")


def _distance(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when inside it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="Progress goes to stderr; figures to stdout.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="folder with manifest.csv and the photos [samples/faces]",
    )
    parser.add_argument("--groups", type=Path, help="CSV: path,group or identity,group")
    parser.add_argument("--threshold", type=float, help="instead of OPTIN_MATCH_THRESHOLD")
    parser.add_argument("--margin", type=float, help="instead of OPTIN_MATCH_MARGIN")
    parser.add_argument(
        "--all-faces",
        action="store_true",
        help="compare faces that fail the quality checks too (enrollment would refuse them)",
    )
    parser.add_argument("--min-pairs", type=int, default=MIN_PAIRS, help="warn below [30]")
    parser.add_argument(
        "--min-people",
        type=int,
        default=MIN_PEOPLE,
        help="warn when genuine pairs come from fewer [10]",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    threshold = settings.faces.match_threshold if args.threshold is None else args.threshold
    margin = settings.gates.match_margin if args.margin is None else args.margin
    try:
        manifest = read_manifest(_read(args.data / MANIFEST), _shown(args.data / MANIFEST))
        groups = (
            read_groups(_read(args.groups), manifest, _shown(args.groups)) if args.groups else None
        )
    except InputError as exc:
        parser.error(str(exc))
    if not manifest.photos:
        parser.error(f"{_shown(args.data / MANIFEST)}: no single-person photo")

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    progress(f"analysing {len(manifest.photos)} photos (the face models load first, about 1 s)")
    started = time.perf_counter()
    samples = analyse_photos(
        args.data,
        manifest.photos,
        groups,
        settings.faces,
        quality_gate=not args.all_faces,
        progress=progress,
    )
    progress(f"analysed in {time.perf_counter() - started:.1f} s")
    report = build_report(
        samples,
        threshold=threshold,
        margin=margin,
        min_pairs=args.min_pairs,
        min_people=args.min_people,
        data=_shown(args.data),
        quality_gate=not args.all_faces,
        groups_file=_shown(args.groups) if args.groups else None,
        skipped=manifest.skipped,
    )
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2)
        print()
    else:
        render(report, sys.stdout)
    return 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{_shown(path)}: cannot read ({exc.strerror or exc})") from None


if __name__ == "__main__":
    raise SystemExit(main())
