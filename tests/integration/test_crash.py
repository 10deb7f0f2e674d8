"""Crash safety of delivery (issue 6), with real ``notifier worker`` processes on both
stores: a worker killed with SIGKILL in the middle of a batch, a worker stopped with
SIGTERM in the middle of a batch, and the SMTP server dying in the middle of a batch.
Whatever happens, no reminder is sent twice and none is lost: each is sent exactly once,
or is ``unknown`` (it may have gone out) and left to a person, never resent by itself."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.store.models import Reminder
from tests.fakes.backlog import approved_backlog, events_by_reminder, reminders_by_id, still_to_send
from tests.fakes.smtp_servers import CrashingHandler, crashing_smtp_server
from tests.fakes.twilio_fake import TwilioFake
from tests.fakes.workers import WorkerPool, policy_copy, worker_env

STORES = ("sqlite", "postgresql")
WAIT_S = 120.0  # the bound on every wait; none is expected to come near it
LEASE_S = 10  # the shortest lease the policy accepts: a dead worker's claims expire after it
BATCH = 20
SLOW_PROVIDER_S = 0.15  # the local Twilio answers each message this late


def statuses(reminders: dict[int, Reminder]) -> Counter[str]:
    return Counter(r.status for r in reminders.values())


@pytest.mark.parametrize(
    ("store", "group"),
    [("sqlite", 10), ("postgresql", 10), ("postgresql", 1)],
    indirect=["store"],
)
def test_worker_killed_mid_batch_sends_nothing_twice_and_leaves_what_was_in_flight_unknown(
    db_url: str, engine: Engine, policy: Policy, group: int, tmp_path: Path
) -> None:
    planted = approved_backlog(engine, 32, datetime.now(UTC), policy, prefix="K",
                               channels=("sms",))  # fmt: skip
    address = {p.reminder_id: p.address for p in planted}
    policy_path = policy_copy(tmp_path, batch=30, lease_seconds=LEASE_S, group=group)
    with TwilioFake() as twilio:
        twilio.callbacks_enabled = False
        twilio.delay = SLOW_PROVIDER_S
        env = worker_env(twilio=twilio, policy_path=policy_path)
        with WorkerPool(db_url, env, tmp_path) as pool:
            first = pool.start()
            # Its first group sent, the worker blocked on the provider's answer to one of the
            # second: kill. The rest of that batch stays claimed until the lease ends.
            mid_batch = twilio.wait_for(lambda: len(twilio.messages) >= 15 and twilio.holding > 0,
                                        WAIT_S)  # fmt: skip
            assert mid_batch, pool.logs()
            first.kill()
            at_kill = reminders_by_id(engine)
            second = pool.start()
            assert pool.wait_until(lambda: still_to_send(engine) == 0, WAIT_S), pool.logs()
            assert second.stop() == 0, pool.logs()
        assert twilio.wait_for(lambda: twilio.holding == 0, WAIT_S)
        arrived = Counter(m.to for m in twilio.messages)

    in_flight = {rid for rid, r in at_kill.items() if r.status == "sending"}
    sent_before = {rid for rid, r in at_kill.items() if r.status == "sent"}
    stranded = {rid for rid, r in at_kill.items() if r.status == "approved" and r.claimed_by}
    # At most one group of reminders is `sending` per worker (with a group of one: only
    # the message held at the provider); the one held at the provider is among them.
    assert 1 <= len(in_flight) <= group
    assert any(arrived[address[rid]] == 1 for rid in in_flight)

    final = reminders_by_id(engine)
    sent, unknown = events_by_reminder(engine, "sent"), events_by_reminder(engine, "unknown")
    # No phone got its reminder twice; none lost: sent exactly once, or unknown.
    assert max(arrived.values()) == 1
    assert statuses(final) == {"sent": len(planted) - len(in_flight), "unknown": len(in_flight)}
    for rid, r in final.items():
        if rid in in_flight:  # left to a person, with a reason, never resent
            assert r.status == "unknown" and r.attempts == 1
            assert r.reason is not None and "check with the provider" in r.reason
            assert len(unknown[rid]) == 1 and rid not in sent
            assert arrived[address[rid]] <= 1
        else:
            assert r.status == "sent" and len(sent[rid]) == 1 and rid not in unknown
            assert arrived[address[rid]] == 1
    # What the dead worker had claimed but not started went out from the second worker
    # (after the lease), as did what it had not claimed.
    assert stranded and all(final[rid].status == "sent" for rid in stranded)
    by_worker = Counter(sent[rid][0].data["worker"] for rid in sent)
    first_name = f":{first.pid}"
    assert {rid for rid in sent if sent[rid][0].data["worker"].endswith(first_name)} == sent_before
    assert sum(n for name, n in by_worker.items() if name.endswith(f":{second.pid}")) == len(
        planted
    ) - len(in_flight) - len(sent_before)
    print(f"{len(sent_before)} sent before the kill, {len(in_flight)} in flight -> unknown "
          f"({sum(arrived[address[rid]] for rid in in_flight)} of them at the provider), "
          f"{len(stranded)} claimed and not started, {len(sent) - len(sent_before)} sent "
          "after the restart")  # fmt: skip


@pytest.mark.parametrize("store", STORES, indirect=True)
def test_sigterm_finishes_the_message_in_hand_and_releases_the_rest_of_the_batch(
    db_url: str, engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    planted = approved_backlog(engine, 20, datetime.now(UTC), policy, prefix="T",
                               channels=("sms",))  # fmt: skip
    # A long lease: what the stopped worker claimed can go out at once only if released.
    policy_path = policy_copy(tmp_path, batch=BATCH, lease_seconds=3600)
    with TwilioFake() as twilio:
        twilio.callbacks_enabled = False
        twilio.delay = SLOW_PROVIDER_S
        env = worker_env(twilio=twilio, policy_path=policy_path)
        with WorkerPool(db_url, env, tmp_path) as pool:
            first = pool.start()
            mid_batch = twilio.wait_for(lambda: len(twilio.messages) >= 5 and twilio.holding > 0,
                                        WAIT_S)  # fmt: skip
            assert mid_batch, pool.logs()
            assert first.stop() == 0, pool.logs()
            at_stop = reminders_by_id(engine)
            second = pool.start()
            assert pool.wait_until(lambda: still_to_send(engine) == 0, WAIT_S), pool.logs()
            assert second.stop() == 0, pool.logs()
        arrived = Counter(m.to for m in twilio.messages)

    # The message in hand was finished and recorded; nothing is left `sending` or claimed.
    assert statuses(at_stop).keys() <= {"sent", "approved"}
    assert all(r.claimed_by is None for r in at_stop.values())
    assert len(arrived) == len(planted) and max(arrived.values()) == 1
    final = reminders_by_id(engine)
    assert statuses(final) == {"sent": len(planted)}
    sent = events_by_reminder(engine, "sent")
    first_sent = {rid for rid, r in at_stop.items() if r.status == "sent"}
    assert first_sent and len(first_sent) < len(planted)
    assert {rid for rid in sent if sent[rid][0].data["worker"].endswith(f":{first.pid}")} == (
        first_sent
    )
    assert "stopping" in first.output()


@pytest.mark.parametrize("store", STORES, indirect=True)
def test_smtp_server_dying_mid_batch_loses_nothing_and_resends_nothing(
    db_url: str, engine: Engine, policy: Policy, tmp_path: Path
) -> None:
    planted = approved_backlog(engine, 40, datetime.now(UTC), policy, prefix="M",
                               channels=("email",))  # fmt: skip
    by_address = {p.address: p.reminder_id for p in planted}
    # Transient failures retry within a second or two, inside the slot.
    policy_path = policy_copy(tmp_path, retry_base_seconds=1, retry_max_seconds=2)
    smtp = crashing_smtp_server(crash_after=15, down_for=3)
    handler = smtp.handler
    assert isinstance(handler, CrashingHandler)
    with smtp:
        env = worker_env(smtp=smtp, policy_path=policy_path)
        with WorkerPool(db_url, env, tmp_path) as pool:
            worker = pool.start()
            assert pool.wait_until(handler.back.is_set, WAIT_S), pool.logs()
            assert pool.wait_until(lambda: still_to_send(engine) == 0, WAIT_S), pool.logs()
            assert worker.stop() == 0, pool.logs()
        mails = smtp.mails
    uncertain = handler.uncertain
    assert uncertain is not None

    arrived = Counter(to for m in mails for to in m.rcpt_tos)
    final = reminders_by_id(engine)
    errors = events_by_reminder(engine, "send_error")
    sent = events_by_reminder(engine, "sent")
    # The one cut off after its DATA: the server has it, the worker cannot know: unknown.
    cut_off = final[by_address[uncertain.rcpt_tos[0]]]
    assert cut_off.status == "unknown" and cut_off.reason and "may have it" in cut_off.reason
    assert arrived[cut_off.address] == 1
    # Nothing twice; the rest sent exactly once, those that failed while it was down too.
    assert max(arrived.values()) == 1
    assert set(statuses(final)) == {"sent", "unknown"}
    for r in final.values():
        if r.status == "sent":
            assert arrived[r.address] == 1 and len(sent[r.id or 0]) == 1
        else:  # unknown: it may have arrived (once), it is not sent again
            assert r.attempts == 1 + len(errors.get(r.id or 0, [])) and r.id not in sent
    retried = {rid for rid in errors if final[rid].status == "sent"}
    assert retried, "no e-mail was tried while the server was down"
    message_ids = {str(m.message["Message-ID"]) for m in mails}
    assert {r.provider_id for r in final.values() if r.status == "sent"} <= message_ids
    print(f"{statuses(final)}; {len(retried)} sent after transient failures "
          f"({sum(len(e) for e in errors.values())} failed attempts)")  # fmt: skip
