"""Best-of-N search over a large gallery: ours against the naive baseline, in the same process.

Baseline: what face_recognition's examples do, ``face_distance`` over the whole gallery (float64,
one subtraction and norm per row) then ``argmin``. Ours: ``optin.matching.Gallery`` (float32,
squared norms precomputed, one matrix-vector product, argpartition for best and second best).
Prints timings and the ratio; machines are noisy, so only the ratio is meaningful.

    uv run python benchmarks/matching.py [--size 10000 --size 100000] [--probes 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from optin.matching import Gallery


def naive_best(gallery: np.ndarray, probe: np.ndarray) -> tuple[int, float]:
    # face_recognition.face_distance, inlined so the baseline needs no dlib import.
    distances = np.linalg.norm(gallery - probe, axis=1)
    best = int(np.argmin(distances))
    return best, float(distances[best])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append", help="gallery sizes [10k, 100k]")
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args()
    for size in args.size or [10_000, 100_000]:
        run(size, args.probes)


def run(size: int, probe_count: int) -> None:
    rng = np.random.default_rng(42)
    vectors = rng.normal(size=(size, 128))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    targets = rng.integers(0, size, probe_count)
    probes = vectors[targets] + rng.normal(scale=0.02, size=(probe_count, 128))
    gallery = Gallery(vectors)

    def timed(search: object, label: str) -> list[float]:
        samples = []
        for probe, target in zip(probes, targets, strict=True):
            started = time.perf_counter()
            index = search(probe)  # type: ignore[operator]
            samples.append(time.perf_counter() - started)
            assert index == target, f"{label} found the wrong person"
        return samples

    naive = timed(lambda p: naive_best(vectors, p)[0], "naive")
    ours = timed(lambda p: gallery.nearest(p).index, "ours")  # type: ignore[union-attr]
    n_med, o_med = statistics.median(naive), statistics.median(ours)
    print(f"gallery of {size:,} templates, {probe_count} probes, one core")
    print(f"  naive face_distance + argmin: median {n_med * 1000:.2f} ms per search")
    print(f"  optin Gallery.nearest (best + second best): median {o_med * 1000:.2f} ms per search")
    print(f"  ratio: {n_med / o_med:.1f}x faster")


if __name__ == "__main__":
    main()
