"""One customer's evidence file (D18): a ZIP with every record as JSON and CSV, a PDF
summary and a manifest.

- ``customer``, ``receivables``, ``payments``, ``promises``, ``disputes``, ``plans``,
  ``instalments``: the records as stored (amounts in cents and as decimals);
- ``messages``: every reminder with its text, address, status and times; ``edits``: every
  reviewer edit, before and after (D13);
- ``letters``: every formal letter (issue 15) with its postal address, text, status, the
  carrier and tracking number it was posted with and the day of its signed receipt;
- ``legal_decisions``: each decision on the legal route (D19): who, when, what and why;
- ``events``: the whole log of the customer with each event's seal (seq, prev_hash,
  payload digest, hash): sent (the text as sent), delivery and read events, approvals,
  rejections, promises, disputes, escalations, opt-outs, replies, the purge's records;
- ``summary.pdf``: the figures, the chain's verdict and head, the files' SHA-256;
- ``manifest.json``: the same in machine form.

The JSON files hold the exact values. CSV cells that a spreadsheet would run as a formula
get a leading ``'`` (reports/export.py), so the JSON is the one to quote from.
The chain's head (its last seq and hash) is written down here, outside the database: a
later export whose chain does not extend it shows that the log was rewritten.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, Select, select

from notifier.domain.errors import Refused
from notifier.domain.items import cents_to_money
from notifier.evidence.chain import chain_of, is_tombstone
from notifier.evidence.seal import UnknownCustomer, Verdict, head_of, verify
from notifier.evidence.summary import Summary, render_pdf
from notifier.reports.export import write_csv
from notifier.store.evidence import EventSeal
from notifier.store.models import (
    Customer,
    Dispute,
    Event,
    Instalment,
    InstalmentPlan,
    LetterPost,
    Payment,
    PaymentPromise,
    Receivable,
    Reminder,
    ReminderEdit,
)

C = Customer.__table__  # type: ignore[attr-defined]
R = Receivable.__table__  # type: ignore[attr-defined]
P = Payment.__table__  # type: ignore[attr-defined]
PP = PaymentPromise.__table__  # type: ignore[attr-defined]
D = Dispute.__table__  # type: ignore[attr-defined]
IP = InstalmentPlan.__table__  # type: ignore[attr-defined]
IN = Instalment.__table__  # type: ignore[attr-defined]
M = Reminder.__table__  # type: ignore[attr-defined]
ED = ReminderEdit.__table__  # type: ignore[attr-defined]
E = Event.__table__  # type: ignore[attr-defined]
S = EventSeal.__table__  # type: ignore[attr-defined]
LP = LetterPost.__table__  # type: ignore[attr-defined]
LEGAL_DECISION = "legal_decision"  # services/legal.py's event (a service: not imported here)

_NOT_EVIDENCE = {"claimed_by", "claimed_until"}  # a worker's lease, not what happened
Records = dict[str, list[dict[str, Any]]]


class CannotWrite(Refused):
    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"cannot write the evidence file {path}: {why}")


def _invoices(cid: str) -> Select[Any]:
    return select(R.c.id).where(R.c.customer_id == cid)


# What the file holds, by name: a query of the customer's rows, in a stable order.
SOURCES: dict[str, Callable[[str], Select[Any]]] = {
    "receivables": lambda cid: select(R).where(R.c.customer_id == cid).order_by(R.c.due_on, R.c.id),
    "payments": lambda cid: (
        select(P, R.c.currency).join(R, R.c.id == P.c.invoice_id)
        .where(R.c.customer_id == cid).order_by(P.c.paid_on, P.c.id)),
    "promises": lambda cid: select(PP).where(PP.c.customer_id == cid).order_by(PP.c.id),
    "disputes": lambda cid: (
        select(D).where(D.c.invoice_id.in_(_invoices(cid))).order_by(D.c.id)),
    "plans": lambda cid: select(IP).where(IP.c.customer_id == cid).order_by(IP.c.id),
    "instalments": lambda cid: (
        select(IN).join(IP, IP.c.id == IN.c.plan_id).where(IP.c.customer_id == cid)
        .order_by(IN.c.plan_id, IN.c.seq)),
    "messages": lambda cid: select(M).where(M.c.customer_id == cid).order_by(M.c.id),
    "letters": lambda cid: (
        select(M.c.id, M.c.step, M.c.status, M.c.address, M.c.subject, M.c.body,
               M.c.created_at, M.c.decided_by, M.c.decided_at, M.c.sent_at, M.c.delivered_at,
               LP.c.carrier, LP.c.tracking_no, LP.c.posted_by, LP.c.posted_at,
               LP.c.received_on, LP.c.received_recorded_by, LP.c.received_recorded_at)
        .outerjoin(LP, LP.c.reminder_id == M.c.id)
        .where(M.c.customer_id == cid, M.c.channel == "letter").order_by(M.c.id)),
    "legal_decisions": lambda cid: (
        select(E.c.id, E.c.at, E.c.actor, E.c.data)
        .where(E.c.customer_id == cid, E.c.kind == LEGAL_DECISION).order_by(E.c.at, E.c.id)),
    "edits": lambda cid: (
        select(ED).join(M, M.c.id == ED.c.reminder_id).where(M.c.customer_id == cid)
        .order_by(ED.c.id)),
    "events": lambda cid: (
        select(E, S.c.seq, S.c.prev_hash, S.c.payload_sha256, S.c.hash)
        .outerjoin(S, S.c.event_id == E.c.id).where(E.c.customer_id == cid)
        .order_by(S.c.seq, E.c.id)),
}  # fmt: skip


@dataclass(frozen=True)
class Bundle:
    """The files of one evidence file, by name, and what they hold."""

    customer_id: str
    files: dict[str, bytes]
    counts: dict[str, int]
    verdict: Verdict
    head: tuple[int, str]

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        _zip_into(buffer, self.files)
        return buffer.getvalue()


def build(engine: Engine, now: datetime, customer_id: str) -> Bundle:
    """``customer_id``'s evidence file. Its chain is sealed and verified first; a broken
    chain is exported all the same, with the breaks in the summary (evidence too)."""
    with engine.connect() as connection:
        if connection.execute(select(C.c.id).where(C.c.id == customer_id)).first() is None:
            raise UnknownCustomer(customer_id)
    verdict = verify(engine, now, customer_id)
    with engine.connect() as connection:
        records = collect(connection, customer_id)
        head = head_of(connection, customer_id)
    files = {f"{name}.json": _json(rows) for name, rows in records.items()}
    files |= {f"{name}.csv": _csv(rows).encode() for name, rows in records.items()}
    summary = _summary(records, verdict, head, now, files)
    files["summary.pdf"] = render_pdf(summary)
    files["manifest.json"] = _json(summary.manifest())
    counts = {name: len(rows) for name, rows in records.items()}
    return Bundle(customer_id, files, counts, verdict, head)


def export(engine: Engine, now: datetime, customer_id: str, target: Path) -> Bundle:
    """Write the evidence file to ``target``: replaced whole, or untouched on failure."""
    target = Path(target)
    _check_writable(target)
    bundle = build(engine, now, customer_id)
    _write_zip(target, bundle.files)
    return bundle


def collect(connection: Connection, customer_id: str) -> Records:
    """Every record of the customer, as JSON-ready dicts."""
    customer = connection.execute(select(C).where(C.c.id == customer_id)).mappings().one()
    records: Records = {"customer": [_plain(dict(customer))]}
    for name, query in SOURCES.items():
        rows = connection.execute(query(customer_id)).mappings().all()
        records[name] = [_plain({k: v for k, v in row.items() if k not in _NOT_EVIDENCE})
                         for row in rows]  # fmt: skip
    for row in records["events"]:
        row["chain"] = chain_of(customer_id)
        row["tombstone"] = is_tombstone(row.get("data") or {})
    return records


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON values: times and days ISO 8601, exact decimals as text, and every ``*_cents``
    beside its amount."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        out[key] = _value(value)
        if key.endswith("_cents") and isinstance(value, int):
            out[key.removesuffix("_cents")] = str(cents_to_money(value))
    return out


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode()


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    cells = [{k: v if isinstance(v, str | int | Decimal) or v is None
              else json.dumps(v, ensure_ascii=False, sort_keys=True)
              for k, v in row.items()} for row in rows]  # fmt: skip
    return write_csv(columns, cells)


def _summary(records: Records, verdict: Verdict, head: tuple[int, str], now: datetime,
             files: dict[str, bytes]) -> Summary:  # fmt: skip
    customer = records["customer"][0]
    invoiced: Counter[str] = Counter()
    paid: Counter[str] = Counter()
    for r in records["receivables"]:
        invoiced[r["currency"]] += r["amount_cents"]
    for p in records["payments"]:
        paid[p["currency"]] += p["amount_cents"]
    return Summary(
        customer_id=customer["id"], name=customer["name"], country=customer["country"],
        kind=customer["kind"], generated_at=now,
        invoiced={c: cents_to_money(v) for c, v in sorted(invoiced.items())},
        paid={c: cents_to_money(v) for c, v in sorted(paid.items())},
        counts={name: len(rows) for name, rows in records.items() if name != "customer"},
        kinds=dict(sorted(Counter(e["kind"] for e in records["events"]).items())),
        messages=[(m["id"], m["created_at"], m["channel"], m["step"], m["status"])
                  for m in records["messages"]],
        payments=[(p["id"], p["invoice_id"], p["paid_on"], p["amount"], p["currency"])
                  for p in records["payments"]],
        letters=[(m["id"], m["step"], m["status"], m.get("carrier") or "",
                  m.get("tracking_no") or "", m.get("posted_at") or "",
                  m.get("received_on") or "") for m in records["letters"]],
        decisions=[(d["at"], d["actor"], (d["data"] or {}).get("decision", ""),
                    (d["data"] or {}).get("reason", "")) for d in records["legal_decisions"]],
        verdict=verdict, head=head,
        files={name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    )  # fmt: skip


def _check_writable(target: Path) -> None:
    if target.is_dir():
        raise CannotWrite(target, "it is a folder")
    folder = target.parent
    if not folder.is_dir():
        raise CannotWrite(target, f"there is no folder {folder}")
    if not os.access(folder, os.W_OK):
        raise CannotWrite(target, f"the folder {folder} is not writable")


def _write_zip(target: Path, files: dict[str, bytes]) -> None:
    """Written beside the target, then renamed over it: never half a file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".evidence-", suffix=".zip", dir=target.parent)
    except OSError as exc:
        raise CannotWrite(target, exc.strerror or str(exc)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            _zip_into(handle, files)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CannotWrite(target, exc.strerror or str(exc)) from None


def _zip_into(handle: IO[bytes], files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
