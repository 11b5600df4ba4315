"""Browser fixtures: Debian's Chromium driven headless by Playwright.  No browser is ever downloaded.

Two servers: Django's `live_server` (a thread of this process, the test database) for journeys that need
fixtures, and `embedded_service`: the service exactly as `make run` starts it (a subprocess: `migrate`, then
`manage.py demo` with its simulated fleet of agent processes, SQLite in a fresh directory, tasks in-process),
for the first-hour journeys of README.md.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

from tests.api.fleet import _fast_password_hashing, family_a, family_b, users  # noqa: F401  (fixtures)
from tests.conftest import service_missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
DEMO_LOGIN = re.compile(r"log in as '(?P<user>[^']+)' with password '(?P<password>[^']+)'")
DEMO_FLEET = re.compile(r"simulated fleet: (?P<agents>\d+) agents")
SERVICE_ENV_DROPPED = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CHIPWATCH_ACCEPT_SYNTHETIC",
                       "DJANGO_SETTINGS_MODULE", "DEBUG", "REQUIRE_SERVICES")


def _chromium_required():
    if not CHROMIUM.exists():
        service_missing("Chromium (/usr/bin/chromium; apt-get install chromium chromium-driver)")


@dataclass
class EmbeddedService:
    url: str
    username: str
    password: str
    var_dir: Path
    env: dict  # the environment the service runs with, for the agent CLI a journey runs beside it
    agents: int
    log: Path

    def agent_processes(self) -> list[int]:
        """Processes whose command line names this service's state directory (its demo agents)."""
        marker = str(self.var_dir)
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"chipwatch_agent" in b" ".join(argv) and any(marker.encode() in arg for arg in argv):
                found.append(int(proc.name))
        return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, what: str, log: Path, proc: subprocess.Popen, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"embedded service: {what} not seen within {timeout:.0f} s (exit {proc.poll()}); log:\n"
                f"{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture(scope="session")
def embedded_service(tmp_path_factory):
    """`make run` on a free port: the same two commands, the same settings path, its own empty SQLite
    database and state directory.  Teardown stops it as Ctrl-C/SIGTERM would and checks that none of its
    agent processes outlived it."""
    _chromium_required()
    var_dir = tmp_path_factory.mktemp("embedded-var")
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_ENV_DROPPED}
    env.update(CHIPWATCH_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING")
    python = sys.executable
    log = var_dir / "service.log"
    migrated = subprocess.run([python, "manage.py", "migrate", "--noinput"], cwd=REPO, env=env,
                              capture_output=True, text=True)
    assert migrated.returncode == 0, f"migrate failed:\n{migrated.stdout}\n{migrated.stderr}"
    addr = f"127.0.0.1:{_free_port()}"
    with log.open("wb") as out:
        proc = subprocess.Popen([python, "manage.py", "demo", "--addr", addr, "--interval", "60"], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        login = _wait_for(lambda: DEMO_LOGIN.search(log.read_text(errors="replace")), "the demo login", log,
                          proc, 120)
        fleet = _wait_for(lambda: DEMO_FLEET.search(log.read_text(errors="replace")), "the simulated fleet",
                          log, proc, 180)
        service = EmbeddedService(url=f"http://{addr}", username=login["user"], password=login["password"],
                                  var_dir=var_dir, env=env, agents=int(fleet["agents"]), log=log)
        assert urlopen(service.url + "/healthz", timeout=5).status == 200
        yield service
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(45)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"`manage.py demo` did not stop on SIGTERM within 45 s; log:\n{log.read_text()[-4000:]}")
    leftovers = service.agent_processes()
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    assert not leftovers, f"agent processes outlived `manage.py demo`: {leftovers}"


SERVER_LOG_FAILURE = re.compile(r'"(?P<request>[A-Z]+ \S+) HTTP/[\d.]+" (?P<status>404|5\d\d) ')


@dataclass
class RequestAudit:
    """Every request a page makes: any to another origin, any answered 404 or 5xx, is a defect.  Where the
    server's log is at hand, its access lines count too: they include what the browser does not report to
    Playwright (its /favicon.ico requests) and what the service's own agents were answered meanwhile."""

    origin: str
    server_log: Path | None = None
    failed: list = field(default_factory=list)
    seen: int = 0
    _off_origin: dict = field(default_factory=dict)
    _answered: set = field(default_factory=set)
    _log_offset: int = 0

    def __post_init__(self):
        self._log_offset = self.server_log.stat().st_size if self.server_log else 0

    @property
    def off_origin(self) -> list:
        return list(self._off_origin.values())

    def on_request(self, request):
        self.seen += 1
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self._off_origin[request] = f"{request.method} {request.url} (from {request.frame.url})"

    def on_response(self, response):
        self._answered.add(response.request)
        if response.status == 404 or response.status >= 500:
            self.failed.append(f"{response.status} {response.request.method} {response.url}")

    def on_request_failed(self, request):
        if request.failure == "csp":  # refused by the page's Content-Security-Policy: it never left the browser
            self._off_origin.pop(request, None)
        # Off-origin requests are reported above, not twice; an answered navigation that became a download
        # is "aborted" as a navigation, its answer already judged.
        elif request.url.startswith(self.origin) and request not in self._answered:
            self.failed.append(f"failed ({request.failure}) {request.method} {request.url}")

    def server_failures(self) -> list:
        if self.server_log is None:
            return []
        with self.server_log.open("rb") as log:
            log.seek(self._log_offset)
            text = log.read().decode(errors="replace")
        return [f"{match['status']} {match['request']}" for match in SERVER_LOG_FAILURE.finditer(text)]

    def assert_clean(self, where: str):
        problems = ([f"off-origin: {item}" for item in self.off_origin] +
                    [f"answered: {item}" for item in self.failed] +
                    [f"server answered: {item}" for item in self.server_failures()])
        assert not problems, f"{where}: " + "; ".join(problems)


@contextmanager
def _chromium_page(origin: str, server_log: Path | None = None):
    """(page, audit): a headless Chromium page with every request of its context recorded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        audit = RequestAudit(origin=origin, server_log=server_log)
        context.on("request", audit.on_request)
        context.on("response", audit.on_response)
        context.on("requestfailed", audit.on_request_failed)
        try:
            yield page, audit
        finally:
            browser.close()


@pytest.fixture
def _live_browser(live_server, monkeypatch):
    _chromium_required()
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test makes are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setenv("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    ARTIFACTS.mkdir(exist_ok=True)
    with _chromium_page(live_server.url) as opened:
        yield opened


@pytest.fixture
def browser_page(_live_browser):
    """A fresh headless page; the live server runs in another thread of this process."""
    return _live_browser[0]


@pytest.fixture
def browser_audit(_live_browser):
    """What browser_page requested (a test that opens a 404 on purpose does not assert it clean)."""
    return _live_browser[1]


@pytest.fixture
def service_page(embedded_service, monkeypatch):
    """(page, audit) on the embedded service; the audit is checked once more when the test ends."""
    monkeypatch.setenv("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    ARTIFACTS.mkdir(exist_ok=True)
    with _chromium_page(embedded_service.url, embedded_service.log) as (page, audit):
        page.set_default_timeout(30_000)  # a subprocess server beside its own agent fleet on a shared CI runner
        yield page, audit
        audit.assert_clean("at the end of the journey")


def screenshot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page, service: EmbeddedService):
    """The demo's printed login, typed into the login form."""
    page.goto(f"{service.url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", service.username)
    page.fill("input[name=password]", service.password)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r".*/dashboard/$"))
