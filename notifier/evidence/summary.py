"""The evidence file's summary as a PDF (A4, Chinese and English labels, page numbers).

ReportLab with Debian's WenQuanYi Micro Hei (fonts-wqy-microhei, installed by `make test`)
embedded, so Chinese names and labels print on any viewer; without that font, ReportLab's
built-in STSong-Light CID font (the viewer supplies the glyphs).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from notifier.evidence.seal import Verdict

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT = "NotifierCJK"
MAX_ROWS = 500  # rows per table in the summary; the ZIP's files hold every one


def _font() -> str:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT
    if CJK_FONT.is_file():
        pdfmetrics.registerFont(TTFont(FONT, str(CJK_FONT), subfontIndex=0))
        return FONT
    fallback = "STSong-Light"
    if fallback not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(fallback))
    return fallback


@dataclass(frozen=True)
class Summary:
    customer_id: str
    name: str
    country: str
    kind: str
    generated_at: datetime
    invoiced: dict[str, Decimal]
    paid: dict[str, Decimal]
    counts: dict[str, int]
    kinds: dict[str, int]
    messages: list[tuple[Any, ...]]
    payments: list[tuple[Any, ...]]
    verdict: Verdict
    head: tuple[int, str]
    files: dict[str, str]  # name -> SHA-256, the summary and manifest excepted
    letters: list[tuple[Any, ...]] = field(default_factory=list)  # issue 15
    decisions: list[tuple[Any, ...]] = field(default_factory=list)  # D19

    def manifest(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "generated_at": self.generated_at.astimezone(UTC).isoformat(),
            "chain": {"events": self.verdict.events, "tombstones": self.verdict.tombstones,
                      "verified": self.verdict.ok, "head_seq": self.head[0],
                      "head_hash": self.head[1],
                      "breaks": [str(b) for b in self.verdict.breaks]},
            "invoiced": {c: str(v) for c, v in self.invoiced.items()},
            "paid": {c: str(v) for c, v in self.paid.items()},
            "counts": self.counts,
            "files_sha256": self.files,
        }  # fmt: skip


def render_pdf(s: Summary) -> bytes:
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)
    title = ParagraphStyle("title", parent=body, fontSize=15, leading=20, spaceAfter=6)
    head = ParagraphStyle("head", parent=body, fontSize=11, leading=15, spaceBefore=8,
                          spaceAfter=3)  # fmt: skip
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=16 * mm, bottomMargin=16 * mm,
                            title=f"Evidence file {s.customer_id}", author="notifier")  # fmt: skip

    def p(text: str) -> Paragraph:
        return Paragraph(escape(text), body)

    def table(rows: list[list[str]], widths: list[float] | None = None) -> Table:
        t = Table([[p(c) for c in row] for row in rows], colWidths=widths, repeatRows=1)
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.92, 0.92, 0.92)),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))  # fmt: skip
        return t

    money = "; ".join
    chain_state = ("完整 intact" if s.verdict.ok
                   else f"已断开 BROKEN ({len(s.verdict.breaks)})")  # fmt: skip
    story: list[Flowable] = [
        Paragraph(escape(f"证据档案 Evidence file · {s.customer_id}"), title),
        table([
            ["项目 Item", "内容 Value"],
            ["客户 Customer", f"{s.customer_id} · {s.name}"],
            ["国家 / 类型 Country / kind", f"{s.country} / {s.kind}"],
            ["生成时间 Generated (UTC)", s.generated_at.astimezone(UTC).isoformat()],
            ["应收合计 Invoiced", money(f"{v:,.2f} {c}" for c, v in s.invoiced.items()) or "0"],
            ["已付合计 Paid", money(f"{v:,.2f} {c}" for c, v in s.paid.items()) or "0"],
            ["记录链 Event chain", chain_state],
            ["事件数 Events", f"{s.verdict.events} (已清除 tombstones: {s.verdict.tombstones})"],
            ["链尾 Chain head", f"#{s.head[0]} {s.head[1]}"],
        ], [55 * mm, 119 * mm]),
    ]  # fmt: skip
    if s.verdict.breaks:
        story += [
            Paragraph(escape("断点 Where the chain breaks"), head),
            table([["断点 Break"]] + [[str(b)] for b in s.verdict.breaks[:MAX_ROWS]]),
        ]
    story += [
        Paragraph(escape("记录 Records in this file"), head),
        table([["文件 File", "条数 Rows"]] + [[f"{k}.json / {k}.csv", str(v)]
                                            for k, v in s.counts.items()]),
        Paragraph(escape("事件类型 Events by kind"), head),
        table([["类型 Kind", "条数 Count"]] + [[k, str(v)] for k, v in s.kinds.items()]),
        Paragraph(escape("消息 Messages"), head),
        table([["#", "起草 Drafted", "渠道 Channel", "步骤 Step", "状态 Status"]]
              + [[str(c) for c in m] for m in s.messages[:MAX_ROWS]]),
        Paragraph(escape("函件 Letters"), head),
        table([["#", "步骤 Step", "状态 Status", "承运 Carrier", "运单号 Tracking",
                "寄出 Posted", "签收 Received"]]
              + [[str(c) for c in row] for row in s.letters[:MAX_ROWS]]),
        Paragraph(escape("法律程序决定 Legal decisions"), head),
        table([["时间 At", "决定人 By", "决定 Decision", "理由 Reason"]]
              + [[str(c) for c in row] for row in s.decisions[:MAX_ROWS]],
              [38 * mm, 26 * mm, 28 * mm, 82 * mm]),
        Paragraph(escape("付款 Payments"), head),
        table([["#", "发票 Invoice", "日期 Day", "金额 Amount", "币种 Currency"]]
              + [[str(c) for c in row] for row in s.payments[:MAX_ROWS]]),
        Paragraph(escape("文件校验 Files (SHA-256)"), head),
        table([["文件 File", "SHA-256"]] + [[k, v] for k, v in s.files.items()],
              [40 * mm, 134 * mm]),
        Spacer(1, 4 * mm),
        p("JSON 文件为原始值；CSV 中以 = + - @ 开头的单元格前加了 ' 。"
          "The JSON files hold the exact values; CSV cells starting with = + - @ carry a "
          "leading ' (spreadsheet safety)."),
    ]  # fmt: skip

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawRightString(
            A4[0] - 18 * mm, 9 * mm, f"{s.customer_id} · 第 {document.page} 页 page {document.page}"
        )
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
