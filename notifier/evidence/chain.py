"""The hash chain of the evidence log (D18), pure: no database here.

Each event of a customer is sealed, in id order, with

    hash = SHA-256("notifier-evidence-v1" | prev_hash | header | payload_sha256)

where ``header`` is the canonical JSON of the event's own columns (id, at, kind, customer,
actor) and its place in the chain (seq), and ``payload_sha256`` the digest of its ``data``.
The payload's digest is kept beside the hash so that the retention purge (C5) can replace
personal data in a payload by a tombstone and the chain still verifies: the header and the
links are checked for every event, the payload for every event that is not a tombstone.

Events with no customer (logins, users, tokens) form one chain of their own, ``SYSTEM``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SYSTEM = ""  # the chain of the events that name no customer
GENESIS = "0" * 64  # the prev_hash of a chain's first event
_DOMAIN = b"notifier-evidence-v1"
TOMBSTONE = "tombstone"  # the payload key that marks a purged payload (C5)

# What a tombstone keeps of a payload: references and figures, never text a person wrote
# or an address (reports count events by kind, channel and status; amounts stay).
KEPT_IN_TOMBSTONE = frozenset({
    "reminder_id", "channel", "provider_status", "error_code", "attempt", "step", "stage",
    "tier", "tone", "status", "amount", "amount_cents", "currency", "promised_on",
    "invoice_id", "promise_id", "dispute_id", "plan_id", "role", "moved_to", "settled",
})  # fmt: skip


def canonical(value: Any) -> bytes:
    """The one byte string of a JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()  # fmt: skip


def payload_digest(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(dict(data))).hexdigest()


def chain_of(customer_id: str | None) -> str:
    return customer_id if customer_id else SYSTEM


@dataclass(frozen=True)
class Header:
    """An event's own columns, as they enter its hash."""

    id: int
    at: datetime
    kind: str
    customer_id: str | None
    actor: str | None

    def as_json(self, seq: int) -> dict[str, Any]:
        at = self.at.astimezone(UTC).isoformat(timespec="microseconds")
        return {"id": self.id, "at": at, "kind": self.kind, "customer_id": self.customer_id,
                "actor": self.actor, "seq": seq}  # fmt: skip


def link(prev_hash: str, header: Header, seq: int, payload_sha256: str) -> str:
    h = hashlib.sha256(_DOMAIN)
    for part in (prev_hash.encode(), canonical(header.as_json(seq)), payload_sha256.encode()):
        h.update(b"|")
        h.update(part)
    return h.hexdigest()


def is_tombstone(data: Mapping[str, Any]) -> bool:
    return TOMBSTONE in data


def tombstone(data: Mapping[str, Any], purged_at: datetime) -> dict[str, Any]:
    """The payload left after the purge: the kept figures and the mark (C5)."""
    kept = {k: v for k, v in data.items() if k in KEPT_IN_TOMBSTONE}
    return kept | {TOMBSTONE: "C5", "purged_at": purged_at.astimezone(UTC).isoformat()}


@dataclass(frozen=True)
class Sealed:
    """One event with its seal, as read back for verification."""

    header: Header | None  # None: the sealed event is gone
    event_id: int
    data: Mapping[str, Any]
    seq: int
    prev_hash: str
    payload_sha256: str
    hash: str


@dataclass(frozen=True)
class Break:
    """Where a chain stops proving anything, and why."""

    chain: str
    event_id: int
    seq: int
    problem: str

    def __str__(self) -> str:
        who = f"customer {self.chain}" if self.chain != SYSTEM else "system events"
        return f"{who}: event {self.event_id} (#{self.seq}): {self.problem}"


@dataclass
class ChainCheck:
    chain: str
    events: int = 0
    tombstones: int = 0
    head: str = GENESIS
    purge_recorded: bool = False


PURGE_KIND = "retention_purged"


def check_chain(chain: str, rows: Iterable[Sealed]) -> tuple[ChainCheck, list[Break]]:
    """Walk one chain in seq order: every link, header and (unless a tombstone) payload.
    A tombstone must be followed by the purge's own record in the same chain."""
    result, breaks = ChainCheck(chain), []
    expected_seq, prev = 1, GENESIS
    open_tombstone: Sealed | None = None
    for row in rows:
        result.events += 1
        if row.seq != expected_seq:
            breaks.append(Break(chain, row.event_id, row.seq,
                                f"events #{expected_seq}..#{row.seq - 1} are missing"))  # fmt: skip
        if row.prev_hash != prev:
            breaks.append(
                Break(
                    chain,
                    row.event_id,
                    row.seq,
                    "does not follow the event before it (a row was removed)",
                )
            )
        if row.header is None:
            breaks.append(Break(chain, row.event_id, row.seq, "the event row is gone"))
        else:
            if link(row.prev_hash, row.header, row.seq, row.payload_sha256) != row.hash:
                breaks.append(
                    Break(
                        chain,
                        row.event_id,
                        row.seq,
                        "its time, kind, customer or actor was changed",
                    )
                )
            if is_tombstone(row.data):
                result.tombstones += 1
                open_tombstone = open_tombstone or row
            elif payload_digest(row.data) != row.payload_sha256:
                breaks.append(Break(chain, row.event_id, row.seq, "its data was changed"))
            if row.header.kind == PURGE_KIND:
                result.purge_recorded, open_tombstone = True, None
        expected_seq, prev = row.seq + 1, row.hash
    if open_tombstone is not None:
        breaks.append(Break(chain, open_tombstone.event_id, open_tombstone.seq,
                            "a tombstone that no purge recorded"))  # fmt: skip
    result.head = prev
    return result, breaks
