"""Headless Chromium for the page's tests: Debian's ``chromium`` driven by Selenium through Debian's
``chromedriver`` (the two packages share a version, so the driver always matches the browser; nothing is downloaded).

``make test`` installs both when they are missing (``make browser``). Run bare, without them, the browser tests are
skipped with the reason, unless ``HARMONIX_REQUIRE_BROWSER`` is set (``make test`` sets it): then a missing browser
fails them, so CI cannot pass by skipping.

Chromium runs with a fresh profile in a temporary directory, without the sandbox (the tests may run as root), and
without its background connections (the machine's network refuses them). The browser's console is kept, so a test
can check that no script failed and no Content-Security-Policy violation happened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--mute-audio")
WIDE, NARROW = 1280, 375


def browser_paths() -> tuple[str, str]:
    """Chromium and ChromeDriver, or skip (fail under ``HARMONIX_REQUIRE_BROWSER``)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    reason = "needs Debian's chromium and chromium-driver (make browser installs them)"
    if os.environ.get("HARMONIX_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Selenium WebDriver) for the block, with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = browser_paths()
    with tempfile.TemporaryDirectory(prefix="harmonix-chromium-") as profile:
        options = Options()
        options.binary_location = binary
        for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDE},900"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
        try:
            driver.set_script_timeout(120)
            yield driver
        finally:
            driver.quit()


def set_width(driver: Any, width: int, height: int = 900) -> None:
    """Lay the page out as a screen ``width`` CSS pixels wide (a phone at 375, as a phone would: mobile)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def screenshot(driver: Any, path: Path) -> Path:
    """The whole page, top to bottom, as a PNG at ``path``."""
    import base64

    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def accessibility_violations(driver: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2 A and AA rules and best practices)."""
    driver.execute_script(AXE.read_text(encoding="utf-8") + "\nreturn true;")
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        "  .then((result) => done(result.violations), (error) => done({error: String(error)}));")
    assert not isinstance(found, dict), found
    return list(found)


def script_errors(driver: Any) -> list[str]:
    """What the browser's console said about failed scripts and blocked content since the last call."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and entry.get("source") in ("javascript", "security")]
