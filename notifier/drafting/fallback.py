"""What a fallback SMS says (D17): the message of the e-mail it follows, rebuilt from the
same facts. The e-mail's reminder keeps the day its facts are as of (``facts["as_of"]``,
else the day it was drafted), its step and its tone; the SMS is that step's SMS from the
customer's position on that day (the same amounts, the same pay-by date or dates offered,
the same waiver offer, D23), linted against the facts the e-mail was linted against, so it
states nothing the e-mail could not. Computing it from the day of the SMS instead would
offer other dates than the e-mail did ("pay by the due date" followed by "would 16 or 18
March suit you?")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from notifier.domain.items import local_date
from notifier.domain.lint import LintFacts
from notifier.domain.policy import Policy
from notifier.drafting.compose import facts_from_json
from notifier.render import MessageContext

# Steps whose SMS is no follow-up of a reminder: a fallback of one of them says the facts
# and asks for the dates offered, as a fallback of an unknown step does.
NOT_FOLLOWED = frozenset({"fallback", "thank_you"})


def facts_day(facts: dict[str, Any], drafted_at: datetime, zone: str) -> date:
    """The customer's day the e-mail's facts are as of."""
    stored = facts.get("as_of")
    return date.fromisoformat(stored) if stored else local_date(drafted_at, zone)


def followed_template(step: str, policy: Policy) -> str:
    """The template of the cadence step the e-mail was drafted for; "" when none is known."""
    steps = policy.cadence.steps if policy.cadence is not None else ()
    template = next((s.template_name for s in steps if s.name == step), "")
    return "" if template in NOT_FOLLOWED else template


def email_facts(facts: dict[str, Any], legal_authorised: bool) -> LintFacts | None:
    """The facts the e-mail was linted against, for the SMS; None when it kept none."""
    if not facts.get("amounts"):
        return None
    return facts_from_json(facts, "sms", legal_authorised)


def asked_by(message: MessageContext) -> date:
    """The first day the e-mail asked the customer to pay by: the nearest due date before
    it (pay by the due date), the offer's date (D23), else the first date offered. An SMS
    that would go out later would repeat a date already past."""
    if message.overdue_count == 0 and message.due_dates:
        return message.due_dates[0].due_on
    offered = message.total_penalty > 0 and message.offer_waiver_percent > 0
    if message.follows == "offer" and offered:
        return message.offer_pay_by
    return message.pay_options[0]
