from datetime import date, timedelta

import pytest

from notifier.domain.cadence import (
    anchored_step,
    choose_channel,
    cycle_key,
    due_step,
    eligible_steps,
    ladder,
    offer_pay_by,
    pay_options,
)
from notifier.domain.policy import CadencePolicy, CadenceStep, Policy


@pytest.fixture
def steps(policy: Policy) -> tuple[CadenceStep, ...]:
    assert policy.cadence is not None
    return policy.cadence.steps


def weekdays(day: date) -> bool:
    return day.weekday() < 5


@pytest.mark.parametrize(
    ("days", "expected"),
    [(-4, None), (-3, "pre_due"), (0, "pre_due"), (2, None), (3, "friendly"), (10, "offer"),
     (20, "formal_notice"), (31, "instalment_offer"), (45, "instalment_offer"),
     (61, "consequences"), (91, "final_notice"), (300, "final_notice")],
)  # fmt: skip
def test_latest_reached_step_is_due(
    steps: tuple[CadenceStep, ...], days: int, expected: str | None
) -> None:
    result = due_step(steps, days, "B", legal_authorised=False, drafted=())
    assert (result.step.name if result else None) == expected


def test_lawyer_letter_only_for_legal_authorised_customers(steps: tuple[CadenceStep, ...]) -> None:
    authorised = due_step(steps, 50, "B", legal_authorised=True, drafted=())
    assert authorised is not None and authorised.step.name == "lawyer_letter"
    plain = due_step(steps, 50, "B", legal_authorised=False, drafted=())
    assert plain is not None and plain.step.name == "instalment_offer"


def test_tier_c_starts_earlier(steps: tuple[CadenceStep, ...]) -> None:
    assert due_step(steps, -5, "B", legal_authorised=False, drafted=()) is None
    result = due_step(steps, -5, "C", legal_authorised=False, drafted=())
    assert result is not None and result.step.name == "pre_due"


def test_step_already_drafted_in_this_cycle_is_not_due_again(
    steps: tuple[CadenceStep, ...],
) -> None:
    assert due_step(steps, 12, "B", legal_authorised=False, drafted={"offer"}) is None


def test_missed_rungs_are_not_sent_as_a_backlog(steps: tuple[CadenceStep, ...]) -> None:
    result = due_step(steps, 25, "A", legal_authorised=False, drafted=())
    assert result is not None and result.step.name == "formal_notice"


def test_broken_promise_resumes_one_step_firmer(steps: tuple[CadenceStep, ...]) -> None:
    result = due_step(steps, 12, "B", legal_authorised=False, drafted=(), broken_promises=1)
    assert result is not None
    assert (result.step.name, result.firmer_by) == ("formal_notice", 1)


def test_firmer_never_goes_past_the_last_rung(steps: tuple[CadenceStep, ...]) -> None:
    result = due_step(steps, 95, "B", legal_authorised=False, drafted=(), broken_promises=3)
    assert result is not None and result.step.name == "final_notice"


def test_channel_falls_back_when_the_preferred_one_is_unusable() -> None:
    assert choose_channel(("email", "sms"), sms_ok=True, email_ok=True) == "email"
    assert choose_channel(("email", "sms"), sms_ok=True, email_ok=False) == "sms"
    assert choose_channel(("email", "sms"), sms_ok=False, email_ok=False) is None


def test_cycle_is_named_by_the_item_that_opened_it() -> None:
    assert cycle_key("INV-1", date(2026, 2, 1)) == "INV-1@2026-02-01"


def test_pay_options_are_two_working_days_ahead() -> None:
    # Thursday 2026-03-05: +3 = Sunday -> Monday 9th, then the second working day after: 11th
    assert pay_options(date(2026, 3, 5), weekdays) == (date(2026, 3, 9), date(2026, 3, 11))


def test_offer_pay_by_is_this_weeks_last_working_day() -> None:
    assert offer_pay_by(date(2026, 3, 2), weekdays) == date(2026, 3, 6)  # Monday -> Friday
    # Thursday leaves only Friday: next week's Friday instead
    assert offer_pay_by(date(2026, 3, 5), weekdays) == date(2026, 3, 13)
    holiday = date(2026, 3, 6)
    assert offer_pay_by(date(2026, 3, 2), lambda d: weekdays(d) and d != holiday) == date(
        2026, 3, 5
    )
    assert offer_pay_by(date(2026, 3, 7) - timedelta(days=0), weekdays) == date(2026, 3, 13)


def test_ladder_is_the_track_in_day_order_for_the_tier(steps: tuple[CadenceStep, ...]) -> None:
    rungs = ladder(steps, "C", calls=False, legal_authorised=False)
    assert [s.name for s in rungs.steps][:3] == ["pre_due", "friendly", "offer"]
    assert rungs.days[:3] == (-5, 3, 10)  # tier C starts earlier
    assert list(rungs.days) == sorted(rungs.days)
    assert "lawyer_letter" not in [s.name for s in rungs.steps]
    assert ladder(steps, "C", calls=False, legal_authorised=False) is rungs  # kept
    assert eligible_steps(steps, "C", legal_authorised=False) == list(rungs.steps)


def test_a_list_of_steps_gives_the_same_answers_as_the_tuple(
    steps: tuple[CadenceStep, ...],
) -> None:
    for days in range(-10, 120):
        for calls in (False, True):
            assert due_step(list(steps), days, "B", True, (), calls=calls) == due_step(
                steps, days, "B", True, (), calls=calls
            )
        assert anchored_step(
            list(steps), days, "B", (), calls=True, anchor="mid_term", within_days=7
        ) == anchored_step(steps, days, "B", (), calls=True, anchor="mid_term", within_days=7)


def test_changed_steps_get_a_ladder_of_their_own(policy: Policy) -> None:
    assert policy.cadence is not None
    steps = policy.cadence.steps
    moved = tuple(s.model_copy(update={"day": 5}) if s.name == "friendly" else s for s in steps)
    changed = CadencePolicy(steps=moved).steps
    assert due_step(steps, 4, "B", legal_authorised=False, drafted=()) is not None
    assert due_step(changed, 4, "B", legal_authorised=False, drafted=()) is None


def test_anchored_step_is_the_latest_reached_within_its_days(
    steps: tuple[CadenceStep, ...],
) -> None:
    def thanks(days: int) -> str | None:
        step = anchored_step(steps, days, "A", (), calls=False, anchor="settled", within_days=7)
        return step.name if step else None

    assert [thanks(d) for d in (6, 7, 13, 14)] == [None, "thank_you", "thank_you", None]
