"""A real headless Chromium for the wallboard tests, through Selenium and the system chromedriver.

The browser is the system's (Debian ``chromium`` + ``chromium-driver``; ``make test`` installs
them when missing and running as root); nothing is downloaded at test time. Override the
paths with ``LGUAPI_CHROMIUM`` / ``LGUAPI_CHROMEDRIVER``. Selenium calls block, so async
tests call them through :func:`call` (a worker thread) while the gateway runs on the loop.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, TypeVar

import pytest

T = TypeVar("T")

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
_BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser_paths() -> tuple[str, str]:
    """(browser, driver) executables, or skip the test with the reason."""
    browser = os.environ.get("LGUAPI_CHROMIUM") or next(filter(None, map(shutil.which, _BROWSERS)), None)
    driver = os.environ.get("LGUAPI_CHROMEDRIVER") or shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("no headless browser here: install Debian's chromium and chromium-driver "
                    "(make test does it when run as root) or set LGUAPI_CHROMIUM/LGUAPI_CHROMEDRIVER")
    return browser, driver


def new_driver(width: int = 1400, height: int = 900) -> Any:
    """A headless Chromium WebDriver (skips the test when no browser is installed)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = browser_paths()
    os.environ.setdefault("SE_OFFLINE", "true")   # never let Selenium Manager download anything
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-extensions", "--no-first-run", f"--window-size={width},{height}",
                "--lang=en-US"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


async def call(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking Selenium call off the event loop."""
    return await asyncio.to_thread(fn, *args)


async def wait_js(driver: Any, script: str, timeout: float = 30.0, what: str | None = None) -> Any:
    """Poll ``return <script>`` in the page until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await call(driver.execute_script, "return " + script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"browser: {what or script} not true after {timeout} s")
        await asyncio.sleep(0.05)


async def screenshot(driver: Any, name: str) -> Path:
    """Save a PNG of the page under tests/artifacts/ (git-ignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert await call(driver.save_screenshot, str(path)), f"screenshot {path} failed"
    return path


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium for the length of the block (skips the test when none is installed)."""
    driver = await call(new_driver)
    try:
        yield driver
    finally:
        await call(driver.quit)


def tile_state(exten: str) -> str:
    """JavaScript: the wallboard tile state of ``exten`` (undefined when there is no tile)."""
    return f"(document.querySelector('[data-exten=\"{exten}\"]') || {{dataset: {{}}}}).dataset.state"


def tile_text(exten: str, part: str) -> str:
    """JavaScript: the text of part ``part`` (a class name) of ``exten``'s wallboard tile."""
    return f"(document.querySelector('[data-exten=\"{exten}\"] .{part}') || {{textContent: ''}}).textContent"


async def wait_state(driver: Any, exten: str, state: str, timeout: float = 30.0) -> None:
    """Wait until ``exten``'s wallboard tile shows ``state``."""
    await wait_js(driver, f"{tile_state(exten)} === {state!r}", timeout, f"tile {exten} {state}")
