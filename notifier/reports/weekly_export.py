"""The manager's week as people and programs read it: a terminal table, plain text (the
e-mail's body), CSV, JSON and an Excel workbook. Labels come from the message catalogue
(``notifier.words``, keys ``wk_*``) in zh-CN or en; CSV and JSON keep stable codes.

Every amount stays in its currency: a collector with CNY and USD has one line per
currency, never a sum of both. Promises are counted once per collector (on its first
currency line in CSV and in the workbook).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from html import escape
from typing import Any

from rich.console import Console
from rich.table import Table

from notifier.reports.export import Cell, Money, Percent, Sheet, XCell, write_csv, write_xlsx
from notifier.reports.weekly import UNASSIGNED, CollectorWeek, WeeklyReport
from notifier.words import text

CSV_COLUMNS = (
    "week_start", "week_end", "row", "collector", "currency", "collected", "recovered",
    "overdue_at_start", "recovery_rate", "recovered_past_threshold", "incentive",
    "overdue_payments", "promises_kept", "promises_broken", "promises_pending",
)  # fmt: skip
TOTAL = "total"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def lines(report: WeeklyReport) -> Iterator[dict[str, Any]]:
    """One line per collector and currency, then the totals per currency; a collector
    with promises but no money has one line without a currency."""
    for kind, r in [*(("collector", r) for r in report.rows), (TOTAL, report.total)]:
        currencies: list[str | None] = list(r.currencies) or [None]
        for i, currency in enumerate(currencies):
            first = i == 0
            yield {
                "week_start": report.week.start.isoformat(),
                "week_end": report.week.end.isoformat(),
                "row": kind,
                "collector": r.collector if kind != TOTAL else "",
                "currency": currency or "",
                "collected": _amount(r.collected, currency),
                "recovered": _amount(r.recovered, currency),
                "overdue_at_start": _amount(r.overdue_at_start, currency),
                "recovery_rate": r.rate.get(currency) if currency else None,
                "recovered_past_threshold": _amount(r.recovered_past, currency),
                "incentive": _amount(r.incentive, currency),
                "overdue_payments": r.payments if first else None,
                "promises_kept": r.promises["kept"] if first else None,
                "promises_broken": r.promises["broken"] if first else None,
                "promises_pending": r.promises["pending"] if first else None,
            }


def _amount(money: dict[str, Decimal], currency: str | None) -> Decimal | None:
    if currency is None:
        return None
    return money.get(currency, Decimal("0.00"))


def to_csv(report: WeeklyReport) -> str:
    """Text cells neutralised for spreadsheets, numbers written as numbers (export.py)."""
    return write_csv(
        CSV_COLUMNS, ({k: _cell(v) for k, v in line.items()} for line in lines(report))
    )


def _cell(value: Any) -> Cell:
    return value if value is None or isinstance(value, str | int | Decimal) else str(value)


def _json_row(r: CollectorWeek) -> dict[str, Any]:
    def money(values: dict[str, Decimal]) -> dict[str, str]:
        return {cur: str(v) for cur, v in sorted(values.items())}

    return {
        "collector": r.collector, "collected": money(r.collected),
        "recovered": money(r.recovered), "overdue_at_start": money(r.overdue_at_start),
        "recovery_rate": {cur: None if v is None else str(v) for cur, v in sorted(r.rate.items())},
        "recovered_past_threshold": money(r.recovered_past), "incentive": money(r.incentive),
        "overdue_payments": r.payments, "promises": dict(r.promises),
    }  # fmt: skip


def to_json(report: WeeklyReport) -> str:
    total = _json_row(report.total)
    del total["collector"]
    return json.dumps(
        {
            "week": {
                "start": report.week.start.isoformat(),
                "end": report.week.end.isoformat(),
                "zone": report.zone,
            },
            "incentive": {
                "rate": str(report.incentive_rate),
                "after_days": report.incentive_after_days,
            },
            "currencies": report.currencies,
            "collectors": [_json_row(r) for r in report.rows],
            "total": total,
            "oldest_items": [
                {
                    "customer_id": o.customer_id,
                    "customer_name": o.customer_name,
                    "collector": o.collector,
                    "invoice_id": o.invoice_id,
                    "currency": o.currency,
                    "due_on": o.due_on.isoformat(),
                    "days_overdue": o.days_overdue,
                    "outstanding": str(o.outstanding),
                    "paused": str(o.paused),
                }
                for o in report.oldest
            ],
        },  # fmt: skip
        ensure_ascii=False,
        indent=2,
    )


# -- for people ------------------------------------------------------------------------------
def labels(report: WeeklyReport, locale: str) -> dict[str, str]:
    """The column labels of the collectors' table, in ``locale``."""
    rate = percent(report.incentive_rate)
    days = report.incentive_after_days
    return {
        "collector": text(locale, "wk_collector"), "currency": text(locale, "wk_currency"),
        "collected": text(locale, "wk_collected"), "recovered": text(locale, "wk_recovered"),
        "overdue_at_start": text(locale, "wk_overdue_at_start"),
        "recovery_rate": text(locale, "wk_rate"),
        "recovered_past_threshold": text(locale, "wk_recovered_past", days=days),
        "incentive": text(locale, "wk_incentive", rate=rate),
        "overdue_payments": text(locale, "wk_payments"),
        "promises_kept": text(locale, "wk_promises_kept"),
        "promises_broken": text(locale, "wk_promises_broken"),
        "promises_pending": text(locale, "wk_promises_pending"),
    }  # fmt: skip


OLDEST_COLUMNS = ("customer", "collector", "invoice", "currency", "due_on", "days_overdue",
                  "outstanding", "paused")  # fmt: skip


def oldest_labels(locale: str) -> dict[str, str]:
    return {name: text(locale, f"wk_{name}") for name in OLDEST_COLUMNS}


def who(collector: str, locale: str) -> str:
    return collector if collector != UNASSIGNED else text(locale, "wk_unassigned")


def rate_text(rate: Decimal | None, locale: str) -> str:
    return text(locale, "wk_no_rate") if rate is None else f"{rate * 100:.2f}%"


def title(report: WeeklyReport, locale: str) -> str:
    period = text(locale, "wk_period", start=report.week.start.isoformat(),
                  end=report.week.end.isoformat(), zone=report.zone)  # fmt: skip
    return text(locale, "wk_heading", period=period)


def percent(rate: Decimal) -> str:
    """0.01 as ``1%``, 0.015 as ``1.5%``."""
    shown = (rate * 100).normalize()
    return f"{shown:f}%"


def definitions(report: WeeklyReport, locale: str) -> str:
    rate = percent(report.incentive_rate)
    return text(locale, "wk_definitions", days=report.incentive_after_days, rate=rate)


def _shown(line: dict[str, Any], locale: str) -> list[str]:
    values = []
    for name in labels_order():
        value = line[name]
        if name == "collector":
            value = who(value, locale) if line["row"] != TOTAL else text(locale, "wk_total")
        elif name == "recovery_rate":
            value = rate_text(value, locale) if line["currency"] else ""
        elif isinstance(value, Decimal):
            value = f"{value:,.2f}"
        values.append("" if value is None else str(value))
    return values


def labels_order() -> tuple[str, ...]:
    return CSV_COLUMNS[3:]


def print_table(console: Console, report: WeeklyReport, locale: str) -> None:
    names = labels(report, locale)
    table = Table(title=title(report, locale), header_style="bold")
    for name in labels_order():
        table.add_column(names[name], justify="left" if name in ("collector", "currency")
                         else "right")  # fmt: skip
    for line in lines(report):
        table.add_row(*_shown(line, locale), style="bold" if line["row"] == TOTAL else None)
    console.print(table)
    oldest = Table(title=text(locale, "wk_oldest"), header_style="bold")
    for name, shown in oldest_labels(locale).items():
        oldest.add_column(shown, justify="right" if name in ("days_overdue", "outstanding",
                                                             "paused") else "left")  # fmt: skip
    for o in report.oldest:
        oldest.add_row(f"{o.customer_id} {o.customer_name}", who(o.collector, locale),
                       o.invoice_id, o.currency, o.due_on.isoformat(), str(o.days_overdue),
                       f"{o.outstanding:,.2f}", f"{o.paused:,.2f}" if o.paused else "",
                       style="red")  # fmt: skip
    console.print(oldest)
    console.print(definitions(report, locale), markup=False, highlight=False)


def to_text(report: WeeklyReport, locale: str) -> str:
    """The report as plain text (the e-mail's body): the same table, drawn without
    colours or box characters a mail reader might mangle."""
    console = Console(file=io.StringIO(), width=240, color_system=None, force_terminal=False)
    print_table(console, report, locale)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return str(out)


# -- the workbook ----------------------------------------------------------------------------
def _xcell(value: Any) -> XCell:
    """Amounts as numbers (the currency has its own column), everything else as it is."""
    return Money(value, "") if isinstance(value, Decimal) else value


def to_xlsx(report: WeeklyReport, locale: str) -> bytes:
    """Two sheets: the collectors (amounts as numbers, rates as percentages), and the
    oldest open items."""
    names = labels(report, locale)
    collectors = []
    for line in lines(report):
        shown = _shown(line, locale)
        row: list[XCell] = []
        for name in labels_order():
            value = line[name]
            if name == "collector":
                row.append(shown[0])
            elif name == "recovery_rate":
                row.append(None if value is None else Percent(value))
            else:
                row.append(_xcell(value))
        collectors.append(row)
    oldest = [
        [
            _xcell(v)
            for v in (
                f"{o.customer_id} {o.customer_name}",
                who(o.collector, locale),
                o.invoice_id,
                o.currency,
                o.due_on,
                o.days_overdue,
                o.outstanding,
                o.paused,
            )
        ]  # fmt: skip
        for o in report.oldest
    ]
    order = labels_order()
    return write_xlsx([
        Sheet(text(locale, "wk_sheet_collectors"), [names[n] for n in order], collectors,
              widths=[16] * len(order), preface=[title(report, locale)],
              notes=[definitions(report, locale)]),
        Sheet(text(locale, "wk_sheet_oldest"), list(oldest_labels(locale).values()), oldest,
              widths=[16] * 8),
    ])  # fmt: skip


# -- the e-mail's HTML part ------------------------------------------------------------------
def to_html(report: WeeklyReport, locale: str) -> str:
    """The collectors' table and the oldest items as a plain HTML table (mail readers
    show the text part's box drawing in proportional fonts); every value escaped."""
    names = labels(report, locale)
    cols = labels_order()
    head = "".join(f"<th>{escape(names[n])}</th>" for n in cols)
    body = []
    for line in lines(report):
        cells = "".join(
            f'<td style="{"" if i < 2 else "text-align:right"}">{escape(v)}</td>'
            for i, v in enumerate(_shown(line, locale))
        )
        weight = ' style="font-weight:bold"' if line["row"] == TOTAL else ""
        body.append(f"<tr{weight}>{cells}</tr>")
    old_head = "".join(f"<th>{escape(v)}</th>" for v in oldest_labels(locale).values())
    old_rows = [
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (
            f"{o.customer_id} {o.customer_name}", who(o.collector, locale), o.invoice_id,
            o.currency, o.due_on.isoformat(), o.days_overdue, f"{o.outstanding:,.2f}",
            f"{o.paused:,.2f}" if o.paused else "")) + "</tr>"
        for o in report.oldest
    ]  # fmt: skip
    table = '<table border="1" cellpadding="4" style="border-collapse:collapse">'
    return (
        f"<h2>{escape(title(report, locale))}</h2>{table}<tr>{head}</tr>{''.join(body)}</table>"
        f"<h3>{escape(text(locale, 'wk_oldest'))}</h3>{table}<tr>{old_head}</tr>"
        f"{''.join(old_rows)}</table><p>{escape(definitions(report, locale))}</p>"
        f"<p>{escape(text(locale, 'wk_attached'))}</p>"
    )
