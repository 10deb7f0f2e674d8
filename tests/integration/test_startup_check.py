"""Issue 13: at start-up, each country of the customers has the creditor's own contact
lines ([creditor.countries]); a country without them is named, with the defaults it gets."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.services.startup import startup_warnings
from notifier.store.db import unit_of_work
from notifier.store.models import Customer

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _customers(engine: Engine, *countries: str) -> None:
    with unit_of_work(engine) as s:
        for n, country in enumerate(countries):
            s.add(Customer(id=f"C{n}", name=f"Customer {n}", kind="business",
                           email=f"c{n}@x.example", country=country, created_at=T0,
                           updated_at=T0))  # fmt: skip


def test_countries_with_their_own_lines_give_no_warning(engine: Engine, policy: Policy) -> None:
    _customers(engine, "CN", "GB", "US")
    with unit_of_work(engine) as s:
        assert startup_warnings(s, policy) == []


def test_a_country_without_lines_is_named_with_the_defaults_it_gets(
    engine: Engine, policy: Policy
) -> None:
    _customers(engine, "CN", "FR", "DE", "FR")
    with unit_of_work(engine) as s:
        [warning] = startup_warnings(s, policy)
    assert warning.startswith("customers in DE, FR have no contact lines of their own")
    assert policy.creditor.contact in warning and "Customer" not in warning  # no names


def test_a_policy_without_per_country_lines_has_one_set_for_everyone(policy: Policy) -> None:
    plain = policy.creditor.model_copy(update={"countries": {}})
    assert plain.missing_lines(["FR", "CN"]) == []
    assert policy.creditor.missing_lines(["fr", "CN", ""]) == ["FR"]
