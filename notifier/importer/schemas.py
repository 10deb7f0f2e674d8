"""The columns of each kind of file (CONTRACT.md, "CSV import") and how a row of cells
becomes a row of the table.

A converter returns only the table columns whose CSV column is in the file's header: a
column the file does not have leaves stored values alone on re-import, and new rows get
the table's defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from notifier.domain.items import money_to_cents
from notifier.domain.policy import LimitsPolicy
from notifier.importer.parse import (
    FieldError,
    parse_amount,
    parse_country,
    parse_currency,
    parse_day_within,
    parse_email,
    parse_id,
    parse_kind,
    parse_locale,
    parse_paid_on,
    parse_phone,
    parse_rate,
    parse_text,
    parse_tier,
    parse_title,
    parse_url,
    parse_zone,
)
from notifier.importer.problems import Problem

T = TypeVar("T")


@dataclass(frozen=True)
class Column:
    name: str  # English header, as in CONTRACT.md
    zh: str  # Chinese header
    required: bool = False  # the header must have it (its cells must then be filled)

    def display(self, chinese: bool) -> str:
        return self.zh if chinese else self.name

    def spellings(self) -> str:
        return f"{self.name} or {self.zh}"


class Cells:
    """The cells of one data row, by column name, collecting problems as they are read."""

    __slots__ = ("row", "values", "written", "problems", "limits", "today")

    def __init__(
        self,
        row: int,
        values: dict[str, str],
        written: dict[str, str],
        problems: list[Problem],
        *,
        limits: LimitsPolicy,
        today: date,
    ) -> None:
        self.row = row
        self.values = values  # canonical column -> stripped cell, for columns in the header
        self.written = written  # canonical column -> header as written
        self.problems = problems
        self.limits = limits  # the dates a row may hold (policy [limits])
        self.today = today  # the import's day (UTC): no payment is dated after it

    def has(self, column: str) -> bool:
        return column in self.values

    def get(self, column: str, parse: Callable[[str], T], *, required: bool = False) -> T | None:
        raw = self.values.get(column, "")
        if not raw:
            if required and column in self.values:  # a missing column is a header problem
                self.problem(column, "is empty; a value is required")
            return None
        try:
            return parse(raw)
        except FieldError as exc:
            self.problem(column, str(exc))
            return None

    def date(self, text: str) -> date:
        """A date inside the policy's window."""
        return parse_day_within(text, self.limits)

    def problem(self, column: str, message: str) -> None:
        self.problems.append(Problem(self.row, self.written.get(column, column), message))


Converter = Callable[[Cells], dict[str, Any]]


@dataclass(frozen=True)
class Reference:
    """A column that must name a row already in the database."""

    column: str  # the CSV column
    key: str  # the converted row's key holding the id
    table: str
    noun: str
    hint: str


@dataclass(frozen=True)
class Schema:
    kind: str
    table: str
    id_column: str
    columns: tuple[Column, ...]
    convert: Converter
    references: tuple[Reference, ...] = ()
    _lookup: dict[str, Column] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for column in self.columns:
            self._lookup[column.name.lower()] = column
            self._lookup[column.zh] = column

    def lookup(self, header: str) -> Column | None:
        return self._lookup.get(header) or self._lookup.get(header.lower())

    def describe(self) -> str:
        return ", ".join(f"{c.name} ({c.zh})" for c in self.columns)


def _id(text: str) -> str:
    return parse_id(text)


def _text(max_length: int) -> Callable[[str], str]:
    return lambda text: parse_text(text, max_length)


def _notes(text: str) -> str:
    return parse_text(text, 10_000, lines=True)


def _cents(text: str) -> int:
    return money_to_cents(parse_amount(text))


def convert_customer(c: Cells) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": c.get("customer_id", _id, required=True),
        "name": c.get("name", _text(200), required=True),
        "kind": c.get("kind", parse_kind, required=True),
    }
    country: str | None = "CN"
    if c.has("country"):
        country = c.get("country", parse_country) if c.values["country"] else "CN"
        row["country"] = country
    if c.has("phone"):
        # Without a valid country the number cannot be read; the country is reported.
        row["phone"] = c.get("phone", lambda t: parse_phone(t, country)) if country else None
    if c.has("email"):
        row["email"] = c.get("email", parse_email)
    if c.has("address"):  # postal, for formal letters (issue 15)
        row["address"] = c.get("address", _text(500))
    if c.has("title"):  # 先生 / 女士: how a person is greeted (issue 13)
        row["title"] = c.get("title", parse_title)
        if row["title"] is not None and row["kind"] == "business":
            c.problem("title", "is for a person only; a business is addressed by its name")
            row["title"] = None
    if c.has("timezone"):
        row["timezone"] = c.get("timezone", parse_zone) or "Asia/Shanghai"
    if c.has("locale"):
        row["locale"] = c.get("locale", parse_locale) or "zh-CN"
    if c.has("tier"):
        tier = c.get("tier", parse_tier)
        row["tier"] = tier
        row["tier_hand_set"] = tier is not None
    if c.has("collector"):
        row["collector"] = c.get("collector", _text(64))
    if c.has("notes"):
        row["notes"] = c.get("notes", _notes)
    return row


def convert_receivable(c: Cells) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": c.get("invoice_id", _id, required=True),
        "customer_id": c.get("customer_id", _id, required=True),
        "amount_cents": c.get("amount", _cents, required=True),
        "issued_on": c.get("issued_on", c.date, required=True),
        "due_on": c.get("due_on", c.date, required=True),
    }
    issued, due = row["issued_on"], row["due_on"]
    if issued is not None and due is not None and due < issued:
        c.problem("due_on", f"{due.isoformat()} is before the issue date {issued.isoformat()}")
    if c.has("currency"):
        row["currency"] = c.get("currency", parse_currency) or "CNY"
    if c.has("penalty_rate_daily"):
        row["penalty_rate_daily"] = c.get("penalty_rate_daily", parse_rate)
    if c.has("payment_url"):
        row["payment_url"] = c.get("payment_url", parse_url)
    return row


def convert_payment(c: Cells) -> dict[str, Any]:
    return {
        "id": c.get("payment_id", _id, required=True),
        "invoice_id": c.get("invoice_id", _id, required=True),
        "amount_cents": c.get("amount", _cents, required=True),
        "paid_on": c.get("paid_on", lambda t: parse_paid_on(t, c.limits, c.today), required=True),
    }


CUSTOMERS = Schema(
    kind="customers",
    table="customers",
    id_column="customer_id",
    columns=(
        Column("customer_id", "客户编号", required=True),
        Column("name", "客户名称", required=True),
        Column("kind", "类型", required=True),
        Column("phone", "手机"),
        Column("email", "邮箱"),
        Column("address", "地址"),
        Column("title", "称谓"),
        Column("timezone", "时区"),
        Column("locale", "语言"),
        Column("country", "国家"),
        Column("tier", "信用等级"),
        Column("collector", "催收专员"),
        Column("notes", "备注"),
    ),
    convert=convert_customer,
)

RECEIVABLES = Schema(
    kind="receivables",
    table="receivables",
    id_column="invoice_id",
    columns=(
        Column("invoice_id", "单据编号", required=True),
        Column("customer_id", "客户编号", required=True),
        Column("amount", "金额", required=True),
        Column("currency", "币种"),
        Column("issued_on", "开票日期", required=True),
        Column("due_on", "到期日", required=True),
        Column("penalty_rate_daily", "日罚息率"),
        Column("payment_url", "付款链接"),
    ),
    convert=convert_receivable,
    references=(
        Reference(
            "customer_id", "customer_id", "customers", "customer",
            "import it with `notifier import customers` first",
        ),
    ),
)  # fmt: skip

PAYMENTS = Schema(
    kind="payments",
    table="payments",
    id_column="payment_id",
    columns=(
        Column("payment_id", "付款编号", required=True),
        Column("invoice_id", "单据编号", required=True),
        Column("amount", "金额", required=True),
        Column("paid_on", "付款日期", required=True),
    ),
    convert=convert_payment,
    references=(
        Reference(
            "invoice_id", "invoice_id", "receivables", "invoice",
            "import it with `notifier import receivables` first",
        ),
    ),
)  # fmt: skip

SCHEMAS = {schema.kind: schema for schema in (CUSTOMERS, RECEIVABLES, PAYMENTS)}
