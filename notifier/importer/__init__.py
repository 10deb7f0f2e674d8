"""CSV import of customers, receivables and payments (CONTRACT.md, "CSV import").

All or nothing: the whole file is decoded, parsed and checked against the database first,
and :class:`ImportRejected` lists every problem before anything is written. Then rows are
upserted by id, set-based. The caller owns the transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from notifier.domain.policy import LimitsPolicy
from notifier.importer.problems import WHOLE_FILE, ImportRejected, Problem
from notifier.importer.read import decode, map_header, records
from notifier.importer.schemas import SCHEMAS, Cells, Schema
from notifier.importer.write import missing_ids, upsert
from notifier.store.models import Event

__all__ = ["ImportRejected", "ImportReport", "Problem", "import_file", "import_text"]

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


def import_file(
    session: Session,
    kind: str,
    path: Path | str,
    *,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
    limits: LimitsPolicy | None = None,
) -> ImportReport:
    """Import one CSV file of ``kind`` (customers | receivables | payments). Dates outside
    ``limits`` (the policy's ``[limits]``; its defaults when not given) are refused."""
    path = Path(path)
    text, encoding = decode(path.read_bytes())
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
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {', '.join(SCHEMAS)}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    report = progress or (lambda done, total: None)
    bounds = limits if limits is not None else LimitsPolicy()
    rows = _parse(session, schema, text, report, bounds, now.astimezone(UTC).date())
    total = len(rows)
    counts = upsert(
        session, schema.table, rows, now, dry_run=dry_run,
        on_chunk=lambda written: report((total + written) // 2, total),
    )  # fmt: skip
    report(total, total)
    result = ImportReport(
        kind=kind, file=file, rows=total, encoding=encoding, inserted=counts.inserted,
        updated=counts.updated, unchanged=counts.unchanged, dry_run=dry_run,
    )  # fmt: skip
    if not dry_run:
        session.add(Event(at=now, kind="import", data=_event_data(result)))
        session.flush()
    return result


def _event_data(report: ImportReport) -> dict[str, Any]:
    return {
        "file": report.file,
        "kind": report.kind,
        "rows": report.rows,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "encoding": report.encoding,
    }


def _parse(
    session: Session, schema: Schema, text: str, report: Progress, limits: LimitsPolicy, today: date
) -> list[dict[str, Any]]:
    """Every data row converted, or ImportRejected with every problem of the file."""
    found = list(records(text))
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
