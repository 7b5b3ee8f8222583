"""Browser tests: Playwright for Python driving Debian's `chromium` (executable_path; browser
builds cannot be downloaded here), with every request outside 127.0.0.1 refused. Skipped
where no Chromium is installed, except in CI (`CI` set, as .ci/run does), where that fails.
Screenshots go to artifacts/screenshots/ (POINTGATE_ARTIFACTS moves the folder); axe-core
(tests/browser/axe) checks pages for accessibility."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCAL_HOSTS = {"127.0.0.1"}


def chromium_path() -> str | None:
    return os.environ.get("POINTGATE_CHROMIUM") or shutil.which("chromium")


# Per module, not per session: Playwright's sync API runs an event loop in this thread while it
# is open, and the sync tests elsewhere that call asyncio.run() would find it running.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium for the browser tests (.ci/run installs it)")
        pytest.skip("no chromium here (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


class OfflinePage:
    """A page whose requests to anything but 127.0.0.1 are aborted and recorded."""

    def __init__(self, browser: object) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
        self.blocked: list[str] = []
        self.context.route("**/*", self._guard)
        self.page = self.context.new_page()
        # What the browser refused or reported (a Content-Security-Policy violation, a script
        # error): a page of ours must cause none.
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error"
                     and self.errors.append(message.text))  # fmt: skip

    def _guard(self, route: object, request: object) -> None:
        url = request.url  # type: ignore[attr-defined]
        scheme, host = urlsplit(url).scheme, urlsplit(url).hostname
        if scheme in ("data", "blob") or host in LOCAL_HOSTS:
            route.continue_()  # type: ignore[attr-defined]
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")  # type: ignore[attr-defined]


@pytest.fixture
def offline_page(browser: object) -> Iterator[OfflinePage]:
    offline = OfflinePage(browser)
    yield offline
    offline.context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("POINTGATE_ARTIFACTS", ROOT / "artifacts")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


AXE = Path(__file__).parent / "axe"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core (tests/browser/axe/package.json), installed with npm on first use; skipped
    without npm, except in CI."""
    script = AXE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI"):
                pytest.fail("CI needs npm for the accessibility checks")
            pytest.skip("npm is not installed")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AXE, check=True,
                       capture_output=True, timeout=600)  # fmt: skip
    return script


def serious_violations(page: object, axe_script: Path) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    # Evaluated through the DevTools protocol: the console's Content-Security-Policy (this
    # origin's scripts only) refuses an injected <script> tag, as it should.
    page.evaluate(axe_script.read_text() + "\n;undefined")  # type: ignore[attr-defined]
    found = page.evaluate(  # type: ignore[attr-defined]
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"
    )
    return list(found)
