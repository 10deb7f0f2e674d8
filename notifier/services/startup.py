"""What ``notifier serve`` and ``notifier worker`` check before they start (issue 13): the
creditor's contact lines cover every country of the customers in the data; and how a
long-running process settles before its first tick (issue 12)."""

from __future__ import annotations

import gc

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.policy import Policy
from notifier.render import Renderer
from notifier.store.models import Customer


def customer_countries(session: Session) -> list[str]:
    """The distinct countries of the stored customers."""
    return list(session.scalars(select(col(Customer.country)).distinct()))


def startup_warnings(session: Session, policy: Policy) -> list[str]:
    """What an operator should put right; the product still runs (the defaults apply)."""
    missing = policy.creditor.missing_lines(customer_countries(session))
    if not missing:
        return []
    return [
        f"customers in {', '.join(missing)} have no contact lines of their own in "
        f"[creditor.countries]: their messages carry the default contact "
        f"{policy.creditor.contact} and portal {policy.creditor.payment_url}"
    ]


def settle_process(renderer: Renderer) -> int:
    """Before a worker's first tick: every template compiled (a broken one fails now, not
    in a tick), then what start-up built (modules, compiled templates, the policy) moved
    out of the garbage collector's sight (``gc.freeze``): it lives as long as the process,
    and each full collection during a sweep would walk all of it again (about 6% of a
    planning sweep's CPU). Returns how many templates were compiled."""
    compiled = renderer.compile_all()
    gc.collect()
    gc.freeze()
    return compiled
