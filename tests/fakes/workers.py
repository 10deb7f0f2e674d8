"""``notifier worker`` processes as an operator runs them (``python -m notifier --db URL
worker``), pointed at the local Twilio and the local SMTP server, for the tests that run
several at once, stop them (SIGTERM) or kill them (SIGKILL).

:class:`WorkerPool` is a context manager: whatever happens in the test, every worker it
started is killed and reaped on the way out. Each worker's output goes to a log file
whose tail :meth:`WorkerPool.logs` gives for assertion messages.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from tests.fakes.smtp_servers import SENDER, SmtpServer
from tests.fakes.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake

ROOT = Path(__file__).resolve().parent.parent.parent
POLICY = ROOT / "config" / "notifier.toml"
STOP_TIMEOUT_S = 60.0
# A real key (a weak one would be replaced by a key file in the working directory).
WORKER_SECRET_KEY = secrets.token_urlsafe(32)


def worker_env(
    *,
    twilio: TwilioFake | None = None,
    smtp: SmtpServer | None = None,
    policy_path: Path | None = None,
    deliver_every_s: float = 1.0,
) -> dict[str, str]:
    """The settings of a worker that reaches only the local servers (status callbacks
    point at a port where nothing listens; the tests read the Twilio fake instead)."""
    env = {
        "NOTIFIER_SECRET_KEY": WORKER_SECRET_KEY,
        "NOTIFIER_PUBLIC_URL": "http://127.0.0.1:9",
        "NOTIFIER_DELIVER_EVERY_SECONDS": str(deliver_every_s),
        "NOTIFIER_TWILIO__ACCOUNT_SID": ACCOUNT_SID,
        "NOTIFIER_TWILIO__AUTH_TOKEN": AUTH_TOKEN,
        "NOTIFIER_TWILIO__FROM_NUMBER": "+15005550006",
        "NOTIFIER_TWILIO__RATE_PER_SECOND": "0",
    }
    if twilio is not None:
        env["NOTIFIER_TWILIO__API_BASE"] = twilio.base_url
    if smtp is not None:
        env |= {"NOTIFIER_SMTP__HOST": smtp.host, "NOTIFIER_SMTP__PORT": str(smtp.port),
                "NOTIFIER_SMTP__FROM": SENDER}  # fmt: skip
    if policy_path is not None:
        env["NOTIFIER_CONFIG_PATH"] = str(policy_path)
    return env


def policy_copy(directory: Path, **delivery: int) -> Path:
    """The shipped policy with some ``[delivery]`` numbers changed (batch, lease_seconds,
    retry_base_seconds, retry_max_seconds), written under ``directory``."""
    text = POLICY.read_text(encoding="utf-8")
    head, sep, rest = text.partition("\n[delivery]")
    assert sep, "the policy has no [delivery] table"
    section, sep2, tail = rest.partition("\n[")
    for key, value in delivery.items():
        section, found = re.subn(rf"(?m)^{key}\s*=\s*\d+", f"{key} = {value}", section)
        assert found == 1, f"[delivery] {key} not found in the policy"
    path = directory / "policy.toml"
    path.write_text(head + sep + section + sep2 + tail, encoding="utf-8")
    return path


class Worker:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log
        self.ended = False  # stopped or killed by the test, not dead on its own

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then wait (bounded) for the exit code."""
        self.ended = True
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a crash or ``kill -9``."""
        self.ended = True
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def output(self, last: int = 3000) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text[-last:]


class WorkerPool:
    def __init__(self, db_url: str, env: dict[str, str], log_dir: Path) -> None:
        self.db_url = db_url
        self.env = env
        self.log_dir = log_dir
        self.workers: list[Worker] = []

    def start(self) -> Worker:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
        log = self.log_dir / f"worker-{len(self.workers) + 1}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "notifier", "--db", self.db_url, "worker"],
                cwd=ROOT, env={**clean, **self.env, "PYTHONUNBUFFERED": "1"},
                stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip
        worker = Worker(process, log)
        self.workers.append(worker)
        return worker

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float, *, every: float = 0.2
    ) -> bool:
        """True once ``predicate()`` holds; False after ``timeout`` s. Fails at once, with
        the worker's log, if a worker died on its own."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            for worker in self.workers:
                code = worker.process.poll()
                if code is not None and not worker.ended:
                    raise AssertionError(f"worker {worker.pid} exited {code}:\n{worker.output()}")
            if time.monotonic() >= deadline:
                return False
            time.sleep(every)

    def logs(self) -> str:
        return "\n".join(f"--- worker {w.pid}\n{w.output(1500)}" for w in self.workers)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for worker in self.workers:
            worker.kill()
