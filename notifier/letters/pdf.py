"""A formal letter as a print-ready PDF (issue 15): A4, the creditor's letterhead on every
page, the recipient's postal address, the approved body, a table of every open item with
its penalty basis (rate a day, days overdue), the deadline in working days, the contact,
the signature with the company seal, and "page n of N" on every page.

ReportLab with Debian's WenQuanYi Micro Hei (fonts-wqy-microhei, installed by `make
browser`) embedded as a TrueType subset, so the letter prints the same on any printer and
its text can be read back (pypdf). A letter not yet approved prints with a DRAFT
watermark: the one to post is the approved one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from notifier.domain.errors import Refused
from notifier.render.formatting import format_day, format_money, format_rate

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT = "NotifierLetterCJK"
MARGIN = 20 * mm
HEAD = 34 * mm  # the letterhead's height at the top of every page


class FontMissing(Refused):
    def __init__(self, path: Path) -> None:
        super().__init__(f"the letter font {path} is missing: install Debian's "
                         "fonts-wqy-microhei (make browser)")  # fmt: skip


class SealMissing(Refused):
    def __init__(self, path: Path) -> None:
        super().__init__(f"the seal image {path} named by [letters] seal_image cannot be read")


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        if not CJK_FONT.is_file():
            raise FontMissing(CJK_FONT)
        pdfmetrics.registerFont(TTFont(FONT, str(CJK_FONT), subfontIndex=0))
    return FONT


# What the page says around the letter's own text, per locale.
LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "to": "致", "address": "地址", "date": "日期", "ref": "函号", "invoice": "发票号",
        "issued": "开票日期", "due": "到期日", "days": "逾期天数", "outstanding": "未付本金",
        "rate": "日利率", "penalty": "滞纳金", "total": "合计", "deadline": "付款期限",
        "deadline_text": "{deadline}（本函日期起 {n} 个工作日，按官方工作日历计算）",
        "contact": "联系电话", "seal": "（盖章）", "page": "第 {page} 页 共 {pages} 页",
        "draft": "草稿 DRAFT", "draft_note": "草稿，未经审批，不得寄出",
        "basis": "滞纳金 = 未付本金 × 日利率 × 逾期天数", "paused": "争议暂缓",
        "colon": "：",  # full-width after a Chinese label (issue 13)
    },
    "en": {
        "to": "To", "address": "Address", "date": "Date", "ref": "Reference",
        "invoice": "Invoice", "issued": "Issued", "due": "Due date", "days": "Days overdue",
        "outstanding": "Outstanding", "rate": "Rate a day", "penalty": "Penalty interest",
        "total": "Total", "deadline": "Pay by",
        "deadline_text": "{deadline} ({n} working days from the date of this letter, "
                         "by the official calendar)",
        "contact": "Contact", "seal": "(company seal)", "page": "Page {page} of {pages}",
        "draft": "DRAFT 草稿", "draft_note": "Draft, not approved: not to be posted",
        "basis": "penalty = outstanding principal × rate a day × days overdue",
        "paused": "disputed, set aside",
        "colon": ": ",
    },
}  # fmt: skip


@dataclass(frozen=True)
class Letter:
    """One letter as the PDF prints it: the approved text and the facts stored with it."""

    reminder_id: int
    locale: str  # zh-CN | en
    title: str
    body: str
    recipient: str
    address: str
    facts: dict[str, Any]  # the reminder's facts["letter"] (letters/text.py)
    draft: bool  # not approved yet: watermarked
    seal_image: Path | None = None


def render_pdf(letter: Letter) -> bytes:
    font = _font()
    locale = letter.locale if letter.locale in LABELS else "zh-CN"
    words = LABELS[locale]
    facts = letter.facts
    currency = str(facts.get("currency") or "CNY")
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=17,
                          wordWrap="CJK" if locale == "zh-CN" else None, spaceAfter=6)  # fmt: skip
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, spaceAfter=0)
    title = ParagraphStyle("title", parent=body, fontSize=17, leading=24, alignment=TA_CENTER,
                           spaceBefore=4, spaceAfter=10)  # fmt: skip

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    def money(value: Any) -> str:
        return format_money(Decimal(str(value)), currency, locale)

    letter_day = date.fromisoformat(str(facts["letter_date"]))
    story: list[Flowable] = [
        p(f"{words['to']}{words['colon']}{letter.recipient}"),
        p(f"{words['address']}{words['colon']}{letter.address}"),
        p(f"{words['date']}{words['colon']}{format_day(letter_day, locale)}    "
          f"{words['ref']}{words['colon']}L-{letter.reminder_id}"),
        Spacer(1, 2 * mm),
        p(letter.title, title),
    ]  # fmt: skip
    story += [p(part) for part in letter.body.split("\n\n") if part.strip()]
    story.append(Spacer(1, 2 * mm))
    story.append(_items_table(facts, words, small, money, locale))
    story.append(p(words["basis"], small))
    story.append(Spacer(1, 3 * mm))
    deadline = facts.get("deadline")
    if deadline:
        shown = format_day(date.fromisoformat(str(deadline)), locale)
        story.append(p(f"{words['deadline']}{words['colon']}"
                       + words["deadline_text"].format(deadline=shown,
                                                       n=facts.get("working_days"))))  # fmt: skip
    story.append(p(f"{words['contact']}{words['colon']}{facts.get('contact') or ''}"))
    story.append(Spacer(1, 8 * mm))
    story.append(KeepTogether(_signature(letter, facts, words, body, letter_day, locale)))

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + HEAD,
        bottomMargin=MARGIN, title=letter.title, author=str(facts.get("creditor") or ""),
        subject=f"L-{letter.reminder_id}",
    )  # fmt: skip
    head = _Letterhead(font, facts, words, letter.draft)
    doc.build(story, onFirstPage=head, onLaterPages=head,
              canvasmaker=_numbered(font, words))  # fmt: skip
    return out.getvalue()


def _items_table(facts: dict[str, Any], words: dict[str, str], style: ParagraphStyle,
                 money: Any, locale: str) -> Table:  # fmt: skip
    head = [words[k] for k in ("invoice", "issued", "due", "days", "outstanding", "rate",
                               "penalty")]  # fmt: skip
    rows: list[list[str]] = [head]
    for item in facts.get("items", []):
        outstanding = money(item["outstanding"])
        if Decimal(str(item.get("paused") or 0)) > 0:
            outstanding += f" (+{money(item['paused'])} {words['paused']})"
        rows.append([
            str(item["invoice_id"]), str(item["issued_on"]), str(item["due_on"]),
            str(item["days_overdue"]), outstanding,
            format_rate(Decimal(str(item["rate"])), locale), money(item["penalty"]),
        ])  # fmt: skip
    rows.append([words["total"], "", "", "", money(facts.get("total_outstanding", 0)), "",
                 money(facts.get("total_penalty", 0))])  # fmt: skip
    widths = [30 * mm, 22 * mm, 22 * mm, 17 * mm, 32 * mm, 17 * mm, 30 * mm]
    table = Table([[Paragraph(escape(c), style) for c in row] for row in rows],
                  colWidths=widths, repeatRows=1)  # fmt: skip
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.93, 0.93, 0.93)),
        ("BACKGROUND", (0, -1), (-1, -1), colors.Color(0.97, 0.97, 0.97)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))  # fmt: skip
    return table


def _signature(letter: Letter, facts: dict[str, Any], words: dict[str, str],
               style: ParagraphStyle, day: date, locale: str) -> list[Flowable]:  # fmt: skip
    sign = ParagraphStyle("sign", parent=style, alignment=2)  # right
    block: list[Flowable] = [
        Paragraph(escape(str(facts.get("creditor") or "")), sign),
        Paragraph(escape(format_day(day, locale)), sign),
    ]
    if letter.seal_image is not None:
        if not letter.seal_image.is_file():  # ReportLab would fail only while laying out
            raise SealMissing(letter.seal_image)
        seal = Image(str(letter.seal_image), width=38 * mm, height=38 * mm)
        seal.hAlign = "RIGHT"
        block.append(_Overlap(seal, 30 * mm))
    else:
        block.append(Paragraph(escape(words["seal"]), sign))
    return block


class _Overlap(Flowable):  # type: ignore[misc]  # ReportLab is untyped
    """The seal stamped over the signature, as a seal is: drawn ``lift`` above its place."""

    def __init__(self, image: Image, lift: float) -> None:
        super().__init__()
        self.image, self.lift = image, lift

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        w, h = self.image.wrap(available_width, available_height)
        self.height = max(h - self.lift, 0)
        return self.width, self.height

    def draw(self) -> None:
        w = self.image.drawWidth
        self.image.drawOn(self.canv, self.width - w - 4 * mm, -self.lift + 6 * mm)


class _Letterhead:
    """The creditor's letterhead on every page, and the DRAFT watermark on a draft."""

    def __init__(self, font: str, facts: dict[str, Any], words: dict[str, str],
                 draft: bool) -> None:  # fmt: skip
        self.font, self.facts, self.words, self.draft = font, facts, words, draft

    def __call__(self, canvas: Canvas, document: Any) -> None:
        width, height = A4
        top = height - MARGIN
        canvas.saveState()
        canvas.setFillColor(colors.Color(0.6, 0.05, 0.05))
        canvas.setFont(self.font, 18)
        canvas.drawString(MARGIN, top - 8 * mm, str(self.facts.get("creditor") or ""))
        canvas.setFillColor(colors.black)
        canvas.setFont(self.font, 9)
        address = str(self.facts.get("creditor_address") or "")
        contact = str(self.facts.get("contact") or "")
        canvas.drawString(MARGIN, top - 15 * mm, address)
        label = self.words["contact"] + self.words["colon"]
        canvas.drawString(MARGIN, top - 20 * mm, f"{label}{contact}")
        canvas.setStrokeColor(colors.Color(0.6, 0.05, 0.05))
        canvas.setLineWidth(1.2)
        canvas.line(MARGIN, top - 24 * mm, width - MARGIN, top - 24 * mm)
        if self.draft:
            canvas.setFillColor(colors.Color(0.85, 0.2, 0.2, alpha=0.18))
            canvas.setFont(self.font, 72)
            canvas.translate(width / 2, height / 2)
            canvas.rotate(40)
            canvas.drawCentredString(0, 0, self.words["draft"])
            canvas.setFont(self.font, 16)
            canvas.drawCentredString(0, -26 * mm, self.words["draft_note"])
        canvas.restoreState()


def _numbered(font: str, words: dict[str, str]) -> type[Canvas]:
    """A canvas that writes "page n of N" once it knows N (the pages are kept until the
    end, then each is finished with its number)."""

    class Numbered(Canvas):  # type: ignore[misc]  # ReportLab is untyped
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802  (ReportLab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(font, 8.5)
                label = words["page"].format(page=self._pageNumber, pages=total)
                self.drawCentredString(A4[0] / 2, 11 * mm, label)
                super().showPage()
            super().save()

    return Numbered
