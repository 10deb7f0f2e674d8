"""D5: the collection stage of a customer, from the oldest open item."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from notifier.domain.items import Item
from notifier.domain.policy import StageName, StagePolicy

# `current`: open items, none due within the pre-due window yet; `settled`: nothing open.
Stage = Literal["current", "pre_due", "m1", "m2", "m3", "legal", "settled"]


def stage_for_days(days_overdue: int, policy: StagePolicy) -> Stage:
    """Stage for an item ``days_overdue`` days past due (negative = not yet due).

    Day -3..0 is pre_due (0 = due today, not yet late), 1..30 m1, 31..60 m2, 61..90 m3,
    91 and later legal, with the bounds taken from the policy.
    """
    if days_overdue < -policy.pre_due_days:
        return "current"
    if days_overdue <= 0:
        return "pre_due"
    if days_overdue <= policy.m1_max:
        return "m1"
    if days_overdue <= policy.m2_max:
        return "m2"
    if days_overdue <= policy.m3_max:
        return "m3"
    return "legal"


@dataclass(frozen=True)
class StageResult:
    stage: Stage
    days_overdue: int  # of the oldest open item; 0 when nothing is open
    oldest_item_id: str | None

    @property
    def reminder_stage(self) -> StageName | None:
        """The stage as a cadence stage, or None when no reminder is due (current/settled)."""
        stage = self.stage
        if stage == "current" or stage == "settled":
            return None
        return stage


def customer_stage(items: Iterable[Item], today: date, policy: StagePolicy) -> StageResult:
    """The stage of the customer's oldest open item (earliest due date) on ``today``.

    What an open dispute sets aside is paused (D22): a wholly disputed item does not set
    the stage, a partly disputed one does while its undisputed part is owed.
    """
    oldest = oldest_open(items, today)
    if oldest is None:
        return StageResult("settled", 0, None)
    days = oldest.days_overdue(today)
    return StageResult(stage_for_days(days, policy), days, oldest.id)


def oldest_open(items: Iterable[Item], today: date) -> Item | None:
    """The item that sets the stage: of those whose undisputed part is open on ``today``,
    the one due first (by id on the same due date); None when nothing is open."""
    oldest: Item | None = None
    for item in items:
        if item.is_collectable_on(today) and (
            oldest is None or (item.due_on, item.id) < (oldest.due_on, oldest.id)
        ):
            oldest = item
    return oldest


def overdue_counting(items: Sequence[Item], today: date) -> list[Item]:
    """The items whose days overdue decide something from ``today`` on: the oldest one
    still collected (the stage, the cadence step, the cycle) and the oldest one unpaid (D1's
    delay so far: a disputed one too). A paid item's delay is fixed, a younger item's is
    always shorter. With a payment dated after today or an item issued after it, which
    items those are may change: then every item not paid by today. (``Standing.counting``
    asks :func:`counting_with` with the stage's item it already has.)"""
    return counting_with(items, today, oldest_open(items, today))


def counting_with(items: Sequence[Item], today: date, stage_item: Item | None) -> list[Item]:
    """:func:`overdue_counting`, given ``stage_item``: ``oldest_open(items, today)``."""
    unpaid = [i for i in items if (s := i.settled_on()) is None or s > today or i.issued_on > today]
    if any(i.issued_on > today for i in items) or any(
        p.paid_on > today for i in items for p in i.payments
    ):
        return unpaid
    counting = [min(unpaid, key=_due)] if unpaid else []
    if stage_item is not None:
        counting.append(stage_item)
    return counting


def _due(item: Item) -> date:
    return item.due_on
