"""Access logs without tracking tokens: whoever reads the log could otherwise replay an
open, a click or an unsubscribe. ``install_access_log_filter`` cuts each token in the
request line of ``uvicorn.access`` to a short prefix (enough to tell two apart)."""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
KEEP = 6  # characters of a token left in the log
_TOKEN = re.compile(r"(/(?:t/[oc]|u)/)([^/?#\s\"]+)")


def redact_path(path: str) -> str:
    """``path`` with every tracking or unsubscribe token cut to its first characters."""
    return _TOKEN.sub(lambda m: f"{m.group(1)}{m.group(2)[:KEEP]}…", path)


class TokenFilter(logging.Filter):
    """Rewrites uvicorn's access record (args: client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        return True


def install_access_log_filter() -> None:
    """Idempotent; a logger's filters survive uvicorn's own logging configuration."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, TokenFilter) for f in logger.filters):
        logger.addFilter(TokenFilter())
