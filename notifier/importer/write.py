"""Set-based reads and writes of the import, the same statements on SQLite and PostgreSQL.

Per chunk of ids: one SELECT of the stored rows, then one executemany INSERT for the new
rows and one executemany UPDATE for the changed ones. Rows equal to what is stored are
not written at all, so a re-import leaves ``updated_at`` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, insert, select, update
from sqlmodel import Session, SQLModel

# Bound parameters per IN list; far below SQLite's and PostgreSQL's limits.
CHUNK = 1_000

T = TypeVar("T")


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    written: list[str] = field(default_factory=list)  # ids inserted or updated


def table_named(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def missing_ids(session: Session, table: str, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` that are not the id of a row of ``table``."""
    wanted = sorted(set(ids))
    column = table_named(table).c.id
    found: set[str] = set()
    for chunk in chunks(wanted):
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return set(wanted) - found


def upsert(
    session: Session,
    table_name: str,
    rows: Sequence[dict[str, Any]],
    now: datetime,
    *,
    dry_run: bool,
    on_chunk: Callable[[int], None] = lambda done: None,
) -> Counts:
    """Insert new ids, update changed rows, leave equal rows alone; count each.

    Every row has the same keys (those of the file's columns), so each chunk is at most
    two executemany statements. With ``dry_run`` it only reads and counts.
    """
    counts = Counts()
    if not rows:
        return counts
    table = table_named(table_name)
    keys = [key for key in rows[0] if key != "id"]
    # A flag about a phone number is about that number: a new number starts clean.
    track_phone = "phone" in keys and "phone_invalid" in table.c
    stored_keys = [*keys, "phone_invalid"] if track_phone else keys
    # D4: an escalated customer stays with the manager who took it over; the ERP's
    # collector in a re-import does not hand it back (a de-escalation does).
    keep_owner = "collector" in keys and "escalated_at" in table.c
    extra = [table.c.escalated_at] if keep_owner else []
    query = select(table.c.id, *(table.c[key] for key in stored_keys), *extra)
    set_keys = [*stored_keys, "updated_at"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({key: bindparam(f"b_{key}", type_=table.c[key].type) for key in set_keys})
    )
    done = 0
    for chunk in chunks(rows):
        stored = {
            row.id: row._mapping
            for row in session.execute(query.where(table.c.id.in_([r["id"] for r in chunk])))
        }
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for row in chunk:
            old = stored.get(row["id"])
            if old is not None and keep_owner and old["escalated_at"] is not None:
                row = {**row, "collector": old["collector"]}
            if old is None:
                inserts.append({**row, "created_at": now, "updated_at": now})
            elif any(old[key] != row[key] for key in keys):
                new = {f"b_{key}": value for key, value in row.items()}
                new["b_updated_at"] = now
                if track_phone:
                    new["b_phone_invalid"] = old["phone_invalid"] and old["phone"] == row["phone"]
                updates.append(new)
            else:
                counts.unchanged += 1
        counts.inserted += len(inserts)
        counts.updated += len(updates)
        counts.written += [r["id"] for r in inserts] + [r["b_id"] for r in updates]
        if not dry_run:
            if inserts:
                session.execute(insert(table), inserts)
            if updates:
                session.execute(statement, updates)
        done += len(chunk)
        on_chunk(done)
    return counts
