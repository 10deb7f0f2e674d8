"""A formal letter's text and the facts it is printed from (issue 15).

The reviewer reads, edits and approves the body like an e-mail's text; the PDF prints
that body between the letterhead and the table of open items, which come from the facts
stored with the draft (``facts["letter"]``): amounts as of the letter's date, every open
item with its penalty basis (rate, days), and the deadline in working days of the
customer's official calendar. What is printed is what was approved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from notifier.domain.calendar import CalendarNotPublished, WorkCalendar
from notifier.domain.letters import add_working_days
from notifier.domain.lint import LintFacts, LintProblem, facts_amounts, lint
from notifier.domain.policy import Policy
from notifier.domain.position import Position
from notifier.render import MessageContext, Renderer
from notifier.render.renderer import _values

TEMPLATE = "letter/{locale}/{step}.txt.j2"


def letter_inputs(channel: str, country: str, pos: Position,
                  calendar: WorkCalendar) -> dict[str, Any]:  # fmt: skip
    """What ``compose`` needs besides the message context for a letter (nothing for the
    other channels): the working-day test of the customer's country (D11, whatever the
    customer's kind: a deadline is counted on official working days) and each open item's
    contract rate."""
    if channel != "letter":
        return {}
    rates = {o.item.id: o.item.penalty_rate_daily for o in pos.open_items
             if o.item.penalty_rate_daily is not None}  # fmt: skip
    return {"is_working_day": lambda d: calendar.is_working_day(country, d), "rates": rates}


def letter_facts(ctx: MessageContext, policy: Policy, deadline: date | None,
                 working_days: int, rates: dict[str, Decimal]) -> dict[str, Any]:  # fmt: skip
    """What the PDF prints besides the body, fixed when the letter is drafted."""
    default_rate = policy.penalty.default_daily_rate
    return {
        "step": ctx.step,
        "letter_date": (ctx.as_of or date.today()).isoformat(),
        "deadline": deadline.isoformat() if deadline else None,
        "working_days": working_days,
        "currency": ctx.currency,
        "creditor": ctx.creditor_name,
        "creditor_address": policy.letters.address.get(ctx.locale, ""),
        "contact": ctx.creditor_contact,
        "customer_name": ctx.customer_name,
        "total_outstanding": str(ctx.total_outstanding),
        "total_penalty": str(ctx.total_penalty),
        "total_with_penalty": str(ctx.total_with_penalty),
        "items": [
            {"invoice_id": i.invoice_id, "issued_on": i.issued_on.isoformat(),
             "due_on": i.due_on.isoformat(), "days_overdue": max(i.days_overdue, 0),
             "outstanding": str(i.outstanding), "penalty": str(i.penalty),
             "rate": str(rates.get(i.invoice_id, default_rate)),
             "paused": str(i.paused), "currency": i.currency}
            for i in ctx.items
        ],
    }  # fmt: skip


def compose_letter(
    ctx: MessageContext,
    renderer: Renderer,
    policy: Policy,
    facts: LintFacts,
    is_working_day: Callable[[date], bool],
    rates: dict[str, Decimal] | None = None,
) -> tuple[str, str, dict[str, Any], list[LintProblem], LintFacts]:
    """Title, body, the letter's facts, the linter's problems and the lint facts (the
    letter's date and deadline among the dates it may state). A deadline the calendar
    cannot count yet (next year not published, D11) is a problem the reviewer sees: the
    letter cannot be approved until it is drafted again."""
    n = policy.letters.working_days_for(ctx.step)
    letter_day = ctx.as_of or date.today()
    problems: list[LintProblem] = []
    deadline: date | None
    try:
        deadline = add_working_days(letter_day, n, is_working_day)
    except (CalendarNotPublished, ValueError) as exc:
        deadline = None
        problems.append(LintProblem("deadline_unknown", f"the deadline cannot be counted: {exc}"))
    values = _values(ctx)
    values |= {"deadline": deadline or letter_day, "deadline_days": n, "letter_date": letter_day,
               "creditor_address": policy.letters.address.get(ctx.locale, "")}  # fmt: skip
    name = TEMPLATE.format(locale=ctx.locale, step=ctx.step)
    # The renderer's own environment (filters, StrictUndefined, compiled once); a letter is
    # one plain-text template whose first line is the title.
    template = renderer._step_template("letter", ctx, name)
    text = renderer._render(template, values, ctx).strip("\n")
    title, _, body = text.partition("\n")
    body = "\n".join(line.rstrip() for line in body.strip("\n").splitlines())
    while "\n\n\n" in body:
        body = body.replace("\n\n\n", "\n\n")
    extra = {letter_day, *([deadline] if deadline else [])}
    facts = replace(facts, dates=facts.dates | extra,
                    amounts=facts.amounts | facts_amounts([Decimal(n)]))  # fmt: skip
    problems += lint(body, facts, policy.lint)
    letter = letter_facts(ctx, policy, deadline, n, rates or {})
    return title.strip(), body, letter, problems, facts
