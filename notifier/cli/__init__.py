"""The `notifier` command: a thin shell over the store, the importer, the sweeps, the
review service and the reports.

Exit codes (CONTRACT.md): 0 success, 1 invalid input (the message names the row, field or
setting), 2 usage errors. This is the only layer that reads the clock: everything below
takes ``now`` as an argument, and ``--at`` replays any instant.

- ``data.py``: init, import, explain, report aging
- ``queue.py``: plan, drafts, approve, reject, edit
- ``delivery.py``: deliver, fallback, expire (``replay.py``: --dry-run and the replay check)
- ``customer.py``: escalate, deescalate
- ``service.py``: serve, worker, user add, token create
"""

from __future__ import annotations

import os
import sys

import notifier.cli.calls  # calls, call (issue 14)
import notifier.cli.customer
import notifier.cli.data
import notifier.cli.delivery
import notifier.cli.evidence  # evidence export/verify, purge
import notifier.cli.letters  # letter pdf/posted/received, legal-route (issue 15)
import notifier.cli.queue
import notifier.cli.service  # noqa: F401  (the command modules register themselves)
import notifier.cli.voice  # noqa: F401  (dial, user phone: click-to-call)
import notifier.cli.weekly  # noqa: F401  (report weekly)
from notifier.cli.app import app
from notifier.cli.failures import describe
from notifier.cli.shell import Shell, err
from notifier.domain.errors import NotifierError
from notifier.importer import ImportRejected
from notifier.settings import ConfigError

# What a user can act on: printed as it is (the services write these messages for people).
EXPECTED = (NotifierError, ConfigError)


def main() -> None:
    """Run the command. Whatever stops it ends as one line on stderr and exit code 1: never
    a traceback, which would carry SQL parameters (phones, e-mails) to the terminal."""
    shell = Shell()
    try:
        app(standalone_mode=True, obj=shell)
    except ImportRejected as exc:  # every problem of the file, then the one line
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        _fail(f"{len(exc.problems)} problem(s) in the file; nothing was imported")
    except EXPECTED as exc:
        _fail(str(exc))
    except Exception as exc:
        if os.environ.get("NOTIFIER_DEBUG") == "1":
            raise
        timeout = None
        if "settings" in shell.__dict__:  # loaded already, and it worked
            timeout = shell.settings.sqlite_busy_timeout_seconds
        _fail(describe(exc, shell.database_shown(), busy_timeout_s=timeout))


def _fail(message: str) -> None:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(1)


__all__ = ["app", "main"]
