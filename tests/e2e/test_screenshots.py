"""The README's screenshots, taken from the live app with the sample portfolio: the approval
queue on 2026-03-02 08:30 (Shanghai) and the aging report as of 2026-03-02. Every run
writes them again under docs/."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

if TYPE_CHECKING:
    from tests.e2e.conftest import Login, Site

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs"
WIDTH = 1280
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the file is a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR", f"{path} has no IHDR chunk first"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def shoot(page: Page, path: Path) -> None:
    page.wait_for_load_state("networkidle")
    text = page.locator("body").inner_text()
    for leak in ("built-in method", "Undefined", "Traceback"):  # template slips
        assert leak not in text, f"{page.url} shows {leak!r}"
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    width, height = png_size(path)
    assert width == WIDTH
    assert 600 <= height <= 20_000
    assert 20_000 < path.stat().st_size < 5_000_000  # a real page, not a blank one


def test_screenshots_of_the_queue_and_the_aging_report(
    page: Page, site: Site, login: Login
) -> None:
    page.set_viewport_size({"width": WIDTH, "height": 800})
    login(page, "manager", site.passwords["manager"])  # English, for the README

    expect(page.locator("h1")).to_have_text("Approval queue")
    expect(page.locator("tr.row")).to_have_count(9)
    page.locator("tr.row").nth(1).locator("input[name=ids]").check()  # a selection to show
    shoot(page, DOCS / "queue.png")

    page.goto("/reports/aging?at=2026-03-02")
    expect(page.locator("main")).to_contain_text("2026-03-02")
    expect(page.locator("main svg").first).to_be_visible()
    shoot(page, DOCS / "aging.png")
