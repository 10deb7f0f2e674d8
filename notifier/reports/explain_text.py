"""`notifier explain CUSTOMER` for a person: the customer's standing (``reports/explain``)
in words of ``--locale`` (zh-CN or en), every label from the one catalogue
(``notifier.words``). The codes (stage ``m1``, tone, step, channel) stay in ``--json``."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from rich.console import Console
from rich.table import Table

from notifier.domain.calendar import CalendarNotPublished
from notifier.domain.penalty import describe_rate
from notifier.domain.slots import SEARCH_DAYS, Slot
from notifier.render.formatting import babel_locale, country_name
from notifier.reports.explain import Explanation
from notifier.services.legal import route_lines
from notifier.words import Words, words


def local_time(dt: datetime, zone: str, locale: str) -> str:
    """``2026-03-02 10:00 CST (Mon)`` / ``2026-03-02 10:00 CST（周一）``: the customer's
    own clock, its weekday in the reader's language."""
    local = dt.astimezone(ZoneInfo(zone))
    weekday = format_date(local.date(), "EEE", locale=babel_locale(locale))
    return words(locale)("ex_local_time", time=f"{local:%Y-%m-%d %H:%M %Z}", weekday=weekday)


def print_explanation(console: Console, e: Explanation, locale: str = "en") -> None:
    """The customer's header lines, its open items as a table, then the rest."""
    w = words(locale, e.standing.policy.stages)
    for line in head_lines(e, w):
        console.print(line, markup=False, highlight=False)
    if e.position.lines:
        console.print(items_table(e, w))
    for line in standing_lines(e, w):
        console.print(line, markup=False, highlight=False)


def head_lines(e: Explanation, w: Words) -> list[str]:
    """Who the customer is, the instant, the stage."""
    c = e.customer
    stage = e.stage
    return [
        w("ex_header", id=c.id, name=c.name, kind=w.kind(c.kind),
          country=country_name(c.country, w.locale),
          zone=c.timezone, language=w("lang_" + c.locale.replace("-", "_"))),
        w("ex_collector", collector=c.collector or "—",
          legal=w("cu_yes") if c.legal_authorised else w("cu_no")),
        w("ex_as_of", local=local_time(e.at, c.timezone, w.locale),
          utc=f"{e.at.astimezone(UTC):%Y-%m-%d %H:%M}"),
        w("ex_stage_settled", stage=w.stage("settled")) if stage.stage == "settled" else
        w("ex_stage", stage=w.stage(stage.stage), item=stage.oldest_item_id or "—",
          days=w.days(stage.days_overdue)),
    ]  # fmt: skip


def items_table(e: Explanation, w: Words) -> Table:
    """The open items: a red row more than 30 days overdue."""
    table = Table(header_style="bold")
    for key in ("cu_invoice", "cu_due_on", "cu_days_overdue", "cu_outstanding", "cu_paused",
                "ex_rate", "cu_penalty"):  # fmt: skip
        left = key in ("cu_invoice", "cu_due_on")
        table.add_column(w(key), justify="left" if left else "right", overflow="fold")
    for o in e.position.lines:
        rate = o.item.penalty_rate_daily or e.default_rate
        table.add_row(
            o.item.id + (f" ({w('cu_disputed')})" if o.item.disputed else ""),
            o.item.due_on.isoformat(), str(o.days_overdue),
            f"{o.outstanding:,.2f} {o.item.currency}", f"{o.paused:,.2f}" if o.paused else "",
            describe_rate(rate), f"{o.penalty:,.2f}",
            style="red" if o.days_overdue > 30 else None,
        )  # fmt: skip
    return table


def standing_lines(e: Explanation, w: Words) -> list[str]:
    """Totals, tier, tone, the due step, promises, escalation, slots, limits, flags."""
    c = e.customer
    st = e.standing
    pos = e.position
    lines: list[str] = []
    say = lines.append
    if pos.lines:
        for cur, t in st.totals.items():
            paused = w("ex_paused", paused=f"{t.paused:,.2f}") if t.paused else ""
            say(w("ex_totals", currency=cur, outstanding=f"{t.outstanding:,.2f}",
                  overdue=f"{t.overdue:,.2f}", penalty=f"{t.penalty:,.2f}",
                  paused=paused))  # fmt: skip
        say(w("ex_items", open=len(pos.open_items), overdue=len(pos.overdue_items),
              days=pos.max_days_overdue))  # fmt: skip
    how = w("ex_tier_hand_set" if e.tier.hand_set else "ex_tier_computed")
    say(w("ex_tier", tier=w.tier(e.tier.tier), how=how, why=w.whys(e.tier.reasons)))
    say(w("ex_tone", tone=w.tone(e.tone)) if e.tone else w("ex_tone_none"))
    lines += _due(e, w)
    route = e.legal_route
    if route is not None and (route.authorised or route.decisions or route.letter_sent_at):
        lines += [w("ex_legal_route", line=line.strip()) for line in route_lines(route, w.locale)]
    for p in st.promises.open:
        amount = w("ex_amount", amount=f"{p.amount:,.2f}") if p.amount is not None else ""
        say(w("ex_promise", day=p.promised_on.isoformat(), amount=amount))
    if st.promises.broken:
        say(w("ex_broken", n=st.promises.broken))
    lines += _escalation(e, w)
    lines += _slots(e, w)
    allowed = e.allowed_hours
    now = w("cu_yes") if e.contact_allowed_now else w("cu_no")
    say(w("ex_quiet_hours", country=country_name(c.country, w.locale),
          start=f"{allowed.start:%H:%M}", end=f"{allowed.end:%H:%M}", now=now))  # fmt: skip
    caps = e.caps
    say(w("ex_caps", sms_day=caps.sms_per_day, email_day=caps.email_per_day,
          sms_7=caps.sms_per_7_days, email_7=caps.email_per_7_days))  # fmt: skip
    states = [w("ex_channel_state", channel=w.channel(ch), state=w("ex_ch_" + state))
              for ch, state in e.channel_states.items()]  # fmt: skip
    say(w("ex_channels", channels=w("ex_list_sep").join(states)))
    flags = [(w("cu_blacklisted"), e.flags.blacklist_why),
             (w("cu_suspend_orders"), e.flags.suspend_why)]  # fmt: skip
    on = [(name, why) for name, why in flags if why]
    lines += [w("ex_flag", flag=name, why=w.whys(why)) for name, why in on]
    if not on:
        say(w("ex_flags_none"))
    return lines


def _due(e: Explanation, w: Words) -> list[str]:
    st = e.standing
    due = st.due
    if due is None:
        active = st.promises.active
        why = (w("paused_promise", date=active.promised_on.isoformat()) if active is not None
               else w("ex_nothing_due"))  # fmt: skip
        return [w("ex_due_none", why=why)]
    channel = w.channel(st.channel) if st.channel else w("ex_no_channel")
    firmer = w("ex_firmer", n=due.firmer_by) if due.firmer_by else ""
    lines = [w("ex_due", step=w.step(due.step.name), channel=channel, firmer=firmer)]
    if e.skipped_letter:
        instead = (w("ex_instead", channel=w.channel(st.channel)) if st.channel
                   else w("ex_step_skipped"))  # fmt: skip
        lines.append(w("ex_letter_skipped", instead=instead))
    return lines


def _escalation(e: Explanation, w: Words) -> list[str]:
    escalation = e.standing.escalation
    zone = e.customer.timezone
    if escalation.at is not None:
        lines = [w("ex_escalated", at=local_time(escalation.at, zone, w.locale),
                   reason=w.reason(escalation.reason) or "—")]  # fmt: skip
        h = e.handover
        if h is not None and h.recorded:
            note = f" ({h.note})" if h.note else ""
            lines.append("  " + w("cu_handover", before=h.from_collector or "—",
                                  after=h.to or "—", by=h.by or "—") + note)  # fmt: skip
        return lines
    if escalation.due is not None:
        return [w("ex_escalation_due", reason=w.reason(escalation.due))]
    return []


def _slots(e: Explanation, w: Words) -> list[str]:
    st = e.standing
    zone = ZoneInfo(e.customer.timezone)
    lines = []
    for channel, found in st.next_slots.items():
        if isinstance(found, Slot):
            lines.append(w(
                "ex_slot", channel=w.channel(channel), window=w.window(found.window),
                start=local_time(found.start, e.customer.timezone, w.locale),
                end=f"{found.end.astimezone(zone):%H:%M}",
                utc=f"{found.start:%Y-%m-%d %H:%M}-{found.end:%H:%M}",
            ))  # fmt: skip
        else:
            lines.append(w("ex_slot_unknown", channel=w.channel(channel), why=_no_slot(found, w)))
    if not st.next_slots:
        lines.append(w("ex_slot_none"))
    call = st.next_call
    if isinstance(call, Slot):
        lines.append(w("ex_call", window=w.window(call.window),
                       start=local_time(call.start, e.customer.timezone, w.locale),
                       end=f"{call.end.astimezone(zone):%H:%M}"))  # fmt: skip
    return lines


def _no_slot(found: object, w: Words) -> str:
    if isinstance(found, CalendarNotPublished):
        return w("ex_no_calendar", country=found.country, year=found.year)
    return w("ex_none_within", days=SEARCH_DAYS)
