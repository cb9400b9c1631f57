"""Deciding who a probe is: the nearest enrolled person, under a threshold and by a margin.

Distances are per person (their nearest template), so a person with several templates is not
their own runner-up. A probe is:
- ``MATCH`` when the nearest person is within ``threshold`` and every other person is at least
  ``margin`` further away;
- ``AMBIGUOUS`` when the nearest is within the threshold but someone else is nearly as close:
  no decision, rather than a stranger labelled as someone (a lesson of Double Take's users);
- ``NONE`` otherwise: nobody enrolled. The caller drops the probe at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gate_agent.gallery import GalleryState


class MatchKind(enum.Enum):
    MATCH = "match"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class MatchResult:
    kind: MatchKind
    ref: str | None = None  # set for MATCH only
    distance: float = float("inf")


NO_MATCH = MatchResult(MatchKind.NONE)


def match(
    gallery: GalleryState, probe: npt.ArrayLike, *, threshold: float, margin: float
) -> MatchResult:
    """Search ``gallery`` for a probe already passed through the venue transform."""
    distances = gallery.person_distances(probe)
    if distances.size == 0:
        return NO_MATCH
    if distances.size == 1:
        best, best_distance, second_distance = 0, float(distances[0]), float("inf")
    else:
        top_two = np.argpartition(distances, 1)[:2]
        best, second = sorted(top_two.tolist(), key=lambda i: (float(distances[i]), i))
        best_distance, second_distance = float(distances[best]), float(distances[second])
    if best_distance > threshold:
        return NO_MATCH
    if second_distance - best_distance < margin:
        return MatchResult(MatchKind.AMBIGUOUS)
    return MatchResult(MatchKind.MATCH, gallery.refs[best], best_distance)
