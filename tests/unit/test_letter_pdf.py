"""The letter's PDF (issue 15) without a database: the seal image is embedded when the
policy names one (and a missing one is refused by name), every page carries the
letterhead and "page n of N", and the CJK font is embedded, not left to the viewer."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from notifier.letters.pdf import Letter, SealMissing, render_pdf


def _facts(items: int) -> dict[str, Any]:
    return {
        "letter_date": "2026-03-02", "deadline": "2026-03-16", "working_days": 10,
        "currency": "CNY", "creditor": "星辰供应链有限公司", "creditor_address": "上海市",
        "contact": "400-820-0000", "total_outstanding": str(1000 * items),
        "total_penalty": str(10 * items),
        "items": [
            {"invoice_id": f"INV-{i:03d}", "issued_on": "2026-01-01", "due_on": "2026-02-10",
             "days_overdue": 20, "outstanding": "1000.00", "penalty": "10.00",
             "rate": "0.0005", "paused": "0", "currency": "CNY"}
            for i in range(items)
        ],
    }  # fmt: skip


def _letter(items: int, seal: Path | None = None, locale: str = "zh-CN") -> Letter:
    return Letter(reminder_id=7, locale=locale, title="付款催告函", body="第一段。\n\n第二段。",
                  recipient="客户", address="北京市", facts=_facts(items), draft=False,
                  seal_image=seal)  # fmt: skip


def test_the_seal_image_is_embedded_and_a_missing_one_is_named(tmp_path: Path) -> None:
    seal = tmp_path / "seal.png"
    Image.new("RGBA", (64, 64), (200, 16, 16, 255)).save(seal)
    reader = PdfReader(io.BytesIO(render_pdf(_letter(2, seal))))
    images = [img for page in reader.pages for img in page.images]
    assert len(images) == 1
    with pytest.raises(SealMissing, match="seal_image"):
        render_pdf(_letter(2, tmp_path / "gone.png"))


def test_a_long_letter_numbers_every_page_and_repeats_the_letterhead() -> None:
    reader = PdfReader(io.BytesIO(render_pdf(_letter(60, locale="en"))))
    pages = [p.extract_text() for p in reader.pages]
    assert len(pages) >= 2
    for n, text in enumerate(pages, start=1):
        assert f"Page {n} of {len(pages)}" in text and "星辰供应链有限公司" in text
    assert "INV-000" in pages[0] and "INV-059" in "".join(pages)


def test_the_cjk_font_is_embedded() -> None:
    reader = PdfReader(io.BytesIO(render_pdf(_letter(1))))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    descriptors = [f.get_object()["/FontDescriptor"] for f in fonts.values()
                   if "/FontDescriptor" in f.get_object()]  # fmt: skip
    assert any("/FontFile2" in d for d in descriptors)
