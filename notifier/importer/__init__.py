"""Import of customers, receivables and payments (CONTRACT.md, "CSV import"): from CSV,
from an ``.xlsx`` workbook (``xlsx.py``: the same headers and rules, cells read by their
Excel types), and payments also from a bank statement export (``bank.py``).

All or nothing: the whole file is decoded, parsed and checked against the database first,
and :class:`ImportRejected` lists every problem before anything is written. Then rows are
upserted by id, set-based. The caller owns the transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from notifier.domain.policy import LimitsPolicy
from notifier.importer import bank
from notifier.importer.problems import WHOLE_FILE, ImportRejected, Problem
from notifier.importer.read import decode, map_header, records
from notifier.importer.schemas import SCHEMAS, Cells, Schema
from notifier.importer.write import missing_ids, upsert
from notifier.importer.xlsx import NoSuchSheet, is_workbook, read_workbook
from notifier.store.models import Event

__all__ = ["ImportRejected", "ImportReport", "NoSuchSheet", "Problem", "import_file",
           "import_rows", "import_text"]  # fmt: skip
Found = Sequence[tuple[int, list[str]]]  # (spreadsheet row number, stripped cells)

Progress = Callable[[int, int], None]
PROGRESS_EVERY = 2_000


@dataclass(frozen=True)
class ImportReport:
    kind: str
    file: str
    rows: int
    encoding: str
    inserted: int
    updated: int
    unchanged: int
    dry_run: bool
    written: tuple[str, ...] = field(default=(), repr=False)  # ids inserted or updated
    source: str = "csv"  # csv | xlsx | bank statement (csv) | bank statement (xlsx)


def import_file(
    session: Session,
    kind: str,
    path: Path | str,
    *,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
    limits: LimitsPolicy | None = None,
    sheet: str | None = None,
) -> ImportReport:
    """Import one file of ``kind`` (customers | receivables | payments): a CSV file, or an
    ``.xlsx`` workbook's ``sheet`` (default the first). Dates outside ``limits`` (the
    policy's ``[limits]``; its defaults when not given) are refused."""
    path = Path(path)
    raw = path.read_bytes()
    if is_workbook(raw, path.suffix):
        found, name = read_workbook(raw, sheet, path.name)
        return import_rows(
            session, kind, found, now=now, dry_run=dry_run, progress=progress,
            encoding=f"xlsx, sheet {name}", file=path.name, limits=limits, source="xlsx",
        )  # fmt: skip
    if sheet is not None:
        raise ImportRejected([Problem(1, WHOLE_FILE, f"is a CSV file, not a workbook: --sheet "
                                      f"{sheet!r} applies to .xlsx files only")])  # fmt: skip
    text, encoding = decode(raw)
    return import_text(
        session, kind, text, now=now, dry_run=dry_run, progress=progress,
        encoding=encoding, file=path.name, limits=limits,
    )  # fmt: skip


def import_text(
    session: Session,
    kind: str,
    text: str,
    *,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
    encoding: str = "utf-8",
    file: str = "<text>",
    limits: LimitsPolicy | None = None,
) -> ImportReport:
    """Import CSV already decoded to text; ``encoding`` and ``file`` are for the record."""
    return import_rows(session, kind, list(records(text)), now=now, dry_run=dry_run,
                       progress=progress, encoding=encoding, file=file, limits=limits)  # fmt: skip


def import_rows(
    session: Session,
    kind: str,
    found: Found,
    *,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
    encoding: str = "utf-8",
    file: str = "<text>",
    limits: LimitsPolicy | None = None,
    source: str = "csv",
) -> ImportReport:
    """Import rows already split into cells (a CSV's records or a sheet's rows). Payments
    whose header is a bank statement's are read as one (``bank.py``)."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {', '.join(SCHEMAS)}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    report = progress or (lambda done, total: None)
    bounds = limits if limits is not None else LimitsPolicy()
    today = now.astimezone(UTC).date()
    statement = bank.statement_header(found) if kind == "payments" else None
    if statement is not None:
        rows = _unique(bank.payments_of(session, found, statement, bounds, today), statement)
        source = f"bank statement ({source})"
    else:
        rows = _parse(session, schema, found, report, bounds, today)
    total = len(rows)
    counts = upsert(
        session, schema.table, rows, now, dry_run=dry_run,
        on_chunk=lambda written: report((total + written) // 2, total),
    )  # fmt: skip
    report(total, total)
    result = ImportReport(
        kind=kind, file=file, rows=total, encoding=encoding, inserted=counts.inserted,
        updated=counts.updated, unchanged=counts.unchanged, dry_run=dry_run,
        written=tuple(counts.written), source=source,
    )  # fmt: skip
    if not dry_run:
        session.add(Event(at=now, kind="import", data=_event_data(result)))
        session.flush()
    return result


def _unique(rows: list[dict[str, Any]], statement: bank.Statement) -> list[dict[str, Any]]:
    """A statement's serial number is one payment: twice in the file is a problem."""
    seen: dict[str, int] = {}
    problems = []
    for index, row in enumerate(rows):
        first = seen.setdefault(row["id"], index)
        if first != index:
            column = statement.written.get(statement.serial or 0, "payment_id")
            again = f"duplicate serial number {row['id']!r} (already on row {rows[first]['_row']})"
            problems.append(Problem(row["_row"], column, again))
    if problems:
        raise ImportRejected(problems)
    for row in rows:
        del row["_row"]
    return rows


def _event_data(report: ImportReport) -> dict[str, Any]:
    return {
        "file": report.file,
        "kind": report.kind,
        "rows": report.rows,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "encoding": report.encoding,
        **({} if report.source == "csv" else {"source": report.source}),
    }


def _parse(
    session: Session,
    schema: Schema,
    found: Found,
    report: Progress,
    limits: LimitsPolicy,
    today: date,
) -> list[dict[str, Any]]:
    """Every data row converted, or ImportRejected with every problem of the file."""
    if not found:
        raise ImportRejected([Problem(1, WHOLE_FILE, "is empty; the first row must be a header")])
    header_row, header_cells = found[0]
    header, problems = map_header(header_row, header_cells, schema)
    data = found[1:]
    total = len(data)
    report(0, total)
    positions = list(header.positions.items())
    # Cells under an unknown column were reported once, in the header.
    named = {i for i, cell in enumerate(header_cells) if cell}
    gaps = len(named) < header.width  # empty header cells: values under them are refused
    seen: dict[str, int] = {}
    numbers: list[int] = []
    rows: list[dict[str, Any]] = []
    id_name = header.name_of(schema.id_column)
    for done, (number, cells) in enumerate(data, start=1):
        width = len(cells)
        values = {name: cells[i] if i < width else "" for name, i in positions}
        row = schema.convert(
            Cells(number, values, header.written, problems, limits=limits, today=today)
        )
        if gaps or width > header.width:
            problems.extend(
                Problem(number, _letter(i), f"{cell!r} has no column header")
                for i, cell in enumerate(cells)
                if cell and i not in named
            )
        row_id = row["id"]
        if row_id is not None:
            first = seen.setdefault(row_id, number)
            if first != number:
                problems.append(
                    Problem(number, id_name, f"duplicate id {row_id!r} (already on row {first})")
                )
        numbers.append(number)
        rows.append(row)
        if done % PROGRESS_EVERY == 0:
            report(done // 2, total)
    for ref in schema.references:
        wanted = {row[ref.key] for row in rows if row[ref.key] is not None}
        missing = missing_ids(session, ref.table, wanted)
        if missing:
            name = header.name_of(ref.column)
            problems.extend(
                Problem(number, name, f"unknown {ref.noun} {row[ref.key]!r}; {ref.hint}")
                for number, row in zip(numbers, rows, strict=True)
                if row[ref.key] in missing
            )
    if problems:
        problems.sort(key=lambda p: p.row)  # stable: columns stay in the file's order
        raise ImportRejected(problems)
    return rows


def _letter(index: int) -> str:
    """Spreadsheet column letters: 0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
