"""What every sweep needs besides the database and the clock."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.render import Renderer


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class SweepContext:
    policy: Policy
    calendar: WorkCalendar
    renderer: Renderer
    worker: str = field(default_factory=worker_name)
