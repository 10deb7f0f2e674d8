"""The tables of the tamper-evident log (D18) and of the retention purge (C5), created by
migration 0010. Kept apart from ``models.py``: nothing but ``notifier/evidence`` and the
purge sweep writes them.

- ``event_seals``: one row per sealed event, its place in its customer's chain and its
  hash (``evidence/chain.py``). Append-only like ``events``: the database refuses UPDATE
  and DELETE. Events themselves stay exactly as written; the seal is beside them.
- ``retention_grants``: a customer the purge is anonymising right now. The events' UPDATE
  trigger lets a row of that customer be changed only while its grant exists, only its
  ``data``, and only into a tombstone; the purge inserts the grant and deletes it in the
  same transaction, so no grant is ever visible to anyone else.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from notifier.store.types import UTCDateTime


class EventSeal(SQLModel, table=True):
    __tablename__ = "event_seals"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_event_seals_chain_seq"),)

    # No foreign key to events: a seal outlives a removed event, to say it was removed.
    event_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    chain: str = Field(max_length=64)  # the customer's id; "" for events of no customer
    seq: int
    prev_hash: str = Field(max_length=64)
    payload_sha256: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    sealed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RetentionGrant(SQLModel, table=True):
    __tablename__ = "retention_grants"

    customer_id: str = Field(primary_key=True, max_length=64)
    granted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
