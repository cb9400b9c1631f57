"""The load benchmark's arithmetic: percentiles, the measurement window, delivery delays."""

from __future__ import annotations

import pytest

from benchmarks.load_stats import (
    Change,
    GateLog,
    Sample,
    deliveries,
    fmt,
    latency_figures,
    percentile,
    ratio,
    summarise,
    table,
)


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(list(reversed(values)), 95) == 95  # order does not matter


def test_percentile_of_few_values_is_one_of_them() -> None:
    assert percentile([0.3], 50) == 0.3
    assert percentile([0.3], 99) == 0.3
    assert percentile([0.1, 0.9], 50) == 0.1
    assert percentile([0.1, 0.9], 51) == 0.9
    assert percentile([0.1, 0.2, 5.0], 95) == 5.0


def test_percentile_of_nothing_and_out_of_range() -> None:
    assert percentile([], 95) is None
    for q in (0, -1, 100.5):
        with pytest.raises(ValueError):
            percentile([1.0], q)


def test_summary_counts_what_ended_in_the_window() -> None:
    samples = [
        Sample(0.0, 0.5, 200, True),  # warm-up: ended before the window
        Sample(0.9, 1.1, 200, True),
        Sample(1.0, 1.2, 200, True),
        Sample(1.5, 1.9, 200, True),
        Sample(2.0, 2.1, 404, False),
        Sample(2.2, 2.3, 503, False),
        Sample(2.4, 2.5, None, False),  # no answer
        Sample(2.9, 3.5, 200, True),  # ended after the window
    ]
    summary = summarise("x", 4, samples, (1.0, 3.0), note=1)
    assert summary.requests == 3
    assert summary.errors == 3
    assert summary.server_errors == 2
    assert summary.rps == 1.5
    assert summary.p50_ms == 200.0
    assert summary.p95_ms == 400.0
    assert summary.notes == {"note": 1}
    assert summary.as_dict()["rps"] == 1.5


def test_summary_of_an_empty_window_and_a_bad_one() -> None:
    summary = summarise("x", 1, [], (0.0, 2.0))
    assert (summary.requests, summary.rps, summary.p95_ms) == (0, 0.0, None)
    with pytest.raises(ValueError):
        summarise("x", 1, [], (2.0, 2.0))


def test_ratio() -> None:
    assert ratio(50.0, 200.0) == 0.25
    assert ratio(None, 1.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


def test_delivery_delay_is_the_first_answer_at_or_past_the_change() -> None:
    changes = [
        Change("a", 5, written=100.0, kind="grant"),
        Change("a", 6, written=101.0, kind="withdrawal"),
        Change("b", 3, written=100.0, kind="grant"),
    ]
    gates = [
        GateLog("a", [(99.0, 4), (100.2, 5), (101.5, 6)]),
        # Got both changes in one answer, late; then an older-looking answer is ignored.
        GateLog("a", [(99.0, 4), (101.3, 6), (101.4, 4)]),
        GateLog("b", [(99.0, 2)]),  # never received its venue's change
    ]
    result = deliveries(changes, gates)
    assert result.latencies["grant"] == pytest.approx([0.2, 1.3])
    assert result.latencies["withdrawal"] == pytest.approx([0.5, 0.3])
    assert result.missed == 1
    assert sorted(result.all()) == pytest.approx([0.2, 0.3, 0.5, 1.3])


def test_latency_figures_in_milliseconds() -> None:
    figures = latency_figures([0.010, 0.020, 0.030, 0.040])
    assert figures == {"count": 4, "p50_ms": 20.0, "p95_ms": 40.0, "p99_ms": 40.0, "max_ms": 40.0}
    assert latency_figures([])["p50_ms"] is None


def test_table_and_figures() -> None:
    text = table(["phase", "req/s"], [["baseline", fmt(1234.4)], ["portal", fmt(12.34)]])
    assert text.splitlines() == [
        "phase     req/s",
        "baseline   1234",
        "portal     12.3",
    ]
    assert [fmt(v) for v in (None, 0.0, 1.234, 45.67, 123.4)] == ["-", "0", "1.23", "45.7", "123"]
    assert fmt(0.5, "x") == "0.50x"
