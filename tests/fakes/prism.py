"""Prism (``@stoplight/prism-cli``, installed by ``npm ci`` from package-lock.json)
serving Twilio's own OpenAPI description of the 2010-04-01 API.

Prism validates every request against the schema (a request Twilio would refuse is
answered 422) and answers valid ones with the spec's example. One Prism serves the whole
test session: it takes a few seconds to load the 1.8 MB spec. A test module's session
fixture yields :func:`shared_prism` and calls :func:`stop_shared_prism` at the end; every
module doing so shares the same process.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.fakes.smtp_servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "twilio" / "twilio_api_v2010.json"
PRISM = ROOT / "node_modules" / ".bin" / "prism"
START_TIMEOUT = 60.0
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


class Prism:
    def __init__(self, spec: Path = SPEC, *, start_timeout: float = START_TIMEOUT) -> None:
        self.spec = spec
        self.start_timeout = start_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Prism:
        if not PRISM.exists():
            raise RuntimeError(f"{PRISM} is missing: run `npm ci` in {ROOT}")
        if not self.spec.exists():
            raise RuntimeError(f"Twilio's OpenAPI spec is missing: {self.spec}")
        self.port = free_port()
        fd, name = tempfile.mkstemp(prefix="prism-", suffix=".log")
        self._log_path = Path(name)
        with os.fdopen(fd, "wb") as log:
            self._process = subprocess.Popen(
                [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(self.port), str(self.spec)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends node and all
            )
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Prism exited at start:\n{self.log()[-2000:]}")
            try:
                _DIRECT.open(self.base_url + "/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer (404 for "/") means it is serving
            except OSError:
                time.sleep(0.2)  # not listening yet
        raise RuntimeError(f"Prism did not answer within {self.start_timeout:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def log(self) -> str:
        """What Prism printed so far (each request, and why it refused one)."""
        if self._log_path is None:
            return ""
        return self._log_path.read_text(encoding="utf-8", errors="replace")


_shared: Prism | None = None
_shared_lock = threading.Lock()


def shared_prism() -> Prism:
    """The one Prism of this test process, started on first use, stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Prism().start()
            atexit.register(_shared.stop)
        return _shared


def stop_shared_prism() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.stop()
            _shared = None
