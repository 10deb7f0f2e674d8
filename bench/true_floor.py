"""The true floor of planning, measured beside the planning sweep in one process (issue 12):

    python -m bench.measure true_floor '{"db": ..., "floor_db": ..., "at": ...}'

1. ``plan``: the planning sweep over a fresh copy of the portfolio, as ``bench.measure``
   runs it (CPU and wall time);
2. ``true_floor``: the same drafts, rendered from the same template files by a plain
   Jinja2 environment from precomputed plain values (every amount, date and rate already
   formatted: the filters only look the strings up), then one raw ``executemany`` of the
   same rows per chunk (sqlite3, no SQLAlchemy) into another copy, in one transaction.

What the floor leaves out is what planning must do besides writing the text and the row:
reading the portfolio, the rules (standing, cadence, slots), formatting, the content
linter, the lint facts. ``plan_vs_true_floor`` is the share of the floor's rate that
planning reaches (CPU time: the machine is shared; target >= 0.6). Rebuilding the
messages from the store and precomputing their values are not timed.

Both sides are measured in the steady state, the same way: every template is compiled
before its clock starts (the planner's renderer by ``settle_process``, as ``notifier
worker`` starts; the floor's environment in :func:`_environment`), so neither pays
Jinja2's one-time compilation inside its timed run.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from bench.measure import (
    COPIED,
    POLICY_PATH,
    _context,
    _work,
    memory_mb,
)
from notifier.render import MessageContext
from notifier.render.renderer import (
    HTML_PREFIX,
    _Environment,
    _is_http_url,
    _paragraphs,
    _tidy,
    _tidy_sms,
    _upfirst,
    environment,
    template_names,
)
from notifier.render.segments import sms_segments
from notifier.services.startup import settle_process
from notifier.settings import load_policy
from notifier.shipped import TEMPLATES_DIR
from notifier.store.db import make_engine

TEXT_COLUMNS = ("subject", "body", "html", "segments")
Lookup = dict[tuple[Any, ...], str]


def measure(args: dict[str, Any]) -> dict[str, Any]:
    at = datetime.fromisoformat(args["at"])
    plan = _plan(args["db"], at, args.get("batch", 1000))
    floor = _true_floor(args["db"], args["floor_db"], at)
    return {
        "plan": plan,
        **floor,
        "plan_vs_true_floor": plan["cpu_rate"] / floor["cpu_rate"] if floor["cpu_rate"] else 0,
        "plan_vs_true_floor_wall": plan["rate"] / floor["rate"] if floor["rate"] else 0,
        "peak_rss_mb": memory_mb("VmHWM"),
    }


def _plan(db: str, at: datetime, batch: int) -> dict[str, Any]:
    """The planning sweep, timed from a warm start: its renderer's templates compiled and
    the pool opened before the clock starts (as ``bench.measure.measure_plan``)."""
    from notifier.sweeps.plan import plan

    ctx = _context(load_policy(POLICY_PATH))
    settle_process(ctx.renderer)
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect():
        pass
    started, cpu = time.perf_counter(), time.process_time()
    report = plan(engine, at, ctx, batch=batch, force=True)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    engine.dispose()
    n = report.drafted
    return {
        "drafts": n,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rate": n / seconds if seconds else 0.0,
        "cpu_rate": n / cpu_seconds if cpu_seconds else 0.0,
        "cpu_us_per_draft": cpu_seconds / n * 1e6 if n else 0.0,
    }


def _true_floor(plan_db: str, floor_db: str, at: datetime) -> dict[str, Any]:
    policy = load_policy(POLICY_PATH)
    env = _environment()
    stored = _stored_rows(plan_db, at)
    render_s = render_cpu = insert_s = insert_cpu = 0.0
    count = same = 0
    target = sqlite3.connect(floor_db, isolation_level=None)
    target.execute("BEGIN")
    columns = [*COPIED, *TEXT_COLUMNS]
    sql = f"INSERT INTO reminders ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for work in _work(plan_db, at, policy):
        # Untimed: each message's variables and every string its templates print.
        prepared = [(_prepared(env, m, ch), m, ch, row) for m, ch, row in work]
        started, cpu = time.perf_counter(), time.process_time()
        texts = [_render(env, values, m, ch) for values, m, ch, _row in prepared]
        render_s += time.perf_counter() - started
        render_cpu += time.process_time() - cpu
        rows = []
        for (_v, _m, _ch, row), text in zip(prepared, texts, strict=True):
            raw = stored[(row["customer_id"], row["step"], row["cycle"])]
            same += raw[-len(TEXT_COLUMNS) :] == text
            rows.append((*raw[: len(COPIED)], *text))
        started, cpu = time.perf_counter(), time.process_time()
        target.executemany(sql, rows)
        insert_s += time.perf_counter() - started
        insert_cpu += time.process_time() - cpu
        count += len(rows)
    started, cpu = time.perf_counter(), time.process_time()
    target.execute("COMMIT")
    insert_s += time.perf_counter() - started
    insert_cpu += time.process_time() - cpu
    target.close()
    seconds, cpu_seconds = render_s + insert_s, render_cpu + insert_cpu
    return {
        "drafts": count,
        "same_text_as_plan": same,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "render_seconds": render_s,
        "render_cpu_seconds": render_cpu,
        "insert_seconds": insert_s,
        "insert_cpu_seconds": insert_cpu,
        "rate": count / seconds if seconds else 0.0,
        "cpu_rate": count / cpu_seconds if cpu_seconds else 0.0,
        "cpu_us_per_draft": cpu_seconds / count * 1e6 if count else 0.0,
    }


def _stored_rows(plan_db: str, at: datetime) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    """The planning sweep's drafts as stored (raw column values), by (customer, step,
    cycle): the floor writes the same rows, with the text it rendered itself."""
    source = sqlite3.connect(plan_db)
    created = source.execute("SELECT max(created_at) FROM reminders").fetchone()[0]
    cursor = source.execute(
        f"SELECT {', '.join((*COPIED, *TEXT_COLUMNS))} FROM reminders WHERE created_at = ?",
        (created,),
    )
    index = {name: i for i, name in enumerate(COPIED)}
    rows = {
        (r[index["customer_id"]], r[index["step"]], r[index["cycle"]]): tuple(r) for r in cursor
    }
    source.close()
    return rows


def _environment() -> _Environment:
    """Jinja2 over the same template files with the same settings (the ``html:`` names let
    the HTML layout compile the step's words with autoescape); every template compiled
    here, before any clock starts."""
    env = environment(TEMPLATES_DIR)
    env.filters.update(
        money=_looked_up("money"),
        day=_looked_up("day"),
        day_short=_looked_up("day_short"),
        rate=_looked_up("rate"),
        paragraphs=_paragraphs,
        upfirst=_upfirst,
    )
    env.tests["http_url"] = _is_http_url
    for name in template_names(env.list_templates()):
        env.get_template(name)
    return env


LOOKUP = "_strings"  # the template variable holding a message's formatted strings


def _looked_up(kind: str) -> Callable[..., str]:
    @pass_context
    def lookup(context: Context, value: Any, currency: str | None = None) -> str:
        strings: Lookup = context[LOOKUP]
        return strings[(kind, value, currency)]

    return lookup


def _prepared(env: _Environment, message: MessageContext, channel: str) -> dict[str, Any]:
    """The message's variables with every string its templates print, formatted: found by
    rendering it once with recording filters (untimed)."""
    from notifier.render.formatting import (
        format_day,
        format_day_short,
        format_money,
        format_rate,
    )

    strings: Lookup = {}
    # The renderer's filters format in ``format_locale`` (the language refined by the
    # customer's country: en + GB writes dates as en-GB), not in the templates' ``locale``.
    locale = message.format_locale

    def money(value: Decimal, currency: str | None) -> str:
        return format_money(value, currency or message.currency, locale)

    formats: dict[str, Callable[[Any, Any], str]] = {
        "money": money,
        "day": lambda d, _c: format_day(d, locale),
        "day_short": lambda d, _c: format_day_short(d, locale),
        "rate": lambda r, _c: format_rate(r, locale),
    }

    class Recording(dict[tuple[Any, ...], str]):
        def __missing__(self, key: tuple[Any, ...]) -> str:
            kind, value, currency = key
            self[key] = text = formats[kind](value, currency)
            return text

    values = {**message.template_vars(), LOOKUP: Recording()}
    _render(env, values, message, channel)
    strings.update(values[LOOKUP])
    return {**message.template_vars(), LOOKUP: strings}


def _render(
    env: _Environment, values: dict[str, Any], message: MessageContext, channel: str
) -> tuple[Any, ...]:
    """(subject, body, html, segments) as the drafts store them."""
    if channel == "call":
        text = env.get_template(f"call/{message.locale}/{message.step}.txt.j2").render(values)
        lines = [line.strip() for line in text.splitlines()]
        return (None, "\n".join(line for line in lines if line), None, None)
    if channel == "sms":
        name = f"sms/{message.locale}/{message.step}.txt.j2"
        body = _tidy_sms(env.get_template(name).render(values))
        return (None, body, None, sms_segments(body)[0])
    subject = env.get_template("email/_subject.j2").render(values)
    text = env.get_template("email/_layout.txt.j2").render(values)
    html = env.get_template(HTML_PREFIX + "email/_layout.html.j2").render(values)
    return (" ".join(subject.split()), _tidy(text), _tidy(html), None)
