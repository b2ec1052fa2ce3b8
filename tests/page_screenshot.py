"""Make the README's picture of the page (``docs/page.png``): a real ``harmonix serve`` in a temporary home, a colony,
three breaths through the page in headless Chromium, then the top of the page at 1280 px.

    python tests/page_screenshot.py docs/page.png                  # Prose and Artist on the embedded model
    python tests/page_screenshot.py docs/page.png --llm-url URL    # or on any OpenAI-compatible server

It uses the tests' helpers (a server on a free port, Chromium), so it lives beside them; it needs what the browser
tests need (``make browser``).
"""

from __future__ import annotations

import argparse
import base64
import tempfile
from pathlib import Path
from typing import Any

from browser import WIDE, chromium, set_width
from serving import serve_args, served
from test_page import breathe, create_colony, until

PROMPTS = ("What is resonance, and where does it live?", "The rain keeps its own time.",
           "Where does a song go when it ends?")
HEIGHT = 1700
SLOW_S = 900


def top_of_page(driver: Any, path: Path) -> None:
    """The page's top ``HEIGHT`` pixels at 1280 px wide, as a PNG."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": WIDE, "height": HEIGHT, "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--llm-url", default=None, help="Prose and Artist on this server instead of the embedded model")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harmonix-page-") as home, \
            served(Path(home), *serve_args(options.llm_url)) as server, chromium() as driver:
        set_width(driver, WIDE, HEIGHT)
        driver.get(f"{server.url}/")
        create_colony(driver, "garden")
        for prompt in PROMPTS:
            breathe(driver, prompt)
        until(driver, lambda d: len(d.find_elements("css selector", "#history .record")) == len(PROMPTS), "history",
              timeout=SLOW_S)
        until(driver, lambda d: f"{len(PROMPTS)} turns" in d.find_element("css selector", ".field-summary").text,
              "the fields", timeout=SLOW_S)
        driver.execute_script("document.getElementById('prompt').value = arguments[0]", "And the silence after?")
        driver.execute_script("document.activeElement.blur()")
        top_of_page(driver, options.output)
    print(f"wrote {options.output}")


if __name__ == "__main__":
    main()
