"""Face work from several threads at once (the server runs it in ``asyncio.to_thread``).

dlib is not thread-safe: without the engine's lock this test found hundreds of phantom faces
or killed the process with heap corruption. With it, every thread gets the sequential answer.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from face_photos import DATA

from optin.faces import engine
from optin.faces.images import load_image

PHOTOS = ["obama/obama_4.jpg", "kit_harington/kit_harington_1.jpg", "rose_leslie/rose_leslie_1.jpg"]


def _analyse(path: str) -> tuple[list[engine.FaceBox], list[np.ndarray]]:
    image = load_image(DATA / path)
    boxes = engine.detect(image)
    return boxes, engine.encode(image, boxes)


def test_concurrent_detection_and_encoding_match_the_sequential_results() -> None:
    expected = {path: _analyse(path) for path in PHOTOS}
    jobs = PHOTOS * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_analyse, jobs))
    for path, (boxes, embeddings) in zip(jobs, results, strict=True):
        want_boxes, want_embeddings = expected[path]
        assert boxes == want_boxes
        assert len(embeddings) == len(want_embeddings) == 1
        np.testing.assert_allclose(embeddings[0], want_embeddings[0], atol=1e-9)
