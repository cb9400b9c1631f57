"""Samples, percentiles and summaries for ``benchmarks/load.py`` (no I/O, unit-tested).

A phase keeps one ``Sample`` per finished request. Only requests that finish inside the
measurement window (after the warm-up, before the deadline) count; requests/s is the successful
ones per second of window, and the percentiles are over the successful ones' latencies
(nearest rank: every figure is a latency that was actually observed).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (0-100] of ``values``; None when there are none."""
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True)
class Sample:
    """One request: monotonic start and end, and its HTTP status (None: no answer at all)."""

    started: float
    ended: float
    status: int | None
    ok: bool

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Summary:
    name: str
    clients: int
    seconds: float
    requests: int
    errors: int
    server_errors: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_statuses: dict[str, int] = field(default_factory=dict)  # "422", "none" (no answer)
    notes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def summarise(
    name: str,
    clients: int,
    samples: Iterable[Sample],
    window: tuple[float, float],
    **notes: Any,
) -> Summary:
    """Requests that ended within ``window``: successes per second, their latency percentiles,
    and the failures (``server_errors``: 5xx or no answer, which are also ``errors``)."""
    start, end = window
    if end <= start:
        raise ValueError("the window must have a positive length")
    inside = [s for s in samples if start <= s.ended <= end]
    good = [s.seconds for s in inside if s.ok]
    failed = [s for s in inside if not s.ok]
    return Summary(
        name=name,
        clients=clients,
        seconds=round(end - start, 2),
        requests=len(good),
        errors=len(failed),
        server_errors=sum(1 for s in failed if s.status is None or s.status >= 500),
        rps=round(len(good) / (end - start), 1),
        p50_ms=_ms(percentile(good, 50)),
        p95_ms=_ms(percentile(good, 95)),
        p99_ms=_ms(percentile(good, 99)),
        error_statuses=dict(sorted(Counter(str(s.status).lower() for s in failed).items())),
        notes=dict(notes),
    )


def ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline`` to two places; None when either is missing or the baseline is 0."""
    if value is None or not baseline:
        return None
    return round(value / baseline, 2)


def latency_figures(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50, p95, p99 and max of latencies given in seconds, in milliseconds."""
    return {
        "count": len(seconds),
        "p50_ms": _ms(percentile(seconds, 50)),
        "p95_ms": _ms(percentile(seconds, 95)),
        "p99_ms": _ms(percentile(seconds, 99)),
        "max_ms": _ms(max(seconds)) if seconds else None,
    }


# --- gallery: from a change's commit to each gate receiving it -------------------------------


@dataclass(frozen=True)
class Change:
    """A change in a venue's log: its sequence number and when its row was written, just before
    the commit (wall clock, seconds)."""

    venue: str
    seq: int
    written: float
    kind: str
    committed: float | None = None  # when its commit returned, where known


@dataclass
class GateLog:
    """What one gate received: (wall-clock time, gallery sequence) per answer, in order."""

    venue: str
    received: list[tuple[float, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Deliveries:
    latencies: dict[str, list[float]]  # kind -> seconds, one per (change, gate) delivered
    missed: int  # (change, gate) pairs the gate never received

    def all(self) -> list[float]:
        return [value for values in self.latencies.values() for value in values]


def deliveries(changes: Iterable[Change], gates: Iterable[GateLog]) -> Deliveries:
    """For every change and every gate of its venue, the delay until that gate first held an
    answer at or past the change's sequence (the highest sequence a gate has seen never goes
    down, so a binary search finds that answer)."""
    by_venue: dict[str, list[tuple[list[float], list[int]]]] = {}
    for gate in gates:
        times = [at for at, _seq in gate.received]
        by_venue.setdefault(gate.venue, []).append((times, _running_max(gate.received)))
    latencies: dict[str, list[float]] = {}
    missed = 0
    for change in changes:
        bucket = latencies.setdefault(change.kind, [])
        for times, highest in by_venue.get(change.venue, []):
            index = bisect.bisect_left(highest, change.seq)
            if index == len(highest):
                missed += 1
            else:
                bucket.append(max(times[index] - change.written, 0.0))
    return Deliveries(latencies, missed)


def _running_max(received: Sequence[tuple[float, int]]) -> list[int]:
    out: list[int] = []
    for _at, seq in received:
        out.append(max(seq, out[-1]) if out else seq)
    return out


# --- output ----------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned numbers, two spaces between columns."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(cell).rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


def fmt(value: float | None, suffix: str = "") -> str:
    """A figure with as many decimals as it deserves: 1234, 123, 12.3, 1.23."""
    if value is None:
        return "-"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:.0f}{suffix}"
    if abs(value) >= 10:
        return f"{value:.1f}{suffix}"
    return f"{value:.2f}{suffix}"


def by_kind(latencies: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float | int | None]]:
    return {kind: latency_figures(values) for kind, values in latencies.items()}
