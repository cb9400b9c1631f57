"""benchmarks/gallery_delta.py end to end in a tiny configuration: both variants answer the one
change, and the figures are printed."""

from __future__ import annotations

import re

import pytest

from benchmarks.gallery_delta import main


@pytest.mark.timeout(120)
def test_the_benchmark_prints_both_timings_and_their_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--people", "3", "--rounds", "2"])
    out = capsys.readouterr().out
    assert re.search(r"uncached .*: +\d+\.\d+ ms", out), out
    assert re.search(r"cached \(per venue and key version\): +\d+\.\d+ ms", out), out
    assert re.search(r"ratio: \d+\.\d+x", out), out
    assert re.search(r"alone: \d+\.\d+ ms derived, \d+\.\d+ ms from the cache", out), out
