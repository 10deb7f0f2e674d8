"""The `notifier` command: a thin shell over the store, the importer, the sweeps, the
review service and the reports.

Exit codes (CONTRACT.md): 0 success, 1 invalid input (the message names the row, field or
setting), 2 usage errors. This is the only layer that reads the clock: everything below
takes ``now`` as an argument, and ``--at`` replays any instant.

- ``data.py``: init, import, explain, report aging
- ``queue.py``: plan, drafts, approve, reject, edit
- ``delivery.py``: deliver, fallback
- ``service.py``: serve, worker, user add, token create
"""

from __future__ import annotations

import sys

import notifier.cli.data
import notifier.cli.delivery
import notifier.cli.queue
import notifier.cli.service  # noqa: F401  (the command modules register themselves)
from notifier.cli.app import app
from notifier.cli.shell import InvalidInput, err
from notifier.review import ReviewError
from notifier.settings import ConfigError


def main() -> None:
    try:
        app(standalone_mode=True)
    except (InvalidInput, ConfigError, ReviewError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)


__all__ = ["app", "main"]
