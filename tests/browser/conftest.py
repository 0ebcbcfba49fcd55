"""Headless Chromium for the click-through tests: Debian's /usr/bin/chromium driven by Python Playwright.

Playwright never downloads a browser here: it launches the system Chromium (``executable_path``). Both come from
``scripts/browser-deps.sh``. Screenshots go to ``$CCPA_SCREENSHOT_DIR`` when set, else to the test's tmp_path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CCPA_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: end-to-end in headless Chromium (scripts/browser-deps.sh)")


@pytest.fixture(scope="module")  # not session: Playwright holds an event loop in this thread until it stops
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        pytest.skip(f"{CHROMIUM} is missing: run scripts/browser-deps.sh (installs Debian's chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Python playwright is missing: run scripts/browser-deps.sh"
    )
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        # A persistent context is how Playwright takes a fresh --user-data-dir of our choosing.
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=LAUNCH_ARGS,
            viewport={"width": 1180, "height": 760},
            accept_downloads=True,
            timeout=30_000,
        )
        try:
            yield context
        finally:
            context.close()


class PageWatch:
    """Everything the page said that a person would call broken: script errors, console errors, alert() calls."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    page = chromium.new_page()
    page.set_default_timeout(10_000)
    watch = PageWatch()
    page.on("pageerror", lambda exc: watch.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and watch.errors.append(f"console: {msg.text}"))
    page.on("dialog", lambda dialog: (watch.dialogs.append(dialog.message), dialog.dismiss()))
    page.watch = watch
    try:
        yield page
    finally:
        page.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("CCPA_SCREENSHOT_DIR") or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target
