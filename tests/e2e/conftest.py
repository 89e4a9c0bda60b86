"""Browser fixtures: the app launched in this process, and Debian's chromium driven by Playwright.

Chromium comes from the system, not from `playwright install` (its browser download does
not work offline): where /usr/bin/chromium is missing and we are root with apt-get, the
set-up installs Debian's `chromium`. Set MNIST_STUDIO_CHROMIUM to use another binary.
Without a browser the tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _fail_or_skip(message: str):
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("MNIST_STUDIO_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file() and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
                       shell=True, timeout=900, check=False, capture_output=True)
    if not Path(path).is_file():
        _fail_or_skip(f"chromium not found at {path} (apt-get install -y chromium, or set MNIST_STUDIO_CHROMIUM)")
    return path


@pytest.fixture(scope="session")
def app_url(server):
    """The app's address: the session's server (tests/conftest.py)."""
    return server


@pytest.fixture(scope="session")
def browser(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _fail_or_skip("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("#sketch canvas")
    try:
        yield page
    finally:
        context.close()
