"""What ``notifier serve`` and ``notifier worker`` check before they start (issue 13): the
creditor's contact lines cover every country of the customers in the data."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from notifier.domain.policy import Policy
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
