"""Every refusal a person can act on has one root and one of four kinds, so the web app
and the CLI each map it once (domain/errors.py)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import notifier
from notifier.domain.errors import (
    Conflict,
    Forbidden,
    NotFound,
    NotifierError,
    Refused,
    http_status,
)
from notifier.domain.lifecycle import IllegalTransition
from notifier.reports.explain import UnknownCustomer
from notifier.services.customers import CustomerError, NotAllowed
from notifier.services.review import DraftNotFound, LintRefused, NotADecider, ReviewError
from notifier.services.users import UnknownUser, UserError

# Errors that are not answers to a person's request: delivery outcomes the sweeps handle,
# configuration read before any request, template faults, and private signals.
NOT_REFUSALS = {
    "DeliveryError", "TransientDeliveryError", "PermanentDeliveryError", "ConfigError",
    "RenderError", "TemplateMissing", "KeyFileError", "CalendarNotPublished", "FieldError",
    "LoginRequired", "BodyTooLarge", "_Refused", "_DroppedBeforeData",
    "LoopbackPublicUrl",  # a setting (wiring makes it a ConfigError at start)
}  # fmt: skip


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for info in pkgutil.walk_packages(notifier.__path__, "notifier."):
        if ".migrations." in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == info.name and issubclass(obj, BaseException):
                found.append(obj)
    return found


def test_every_error_a_person_can_act_on_descends_from_the_one_root() -> None:
    strays = [
        f"{c.__module__}.{c.__name__}"
        for c in _exception_classes()
        if c.__name__ not in NOT_REFUSALS and not issubclass(c, NotifierError)
    ]
    assert strays == []


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DraftNotFound(7), 404),
        (UnknownCustomer("C404"), 404),
        (UnknownUser("no user 'x'"), 404),
        (NotADecider("x may not decide"), 403),
        (NotAllowed("collectors may not"), 403),
        (LintRefused(7, ["threat"]), 422),
        (CustomerError("bad amount"), 422),
        (UserError("bad role"), 422),
        (ReviewError("draft 7 is sent"), 409),
        (IllegalTransition("sent", "pending", 7), 409),
    ],
)
def test_each_kind_has_one_http_status(error: NotifierError, status: int) -> None:
    assert http_status(error) == status


def test_a_kind_placed_first_wins_over_the_subjects_own_default() -> None:
    # ReviewError is a Conflict; a draft that does not exist is a NotFound first.
    assert issubclass(DraftNotFound, ReviewError) and issubclass(DraftNotFound, NotFound)
    assert not issubclass(ReviewError, (NotFound, Refused, Forbidden))
    assert issubclass(ReviewError, Conflict)


def test_lint_refusal_details_list_each_problem() -> None:
    detail = LintRefused(3, ["a", "b"]).detail()
    assert detail == {"message": "draft 3 breaks the content rules: a; b", "problems": ["a", "b"]}
