"""Browser fixtures: Debian's chromium driven by Playwright (sync API) against pytest-django's
live_server. Every page is watched: a console error, an uncaught exception or a CSP violation
fails the test. On failure each open page is saved as a screenshot under test-artifacts/.

Use with `@pytest.mark.browser` and `@pytest.mark.django_db(transaction=True)`."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

# Playwright's sync API runs an event loop in the test's thread; the ORM refuses to run there
# unless told that this thread is really synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 10_000  # a few timeline polls (3 s each in the test settings)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

expect.set_options(timeout=TIMEOUT_MS)


class ConsoleWatch:
    """Console errors, CSP violations and uncaught exceptions of every watched page."""

    def __init__(self):
        self.problems: list[str] = []
        self._allowed: list[re.Pattern] = []

    def allow(self, pattern: str) -> None:
        """Tolerate console errors matching `pattern`, e.g. the log line Chromium writes for a
        response the test expects to be a 400 or 404."""
        self._allowed.append(re.compile(pattern))

    def allow_status(self, status: int) -> None:
        self.allow(rf"^Failed to load resource: the server responded with a status of {status}\b")

    def watch(self, page: Page, label: str) -> None:
        page.on("console", lambda msg: self._on_console(label, msg))
        page.on("pageerror", lambda error: self.problems.append(
            f"[{label}] uncaught exception: {error}"))

    def _on_console(self, label, msg) -> None:
        text = msg.text
        csp = "Content Security Policy" in text
        if msg.type != "error" and not csp:
            return
        if not csp and any(pattern.search(text) for pattern in self._allowed):
            return
        where = msg.location.get("url", "") if msg.location else ""
        self.problems.append(f"[{label}] console {msg.type}: {text} ({where})")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_call_failed] = report.failed
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Turn console problems seen during a passing test into its failure."""
    result = yield
    watch = item.funcargs.get("console")
    if isinstance(watch, ConsoleWatch) and watch.problems:
        pytest.fail("browser console problems:\n" + "\n".join(watch.problems), pytrace=False)
    return result


_call_failed = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def browser() -> Browser:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


@pytest.fixture
def open_page(browser, console, request):
    """Factory: a page in a fresh browser context (its own cookies, so its own login).
    `javascript=False` gives a browser that only follows links and posts forms."""
    contexts: list[BrowserContext] = []

    def factory(*, javascript: bool = True) -> Page:
        context = browser.new_context(java_script_enabled=javascript,
                                      viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        console.watch(page, f"context {len(contexts)}{'' if javascript else ' (no JS)'}")
        return page

    yield factory
    if request.node.stash.get(_call_failed, False):
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        for index, context in enumerate(contexts, 1):
            for number, page in enumerate(context.pages, 1):
                try:
                    page.screenshot(path=ARTIFACTS / f"{name}-{index}-{number}.png",
                                    full_page=True)
                except Exception as error:  # noqa: BLE001 - a screenshot must not mask the failure
                    print(f"screenshot of context {index} page {number} failed: {error}")
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page) -> Page:
    return open_page()


@pytest.fixture
def context(page) -> BrowserContext:
    return page.context


def login(page: Page, live_server, user, password: str | None = None) -> None:
    """Log in through the login form, as a person would, and land on the dashboard."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("#id_username").fill(user.get_username())
    page.locator("#id_password").fill(password or f"pw-{user.get_username()}")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("header.topbar .whoami")).to_contain_text(user.get_username())


@pytest.fixture(autouse=True)
def _fresh_status_page():
    """A flush between tests sends no signals, so the status page's rendered copies would outlive
    the rows they show: each browser test starts a new generation and forgets local copies."""
    from comms.status import cache

    cache._bump()
    cache.clear_local()
    yield
    cache.clear_local()
