"""The evidence hash chain on its own (D18, C5): what each kind of change to a sealed event
breaks, and what a tombstone keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from notifier.domain.policy import RetentionPolicy
from notifier.evidence.chain import (
    GENESIS,
    PURGE_KIND,
    Header,
    Sealed,
    check_chain,
    link,
    payload_digest,
    tombstone,
)
from notifier.sweeps.purge import add_years

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _chain(events: list[tuple[str, dict[str, object]]]) -> list[Sealed]:
    rows, prev = [], GENESIS
    for seq, (kind, data) in enumerate(events, start=1):
        header = Header(seq * 10, AT, kind, "C1", "delivery")
        digest = payload_digest(data)
        hashed = link(prev, header, seq, digest)
        rows.append(Sealed(header, seq * 10, data, seq, prev, digest, hashed))
        prev = hashed
    return rows


SENT = ("sent", {"reminder_id": 7, "channel": "sms", "address": "+8613900000000",
                 "body": "王先生您好", "attempt": 1})  # fmt: skip


def test_an_untouched_chain_verifies_and_ends_at_its_last_hash() -> None:
    rows = _chain([SENT, ("delivered", {"reminder_id": 7}), ("opened", {"reminder_id": 7})])
    checked, breaks = check_chain("C1", rows)
    assert breaks == [] and checked.events == 3 and checked.head == rows[-1].hash


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: replace(r, data={**r.data, "body": "已结清"}), "its data was changed"),
        (lambda r: replace(r, header=replace(r.header, actor="x")),
         "its time, kind, customer or actor was changed"),
        (lambda r: replace(r, header=None), "the event row is gone"),
    ],
)  # fmt: skip
def test_each_kind_of_change_breaks_the_chain_at_that_event(change: object,
                                                           problem: str) -> None:  # fmt: skip
    rows = _chain([SENT, SENT, SENT])
    rows[1] = change(rows[1])  # type: ignore[operator]
    _, breaks = check_chain("C1", rows)
    assert [(b.event_id, b.problem) for b in breaks] == [(20, problem)]
    assert str(breaks[0]).startswith("customer C1: event 20 (#2): ")


def test_a_removed_event_breaks_the_chain_at_the_next_one() -> None:
    rows = _chain([SENT, SENT, SENT])
    _, breaks = check_chain("C1", [rows[0], rows[2]])
    assert {b.event_id for b in breaks} == {30}


def test_a_tombstone_keeps_figures_not_personal_data_and_verifies_after_the_purge_record() -> None:
    kept = tombstone(SENT[1], AT)
    assert kept["reminder_id"] == 7 and kept["channel"] == "sms" and kept["tombstone"] == "C5"
    assert "body" not in kept and "address" not in kept
    rows = _chain([SENT, (PURGE_KIND, {"rule": "C5"})])
    rows[0] = replace(rows[0], data=kept)
    checked, breaks = check_chain("C1", rows)
    assert breaks == [] and checked.tombstones == 1
    # a tombstone with no purge after it is not the purge's
    _, breaks = check_chain("C1", rows[:1])
    assert [b.problem for b in breaks] == ["a tombstone that no purge recorded"]


def test_retention_years_per_country_and_leap_days() -> None:
    policy = RetentionPolicy()
    assert (policy.years_for("US"), policy.years_for("CN"), policy.years_for("DE")) == (3, 5, 5)
    assert add_years(datetime(2024, 2, 29).date(), 3) == datetime(2027, 2, 28).date()
    with pytest.raises(ValueError, match="country code"):
        RetentionPolicy(years={"usa": 3})
    with pytest.raises(ValueError, match="between 1 and 100"):
        RetentionPolicy(years={"US": 0})
