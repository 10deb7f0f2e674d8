"""Sealing and verifying the evidence log (D18) in the database.

Events are written unsealed by whoever writes them (store/reminders.py, the planner's
executemany, the services, the webhooks): no writer computes a hash, so none can get it
wrong. :func:`seal` then gives every event without a seal its place in its customer's
chain, in id order per chain; it runs on the scheduler's tick and before every export,
verification and purge. One sealer at a time (an advisory lock on PostgreSQL, SQLite's
write lock taken first), so two workers never fork a chain; the UNIQUE (chain, seq) of
``event_seals`` would refuse a fork anyway.

Two concurrent writers may commit events out of id order (PostgreSQL sequences): an
event committed after a later id was sealed is sealed later, further down its chain.
The chain asserts the order of sealing, not of ids.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, text
from sqlmodel import Session

from notifier.domain.errors import NotFound
from notifier.evidence.chain import (
    GENESIS,
    SYSTEM,
    Break,
    ChainCheck,
    Header,
    Sealed,
    chain_of,
    check_chain,
    link,
    payload_digest,
)
from notifier.store.db import unit_of_work
from notifier.store.evidence import EventSeal
from notifier.store.models import Customer, Event

E = Event.__table__  # type: ignore[attr-defined]
S = EventSeal.__table__  # type: ignore[attr-defined]
BATCH = 5000  # events sealed per transaction
_CHUNK = 500  # chains per head lookup (bound parameters per statement)
_PG_LOCK = 0x6E6F7469  # pg_advisory_xact_lock key of the sealer ("noti")


class UnknownCustomer(NotFound, LookupError):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer with id {customer_id!r}")


def take_seal_lock(session: Session) -> None:
    """Be the only sealer until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    else:  # a write first: SQLite's write lock now, not after reading a stale snapshot
        session.execute(text("DELETE FROM retention_grants WHERE 1 = 0"))


def seal(engine: Engine, now: datetime, customer_id: str | None = None) -> int:
    """Seal every unsealed event (only ``customer_id``'s chain when given), batch by
    batch, one transaction each; returns how many were sealed."""
    total = 0
    while True:
        with unit_of_work(engine) as session:
            n = seal_batch(session, now, customer_id)
        total += n
        if n < BATCH:
            return total


def seal_batch(session: Session, now: datetime, customer_id: str | None = None,
               limit: int = BATCH) -> int:  # fmt: skip
    """Seal up to ``limit`` unsealed events in the caller's transaction."""
    take_seal_lock(session)
    query = (
        select(E.c.id, E.c.at, E.c.kind, E.c.customer_id, E.c.actor, E.c.data)
        .outerjoin(S, S.c.event_id == E.c.id)
        .where(S.c.event_id.is_(None))
        .order_by(E.c.id)
        .limit(limit)
    )
    if customer_id is not None:
        query = query.where(E.c.customer_id == customer_id)
    rows = session.execute(query).all()
    if not rows:
        return 0
    heads = _heads(session, {chain_of(r.customer_id) for r in rows})
    seals: list[dict[str, Any]] = []
    for r in rows:
        chain = chain_of(r.customer_id)
        seq, prev = heads.get(chain, (0, GENESIS))
        seq += 1
        digest = payload_digest(r.data)
        hashed = link(prev, Header(r.id, r.at, r.kind, r.customer_id, r.actor), seq, digest)
        heads[chain] = (seq, hashed)
        seals.append({"event_id": r.id, "chain": chain, "seq": seq, "prev_hash": prev,
                      "payload_sha256": digest, "hash": hashed, "sealed_at": now})  # fmt: skip
    session.execute(insert(S), seals)
    return len(rows)


def _heads(session: Session, chains: Iterable[str]) -> dict[str, tuple[int, str]]:
    """The last seal (seq, hash) of each of these chains that has one."""
    heads: dict[str, tuple[int, str]] = {}
    ordered = sorted(chains)
    for i in range(0, len(ordered), _CHUNK):
        part = ordered[i : i + _CHUNK]
        last = (
            select(S.c.chain, func.max(S.c.seq).label("seq"))
            .where(S.c.chain.in_(part))
            .group_by(S.c.chain)
            .subquery()
        )
        rows = session.execute(
            select(S.c.chain, S.c.seq, S.c.hash).join(
                last, and_(last.c.chain == S.c.chain, last.c.seq == S.c.seq)
            )
        ).all()
        heads.update({str(c): (int(q), str(h)) for c, q, h in rows})
    return heads


# -- verification -------------------------------------------------------------------------


@dataclass
class Verdict:
    """What ``evidence verify`` found: every chain checked, and where each one breaks."""

    chains: list[ChainCheck] = field(default_factory=list)
    breaks: list[Break] = field(default_factory=list)
    sealed_now: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def events(self) -> int:
        return sum(c.events for c in self.chains)

    @property
    def tombstones(self) -> int:
        return sum(c.tombstones for c in self.chains)


def verify(engine: Engine, now: datetime, customer_id: str | None = None) -> Verdict:
    """Seal what is unsealed, then walk every chain (or ``customer_id``'s) from its first
    event: a changed, removed or reordered row breaks it at that event."""
    if customer_id is not None:
        with unit_of_work(engine) as session:
            if session.get(Customer, customer_id) is None:
                raise UnknownCustomer(customer_id)
    verdict = Verdict(sealed_now=seal(engine, now, customer_id))
    with engine.connect() as connection:
        for chain, rows in itertools.groupby(_sealed(connection, customer_id),
                                             key=lambda pair: pair[0]):  # fmt: skip
            checked, breaks = check_chain(chain, (row for _, row in rows))
            verdict.chains.append(checked)
            verdict.breaks += breaks
    return verdict


def _sealed(connection: Connection, customer_id: str | None) -> Iterator[tuple[str, Sealed]]:
    query = (
        select(S.c.chain, S.c.event_id, S.c.seq, S.c.prev_hash, S.c.payload_sha256, S.c.hash,
               E.c.id, E.c.at, E.c.kind, E.c.customer_id, E.c.actor, E.c.data)
        .outerjoin(E, E.c.id == S.c.event_id)
        .order_by(S.c.chain, S.c.seq)
    )  # fmt: skip
    if customer_id is not None:
        query = query.where(S.c.chain == chain_of(customer_id))
    result = connection.execution_options(yield_per=2000).execute(query)
    for r in result:
        header = None if r.id is None else Header(r.id, r.at, r.kind, r.customer_id, r.actor)
        sealed = Sealed(header, int(r.event_id), r.data or {}, int(r.seq), str(r.prev_hash),
                        str(r.payload_sha256), str(r.hash))  # fmt: skip
        yield str(r.chain), sealed


def head_of(connection: Connection, customer_id: str | None) -> tuple[int, str]:
    """The chain's length and last hash: the figure to write down outside the database
    (the export's manifest), so that even a rewrite of the whole chain shows later."""
    row = connection.execute(
        select(S.c.seq, S.c.hash)
        .where(S.c.chain == chain_of(customer_id))
        .order_by(S.c.seq.desc())
        .limit(1)
    ).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


__all__ = ["SYSTEM", "UnknownCustomer", "Verdict", "head_of", "seal", "seal_batch", "verify"]
