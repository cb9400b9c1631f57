"""Gate signage and the venue notice page in Chromium (BRIEF check 17): every language renders
with axe-core finding nothing, the sheet prints on A4 or A3 as its ``@page`` rules say, and the
QR code is drawn inline (the page's CSP allows no other source).

``docs/signage-ja-a4.png`` is this test's screenshot of the Japanese A4 sign; set
``OPTIN_UPDATE_SCREENSHOTS=1`` to write it again.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from browser_support import LiveApp, NewPage

from optin.i18n import SUPPORTED

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: PDF points (1/72 in): A4 is 210 x 297 mm, A3 297 x 420 mm.
PAPER = {"a4": (595, 842), "a3": (842, 1191)}


def assert_accessible(page: Any, where: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, f"axe-core on {where}:\n{results.generate_report()}"


@pytest.mark.parametrize("lang", SUPPORTED)
def test_signage_and_notice_page_are_accessible(
    new_page: NewPage, live_app: LiveApp, lang: str
) -> None:
    with new_page() as page:
        refused: list[str] = []
        page.on("console", lambda message: refused.append(message.text))
        failed: list[str] = []
        page.on(
            "response",
            lambda response: failed.append(response.url) if response.status >= 400 else None,
        )
        page.goto(f"/venues/onsen-hotel/signage?lang={lang}&size=a4")
        qr = page.locator("svg.qr")
        assert qr.is_visible()
        assert qr.bounding_box()["width"] > 150  # about 55 mm
        assert page.locator("h1").inner_text()
        assert live_app.settings.operator.contact_email in page.content()
        assert_accessible(page, f"signage {lang}")
        page.goto(f"/venues/onsen-hotel/notice?lang={lang}")
        assert page.locator("#notice-title").is_visible()
        assert_accessible(page, f"notice page {lang}")
        assert not [text for text in refused if "Content Security Policy" in text], refused
        assert [url for url in failed if not url.endswith("/favicon.ico")] == []


@pytest.mark.parametrize("size", ["a4", "a3"])
def test_signage_prints_on_its_paper_size(new_page: NewPage, size: str, tmp_path: Path) -> None:
    with new_page() as page:
        page.goto(f"/venues/onsen-hotel/signage?lang=ja&size={size}")
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
        assert boxes, "no page in the PDF"
        width, height = (round(float(value)) for value in boxes[0])
        assert (width, height) == PAPER[size]
        assert len(boxes) == 1, "the sign does not fit on one sheet"
        if size == "a4":
            page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
            shot = page.screenshot(full_page=True)
            (tmp_path / "signage-ja-a4.png").write_bytes(shot)
            if os.environ.get("OPTIN_UPDATE_SCREENSHOTS") == "1":
                DOCS.mkdir(exist_ok=True)
                (DOCS / "signage-ja-a4.png").write_bytes(shot)
