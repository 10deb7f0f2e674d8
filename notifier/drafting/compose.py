"""Compose one reminder: the message context from the customer's position, the rendered
text, and the facts the linter checks it against (D7, D14, D15)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

from notifier.domain.cadence import offer_pay_by, pay_options
from notifier.domain.calendar import WorkCalendar
from notifier.domain.lint import LintFacts, LintProblem, facts_amounts, lint
from notifier.domain.policy import Channel, Policy
from notifier.domain.position import Position
from notifier.render import ItemLine, MessageContext, Renderer


class Addressee(Protocol):
    """What composing a message needs of a customer: a mapped ``Customer`` or a plain row
    (``store.queries.CustomerRow``) both have it."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def locale(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def legal_authorised(self) -> bool: ...


@dataclass(frozen=True)
class Composed:
    subject: str | None
    body: str
    html: str | None
    segments: int | None
    facts: dict[str, Any]
    lint: list[LintProblem]


def working_day_test(customer: Addressee, calendar: WorkCalendar) -> Any:
    if customer.kind == "business":
        return lambda d: calendar.is_working_day(customer.country, d)
    return lambda d: True


def payment_url(customer: Addressee, pos: Position, policy: Policy) -> str:
    """The oldest open item's own payment link, else the creditor's portal for the
    customer's country."""
    for open_item in pos.open_items:
        if open_item.item.payment_url:
            return open_item.item.payment_url
    return policy.creditor.payment_url_for(customer.country).format(customer_id=customer.id)


def message_context(
    customer: Addressee,
    pos: Position,
    *,
    step: str,
    tone: str,
    today: date,
    policy: Policy,
    calendar: WorkCalendar,
    url: str,
    follows: str = "",
) -> MessageContext:
    options, pay_by = _offered_dates(calendar, today, customer.kind == "business", customer.country)
    locale = customer.locale if customer.locale in ("zh-CN", "en") else "zh-CN"
    rate = next(
        (o.item.penalty_rate_daily for o in pos.open_items if o.item.penalty_rate_daily),
        policy.penalty.default_daily_rate,
    )
    return MessageContext(
        locale=locale,
        tone=tone,
        step=step,
        customer_name=customer.name,
        customer_kind=customer.kind,
        customer_title=customer_title(customer),
        creditor_name=policy.creditor.name_for(locale),
        creditor_signature=policy.creditor.signature_for(locale),
        creditor_contact=policy.creditor.contact_for(customer.country),
        items=tuple(
            ItemLine(
                invoice_id=o.item.id,
                issued_on=o.item.issued_on,
                due_on=o.item.due_on,
                days_overdue=o.days_overdue,
                outstanding=o.outstanding,
                penalty=o.penalty,
                currency=o.item.currency,
                paused=o.paused,
            )
            for o in pos.open_items
        ),
        # nothing open (a thank-you, a greeting, D24): the creditor's first currency
        currency=pos.currency or (pos.open_items[0].item.currency if pos.open_items else "CNY"),
        total_outstanding=pos.total_outstanding,
        overdue_count=len(pos.overdue_items),
        total_overdue=pos.total_overdue,
        max_days_overdue=pos.max_days_overdue,
        total_penalty=pos.total_penalty,
        penalty_rate_daily=rate,
        payment_url=url,
        pay_options=options,
        legal_authorised=customer.legal_authorised,
        offer_waiver_percent=policy.planning.offer_waiver_percent,
        offer_pay_by=pay_by,
        final_days=policy.planning.final_days,
        pre_due_days=policy.stages.pre_due_days,
        follows=follows,
        as_of=today,
        country=customer.country,
    )


def customer_title(customer: Addressee) -> str:
    """``mr`` / ``ms`` for a person whose title is stored (issue 13), else "" (the messages
    then greet plainly: 您好 / Hello). A business is addressed by its name alone. A caller's
    customer without the attribute (a plain stand-in) has no title."""
    title = getattr(customer, "title", None)
    return title if customer.kind == "individual" and title in ("mr", "ms") else ""


@lru_cache(maxsize=4096)
def _offered_dates(
    calendar: WorkCalendar, today: date, business: bool, country: str
) -> tuple[tuple[date, date], date]:
    """The pay-by dates a message offers: the same for every customer of a kind and country
    on a day, so computed once per day (the calendar holds no state that changes)."""
    is_working: Callable[[date], bool] = (
        (lambda d: calendar.is_working_day(country, d)) if business else (lambda d: True)
    )
    return pay_options(today, is_working), offer_pay_by(today, is_working)


def lint_facts(
    ctx: MessageContext, channel: Channel, extra_ignore: tuple[str, ...] = ()
) -> LintFacts:
    """Every amount and date a message built from ``ctx`` may truthfully state."""
    amounts: list[Decimal] = [ctx.total_outstanding, ctx.total_overdue, ctx.total_penalty]
    for line in ctx.items:
        amounts += [line.outstanding, line.penalty, line.outstanding + line.penalty]
        if line.paused:  # D22: a text may say what is set aside, never ask for it
            amounts.append(line.paused)
    # The derived amounts the templates may print, computed where the templates get them.
    amounts += [
        ctx.waived_penalty,
        ctx.penalty_after_waiver,
        ctx.total_with_penalty,
        ctx.overdue_with_penalty,
        ctx.instalment_first,
        ctx.instalment_rest,
    ]
    # What falls due on each coming date, and on all of them together (pre-due texts).
    amounts += [d.amount for d in ctx.due_dates]
    if ctx.due_soon_total is not None:
        amounts.append(ctx.due_soon_total)
    dates = {*ctx.pay_options, *(i.due_on for i in ctx.items), *(i.issued_on for i in ctx.items)}
    if ctx.offer_pay_by:
        dates.add(ctx.offer_pay_by)
    # The customer's own name may hold digits (星辰1000贸易): they are not an amount. Only
    # such a name is ignored: one of digits alone would hide that number wherever it
    # appears, one without digits has nothing to hide.
    name = ctx.customer_name.strip()
    holds_number = any(c.isdigit() for c in name) and not name.isdigit()
    names = (name,) if holds_number else ()
    ignore = (*(i.invoice_id for i in ctx.items), ctx.creditor_contact, *names, *extra_ignore)
    return LintFacts(
        amounts=facts_amounts(amounts),
        dates=frozenset(dates),
        legal_authorised=ctx.legal_authorised,
        channel=channel,
        locale=ctx.locale,
        # Longest first (an id inside a longer one), ties by text: the same order every run.
        ignore=tuple(sorted(set(ignore), key=lambda token: (-len(token), token))),
        opt_out_link=channel == "email",
    )


def facts_to_json(facts: LintFacts) -> dict[str, Any]:
    return {
        "amounts": sorted(str(a) for a in facts.amounts),
        "dates": sorted(d.isoformat() for d in facts.dates),
        "ignore": list(facts.ignore),
        "locale": facts.locale,
        **({"opt_out_link": True} if facts.opt_out_link else {}),
    }


def facts_from_json(data: dict[str, Any], channel: Channel, legal_authorised: bool) -> LintFacts:
    return LintFacts(
        amounts=frozenset(Decimal(a) for a in data.get("amounts", ())),
        dates=frozenset(date.fromisoformat(d) for d in data.get("dates", ())),
        legal_authorised=legal_authorised,
        channel=channel,
        locale=str(data.get("locale", "zh-CN")),
        ignore=tuple(data.get("ignore", ())),
        opt_out_link=bool(data.get("opt_out_link", False)),
    )


def compose(
    ctx: MessageContext,
    channel: Channel,
    renderer: Renderer,
    policy: Policy,
    facts: LintFacts | None = None,
    *,
    is_working_day: Callable[[date], bool] | None = None,
    rates: dict[str, Decimal] | None = None,
) -> Composed:
    """The text of ``ctx`` on ``channel``, linted against ``facts`` (by default: what
    ``ctx`` may state; a fallback SMS passes the facts of the e-mail it follows). A letter
    needs ``is_working_day`` (its deadline) and the items' contract ``rates``
    (``letters.text.letter_inputs``)."""
    facts = facts or lint_facts(ctx, channel)
    max_segments = policy.planning.sms_max_segments
    if channel == "letter":  # issue 15: printed and posted; the lint facts as an e-mail's
        from notifier.letters.text import compose_letter  # letters/ builds on this module

        if is_working_day is None:
            raise ValueError("a letter's deadline needs the working-day test: is_working_day=")
        title, body, letter, problems, facts = compose_letter(
            ctx, renderer, policy, replace(facts, channel="email"), is_working_day, rates
        )
        stored = _stored(facts, ctx) | {"letter": letter}
        return Composed(title, body, None, None, stored, problems)
    if channel == "sms":
        sms = renderer.sms(ctx)
        problems = lint(sms.body, facts, policy.lint, segments=sms.segments,
                        max_segments=max_segments)  # fmt: skip
        return Composed(None, sms.body, None, sms.segments, _stored(facts, ctx), problems)
    email = renderer.email(ctx)
    problems = lint(email.text, facts, policy.lint, subject=email.subject)
    return Composed(email.subject, email.text, email.html, None, _stored(facts, ctx), problems)


def _stored(facts: LintFacts, ctx: MessageContext) -> dict[str, Any]:
    """The facts as the reminder keeps them, with the day they are as of: a fallback SMS
    rebuilds the e-mail's message from that day (the same amounts and dates offered)."""
    data = facts_to_json(facts)
    if ctx.as_of is not None:
        data["as_of"] = ctx.as_of.isoformat()
    return data


def compose_call(ctx: MessageContext, renderer: Renderer, policy: Policy) -> Composed:
    """A call task's talking points (issue 14), in the articles' order: the greeting, the
    exact items, amounts, days and penalty, the offer, and a closing ask with two dates;
    linted like a message (amounts and dates true, no legal words unless decided, D14)."""
    body = renderer.call(ctx)
    facts = lint_facts(ctx, "call")
    problems = lint(body, facts, policy.lint)
    return Composed(None, body, None, None, _stored(facts, ctx), problems)
