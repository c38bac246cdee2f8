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
            newcomer_path(page, expect, tmp_path)
            assert not errors, f"the page raised: {errors[:3]}"
        finally:
            browser.close()
            torch.set_num_threads(threads)


def newcomer_path(page, expect, tmp_path: Path) -> None:
    """After the example: an upload, Compare, Export, then a bad upload that keeps the last result on screen."""
    upload = Path(__file__).resolve().parents[1] / "assets" / "synthetic_square.mp4"
    page.locator("#input-video button[aria-label='Clear']").first.click()
    expect(page.locator("#summary")).to_contain_text("Results appear here", timeout=30_000)  # results cleared
    page.locator("#input-video input[type=file]").set_input_files(str(upload))
    page.locator("#input-video video").wait_for(timeout=30_000)
    page.locator("#gaze-button").click()
    expect(page.locator("#summary")).to_contain_text(upload.name, timeout=90_000)
    # Let its threshold sweep finish: a sweep still running when the server closes aborts the process at exit.
    page.locator("#curve-plot .js-plotly-plot").wait_for(timeout=120_000)

    page.get_by_role("tab", name="Compare gazers").click()
    page.locator("#compare-button").click()
    table = page.locator("#compare-table")
    for name in ("greedy", "framediff", "random", "full"):
        expect(table).to_contain_text(name, timeout=120_000)

    page.get_by_role("tab", name="Export").click()
    for name in ("gaze.json", "metrics.csv", "run_card.json"):
        expect(page.locator(f"#exports a[href$='/{name}']")).to_have_count(1, timeout=30_000)  # downloadable

    page.get_by_role("tab", name="Gaze", exact=True).click()
    gazer = page.locator("#gazer input")
    gazer.fill("no-such-folder/not-a-checkpoint")
    gazer.press("Enter")
    page.locator("#gaze-button").click()
    summary = page.locator("#summary")
    expect(summary).to_contain_text("This run failed", timeout=60_000)
    expect(summary).to_contain_text("stale")
    expect(summary).to_contain_text(upload.name)  # the last good run stays on screen, described as stale
    expect(page.locator("#overlay-video video")).to_have_attribute("src", re.compile(r"overlay\.mp4"))
    gazer.fill("greedy")
    gazer.press("Enter")

    bad = tmp_path / "not_a_video.mp4"
    bad.write_bytes(b"this is text, not a video" * 10)
    page.locator("#input-video button[aria-label='Clear']").first.click()
    page.locator("#input-video input[type=file]").set_input_files(str(bad))
    for attempt in range(3):  # the upload may still be in flight at the first click (then nothing is gazed yet)
        page.locator("#gaze-button").click()
        try:
            expect(summary).to_contain_text("not a video", timeout=20_000)  # one clear line, not a traceback
            break
        except AssertionError:
            if attempt == 2:
                raise
