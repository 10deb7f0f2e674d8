"""What a person can do, one module per subject; the web pages, the JSON API and the CLI
only parse input, call one of these and present the answer.

- ``review``: list, approve, defer, reject and edit drafts (who may decide: ``check_decider``)
- ``promises``: promises to pay (D21); ``disputes``: disputed parts of invoices (D22)
- ``customers``: the legal-authorised flag (D19) and a customer's timeline (D18);
  ``common``: what these three share (their errors, bounds of typed amounts and text)
- ``engagement``: opens, clicks and unsubscribes of messages that went out
- ``plans``: instalment plans (D20)
- ``escalation``: hand a customer to its manager and back (D4)
- ``consent``: opt-outs (C3) and where a customer may be reached
- ``users``: users, roles and API tokens; ``logins``: web sessions and login throttling
- ``inbound``: replies that arrive by SMS (opt-out words)

Every refusal is one of the kinds in ``notifier.domain.errors`` (NotFound, Conflict,
Refused, Forbidden), turned into an HTTP answer once in ``web/errors.py`` and into one
line on the terminal once in ``cli/__init__.py``.
"""
