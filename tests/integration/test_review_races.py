"""Review decisions racing each other, on both stores: a decision locks the draft and
re-reads it, so what another reviewer (or the planner) committed meanwhile is what it
checks, never the copy its own request read a moment before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from notifier.domain.calendar import WorkCalendar
from notifier.domain.lint import UNSUBSCRIBE_MARK
from notifier.domain.policy import Policy
from notifier.services import review
from notifier.store.db import unit_of_work
from notifier.store.models import Reminder
from tests.support import add_deciders, two_customer_portfolio

NOW = datetime(2026, 3, 2, 0, 5, tzinfo=UTC)  # 08:05 in Shanghai, before the 09:00 slot


def test_a_draft_rejected_meanwhile_is_not_approved_from_the_page_read_before(
    engine: Engine, policy: Policy
) -> None:
    draft = two_customer_portfolio(engine, policy)["C1"]
    add_deciders(engine, "li", "wang")
    calendar = WorkCalendar(policy.calendar)
    with Session(engine, expire_on_commit=False) as first:
        # The queue page's bulk approval reads the selected drafts, then approves them.
        read = review.get_draft(first, draft)
        assert read.status == "pending_approval"
        with unit_of_work(engine) as second:
            review.reject(second, draft, "li", "customer paid by phone", NOW)
        with pytest.raises(review.ReviewError, match="is rejected"):
            review.approve(first, [draft], "wang", NOW, policy, calendar)
        assert read.status == "rejected"  # the very object the page read, brought up to date
        first.rollback()
    with unit_of_work(engine) as s:
        found = s.get(Reminder, draft)
        assert found is not None
        assert (found.status, found.decided_by) == ("rejected", "li")


def test_an_edit_from_a_stale_read_is_refused_not_written_over_the_newer_one(
    engine: Engine, policy: Policy
) -> None:
    draft = two_customer_portfolio(engine, policy)["C2"]
    add_deciders(engine, "li", "wang")
    with Session(engine, expire_on_commit=False) as first:
        read = review.get_draft(first, draft)
        seen = read.version
        with unit_of_work(engine) as second:
            body = f"李经理修改过的提醒。\n{UNSUBSCRIBE_MARK}"  # the opt-out line's link kept
            review.edit(second, draft, "li", body, None, NOW, policy, expected_version=seen)
        with pytest.raises(review.ReviewError, match="changed meanwhile"):
            body = f"王经理的版本。\n{UNSUBSCRIBE_MARK}"
            review.edit(first, draft, "wang", body, None, NOW, policy, expected_version=seen)
        assert read.version == seen + 1
        first.rollback()
    with unit_of_work(engine) as s:
        found = s.get(Reminder, draft)
        assert found is not None and found.body.startswith("李经理修改过的提醒")
