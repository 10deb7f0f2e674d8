"""Browser tests: the real app served by uvicorn on loopback (``LiveApp``) over a migrated
SQLite database holding the sample portfolio, driven by Playwright in Debian's Chromium,
headless. ``make test`` installs Chromium (``/usr/bin/chromium``); Playwright never
downloads a browser of its own.

Every test gets its own database (a copy of one built per session), app and browser context
(cookies and storage); the browser process is shared by the session. The app's clock is a
:class:`Clock` the tests can move. Test modules take everything through fixtures (``site``,
``page``, ``login``) and import names from here for type checking only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright
from pydantic import SecretStr
from sqlalchemy import Engine

from notifier.domain.policy import Policy
from notifier.importer import import_file, import_text
from notifier.services.users import add_user
from notifier.settings import Settings, load_policy
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.sweeps.plan import PlanReport, plan
from notifier.web import create_app
from tests.fakes.live_app import LiveApp
from tests.fakes.smtp_servers import free_port
from tests.support import sweep_context

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PLANNED = datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)  # Monday, before the 09:00 slot
VIEWED = datetime(2026, 3, 2, 8, 30, tzinfo=SHANGHAI)  # when the reviewers open the app

CHROMIUM = Path("/usr/bin/chromium")
# As the machine notes prescribe for a closed network. Playwright's launch() gives the
# browser a new, empty profile directory of its own (and removes it on close).
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}

# name -> (role, password, locale)
USERS = {
    "reviewer": ("reviewer", "reviewer-pass-2026", "zh-CN"),
    "manager": ("manager", "manager-pass-2026", "en"),
    "collector": ("collector", "collector-pass-2026", "zh-CN"),
}
PASSWORDS = {name: password for name, (_, password, _) in USERS.items()}

Login = Callable[[Page, str, str], None]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: browser tests in Debian's Chromium (tests/e2e)")


class Clock:
    """The app's one source of the time; a test moves it with ``clock.now = ...``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    """The running app and what is behind it."""

    url: str
    engine: Engine
    policy: Policy
    clock: Clock
    capture_dir: Path
    passwords: dict[str, str]

    def add(self, kind: str, csv_text: str) -> None:
        """Import CSV rows (customers | receivables | payments), as `notifier import` does."""
        with unit_of_work(self.engine) as session:
            import_text(session, kind, csv_text, now=self.clock(), file=f"e2e-{kind}.csv")

    def plan(self, at: datetime = PLANNED) -> PlanReport:
        return plan(self.engine, at, sweep_context(self.policy), force=True)


def login(page: Page, name: str, password: str) -> None:
    """Log in through the form, sent there from the queue (a plain login lands on /home,
    tests/integration/test_auth_sessions.py); the caller checks where it landed."""
    page.goto("/login?next=/")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form.login button[type=submit]")


@pytest.fixture(name="login")
def login_helper() -> Login:
    return login


@pytest.fixture
def clock() -> Clock:
    return Clock(VIEWED)


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: the sample portfolio imported (customers, receivables, payments) and
    planned at 2026-03-02 08:00 Shanghai, and the three users. Each test gets a copy."""
    path = tmp_path_factory.mktemp("e2e-sample") / "sample.db"
    policy = load_policy(ROOT / "config" / "notifier.toml")
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with unit_of_work(engine) as session:
            for kind in ("customers", "receivables", "payments"):
                import_file(session, kind, SAMPLES / f"{kind}.csv", now=PLANNED)
            for name, (role, password, locale) in USERS.items():
                add_user(session, name, role, password, PLANNED, locale=locale)
        report = plan(engine, PLANNED, sweep_context(policy), force=True)
        # nine messages for the queue, four calls on the collectors' lists
        assert report.by_channel == {"sms": 5, "email": 4, "call": 4}, report
    finally:
        engine.dispose()
    return path


@pytest.fixture
def db_url(sample_db: Path, tmp_path: Path) -> str:
    """A copy of the sample database for this test (the root conftest's ``engine`` opens
    and migrates it)."""
    target = tmp_path / "notifier.db"
    with closing(sqlite3.connect(sample_db)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return f"sqlite:///{target}"


@pytest.fixture
def site(engine: Engine, policy: Policy, clock: Clock, tmp_path: Path) -> Iterator[Site]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        delivery_mode="capture", capture_dir=tmp_path / "out", public_url=url,
        secret_key=SecretStr("e2e-secret-key-" + "x" * 32),
    )  # fmt: skip
    app = create_app(settings, policy, engine, clock=clock)
    live = LiveApp(app, port=port).start()
    try:
        yield Site(url, engine, policy, clock, tmp_path / "out", dict(PASSWORDS))
    finally:
        live.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package. "
            "`make test` installs it (apt-get install chromium); or run `make browser`.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(
        base_url=site.url, viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    # The pages live under a Content-Security-Policy: a violation (Chromium reports it on
    # the console) means part of a page silently stopped working, so it fails the test.
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)  # fmt: skip
    try:
        yield page
    finally:
        context.close()
    assert not violations, violations
