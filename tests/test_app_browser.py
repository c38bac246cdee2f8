"""In a real browser: headless Chromium loads the app, runs the example, and the overlay and plots appear.

Needs Debian's `chromium` at /usr/bin/chromium (CI installs it) and the `playwright` package.
Set $PLAYGROUND_APP_SCREENSHOT to a path to also copy the screenshot there (that is how
`assets/app_screenshot.png` is made: see docs/app.md).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")


def test_example_runs_in_a_browser(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    expect = sync_api.expect
    import torch

    from playground.app.server import running

    threads = torch.get_num_threads()
    with running() as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1700})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.locator("#examples .gallery-item").first.click()  # the Big Buck Bunny example
            page.locator("#input-video video").wait_for(timeout=30_000)
            page.locator("#gaze-button").click()

            overlay = page.locator("#overlay-video video")
            expect(overlay).to_have_attribute("src", re.compile(r"overlay\.mp4"), timeout=90_000)
            page.wait_for_function("document.querySelector('#overlay-video video').readyState >= 2", timeout=30_000)
            for plot in ("#tokens-plot", "#loss-plot", "#quality-plot", "#curve-plot"):
                page.locator(f"{plot} .js-plotly-plot").wait_for(timeout=120_000)
            # one stacked bar trace per scale
            expect(page.locator("#tokens-plot .js-plotly-plot g.trace.bars")).to_have_count(4, timeout=30_000)
            expect(page.locator("#frame-panel img")).to_have_count(1, timeout=30_000)
            expect(page.locator("#summary")).to_contain_text("slots")
            toasts = page.locator(".toast-body.error")
            assert not toasts.count(), f"an error message appeared: {toasts.all_inner_texts()}"
            shot = tmp_path / "app_screenshot.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("PLAYGROUND_APP_SCREENSHOT"):
                shutil.copyfile(shot, os.environ["PLAYGROUND_APP_SCREENSHOT"])
            assert not errors, f"the page raised: {errors[:3]}"
        finally:
            browser.close()
            torch.set_num_threads(threads)
