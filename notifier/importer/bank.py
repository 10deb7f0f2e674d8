"""Payments from a bank statement export (CSV or xlsx), besides the payments CSV.

A Chinese bank's account statement (账户明细) has a header row with columns such as
交易日期, 收入金额 or 贷方金额, 支出金额 or 借方金额, 对方户名, 摘要 or 附言, 余额, often after a
few title rows (账号, 查询期间). It is recognised by its header: a date column and a credit
column. Then:

- a row with no credit (money going out, 支出) or a total row (合计, 小计) is not a payment and
  is passed over;
- the credit is the amount, the transaction date the payment's date (``20260302``,
  ``2026-03-02 10:15:00`` and the importer's other forms);
- the invoice is the one invoice id the 摘要/附言/用途/备注 text names among the invoices
  stored (``货款 INV-2026-001``); none, or several, is a problem of that row;
- the payment's id is the statement's serial number (交易流水号, 流水号, 凭证号) when there is
  one, else one derived from the row's date, amount, counterparty and text (and how many
  identical rows came before it), so a statement imported again changes nothing.

All or nothing, like every import: every problem is listed as ``row N, column NAME``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from notifier.domain.items import money_to_cents
from notifier.domain.policy import LimitsPolicy
from notifier.importer.parse import FieldError, parse_amount, parse_id, parse_paid_on
from notifier.importer.problems import ImportRejected, Problem
from notifier.importer.write import chunks, table_named

DATE = ("交易日期", "记账日期", "入账日期", "交易时间", "交易日", "transaction date")
CREDIT = (
    "收入金额",
    "贷方金额",
    "贷方发生额",
    "存入金额",
    "收入",
    "贷方",
    "credit amount",
    "credit",
)
PAYER = (
    "对方户名",
    "对方账户名称",
    "对方账户名",
    "对方名称",
    "对方单位名称",
    "付款人名称",
    "付款人",
)
MEMO = (
    "摘要",
    "附言",
    "用途",
    "备注",
    "交易附言",
    "摘要/附言",
    "交易摘要",
    "附言/用途",
    "交易用途",
    "remark",
    "memo",
)
SERIAL = ("交易流水号", "流水号", "银行流水号", "交易流水", "凭证号", "交易序号", "交易参考号")
TOTAL_ROWS = ("合计", "本页合计", "总计", "小计")
HEADER_SEARCH = 30  # rows of titles a statement may have above its header
_UNIT = re.compile(r"[（(][^)）]*[)）]$")  # 收入金额(元), 贷方金额（RMB）
_TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z_\-.]*")
_COMPACT_DAY = re.compile(r"(\d{4})(\d{2})(\d{2})")


def _name(cell: str) -> str:
    return _UNIT.sub("", cell.strip()).strip().lower()


@dataclass(frozen=True)
class Statement:
    header_row: int  # the spreadsheet row of the header
    index: int  # its place among the non-blank rows
    written: dict[int, str]  # cell index -> the header as written
    day: int
    credit: int
    memo: tuple[int, ...]
    payer: int | None
    serial: int | None


def statement_header(found: Sequence[tuple[int, list[str]]]) -> Statement | None:
    """The bank statement's header among the first rows, or None (not a statement)."""
    for index, (number, cells) in enumerate(found[:HEADER_SEARCH]):
        names = [_name(c) for c in cells]

        def first(choices: Sequence[str], names: list[str] = names) -> int | None:
            for choice in choices:
                if choice in names:
                    return names.index(choice)
            return None

        day, credit = first(DATE), first(CREDIT)
        if day is None or credit is None:
            continue
        memo = tuple(i for i, n in enumerate(names) if n in MEMO)
        return Statement(
            number, index, dict(enumerate(cells)), day, credit, memo, first(PAYER), first(SERIAL)
        )
    return None


def _day_text(raw: str) -> str:
    text = raw.strip().split(" ")[0].split("T")[0]
    match = _COMPACT_DAY.fullmatch(text)
    return f"{match[1]}-{match[2]}-{match[3]}" if match else text


def _tokens(text: str) -> list[str]:
    found = [t.rstrip(".-_") for t in _TOKEN.findall(text)]
    whole = text.strip()
    return [t for t in dict.fromkeys([whole, *found]) if t]


def payments_of(
    session: Session,
    found: Sequence[tuple[int, list[str]]],
    st: Statement,
    limits: LimitsPolicy,
    today: date,
) -> list[dict[str, Any]]:
    """The statement's credits as rows of the payments table (each with its spreadsheet
    row under ``_row``), or ImportRejected with every problem."""
    problems: list[Problem] = []

    def cell(cells: list[str], index: int | None) -> str:
        return cells[index].strip() if index is not None and index < len(cells) else ""

    if not st.memo:
        problems.append(
            Problem(
                st.header_row,
                "摘要",
                "a bank statement needs the column that "
                f"carries the invoice id (one of {', '.join(MEMO)})",
            )
        )
        raise ImportRejected(problems)
    day_name, credit_name = st.written[st.day], st.written[st.credit]
    memo_name = st.written[st.memo[0]]
    pending: list[tuple[int, dict[str, Any], str, list[str]]] = []
    occurrences: dict[str, int] = {}
    for number, cells in found[st.index + 1 :]:
        if any(c.strip().startswith(TOTAL_ROWS) for c in cells):
            continue
        credit = cell(cells, st.credit).removeprefix("+")
        if not credit or credit in ("-", "--") or _is_zero(credit):
            continue  # money going out, or a line that is not a transaction
        row: dict[str, Any] = {
            "_row": number,  # for the caller's problems; removed before writing
            "id": None,
            "invoice_id": None,
            "amount_cents": None,
            "paid_on": None,
        }
        try:
            row["amount_cents"] = money_to_cents(parse_amount(credit))
        except FieldError as exc:
            problems.append(Problem(number, credit_name, str(exc)))
        raw_day = cell(cells, st.day)
        if not raw_day:
            problems.append(Problem(number, day_name, "is empty; a value is required"))
        else:
            try:
                row["paid_on"] = parse_paid_on(_day_text(raw_day), limits, today)
            except FieldError as exc:
                problems.append(Problem(number, day_name, str(exc)))
        memo = " ".join(t for i in st.memo if (t := cell(cells, i)))
        payer = cell(cells, st.payer)
        serial = cell(cells, st.serial)
        if serial:
            try:
                row["id"] = parse_id(serial)
            except FieldError as exc:
                assert st.serial is not None
                problems.append(Problem(number, st.written[st.serial], str(exc)))
        else:
            basis = "|".join([_day_text(raw_day), credit.replace(",", ""), payer, memo])
            seen = occurrences.get(basis, 0)
            occurrences[basis] = seen + 1
            digest = hashlib.sha256(f"{basis}|{seen}".encode()).hexdigest()[:20].upper()
            row["id"] = f"BANK-{digest}"
        pending.append((number, row, memo, _tokens(memo)))
    known = _stored_invoices(session, {t for *_, tokens in pending for t in tokens})
    rows: list[dict[str, Any]] = []
    for number, row, memo, tokens in pending:
        named = [t for t in tokens if t in known]
        if len(named) == 1:
            row["invoice_id"] = named[0]
        elif not named:
            problems.append(
                Problem(
                    number,
                    memo_name,
                    f"names no known invoice ({memo!r}); the "
                    "text must carry the invoice id, e.g. 货款 INV-2026-001",
                )
            )
        else:
            problems.append(
                Problem(
                    number,
                    memo_name,
                    f"names several invoices ({', '.join(named)}): one payment row per invoice",
                )
            )
        rows.append(row)
    if problems:
        problems.sort(key=lambda p: p.row)
        raise ImportRejected(problems)
    return rows


def _is_zero(text: str) -> bool:
    try:
        return float(text.replace(",", "").lstrip("¥￥")) == 0
    except ValueError:
        return False


def _stored_invoices(session: Session, ids: set[str]) -> set[str]:
    column = table_named("receivables").c.id
    found: set[str] = set()
    for chunk in chunks(sorted(ids)):
        found.update(
            session.scalars(
                column.table.select().with_only_columns(column).where(column.in_(chunk))
            )
        )
    return found
