"""The Live tab: webcam frames gazed as they arrive (`playground.app.live`).

The per-frame function against the whole-clip gaze and paint (the same slots, the same rebuild), its
bounds and messages, and the tab in headless Chromium with a fake camera fed from a .y4m file
(`--use-fake-device-for-media-stream --use-file-for-fake-video-capture`): frames come back gazed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from playground import knobs, load_gazer, load_reconstructor
from playground.app.live import fit_frame, live_frame

CHROMIUM = Path("/usr/bin/chromium")


def moving_square(frames: int, height: int = 96, width: int = 160) -> np.ndarray:
    """uint8 (T, H, W, 3): a bright square sliding right over a dark gradient."""
    video = np.zeros((frames, height, width, 3), np.uint8)
    video[..., 2] = np.linspace(20, 90, width, dtype=np.uint8)
    for t in range(frames):
        x = 8 + 6 * t
        video[t, 30:62, x : x + 32] = (230, 200, 40)
    return video


def test_live_frames_gaze_and_paint_as_the_clip_does():
    """Frame by frame through the stream, the caches restarting every CLIP_LEN frames: the slots kept and the
    rebuild's PSNR are the whole-clip gaze's and paint's of each chunk."""
    video = moving_square(knobs.CLIP_LEN + 2)
    session, stats = None, []
    for frame in video:
        picture, line, session = live_frame(frame, "greedy", 0.2, 0.5, session, side=224)
        stats.append(line)
    assert picture.shape[0] == video.shape[1] and picture.shape[1] > 2 * video.shape[2]  # overlay | rebuild
    gazer, paint = load_gazer("greedy"), load_reconstructor("paint")
    for chunk in (video[: knobs.CLIP_LEN], video[knobs.CLIP_LEN :]):
        gaze = gazer.gaze(chunk, gazing_ratio=0.5, task_loss_requirement=0.2)
        rebuilt = paint.reconstruct(chunk, gaze)
        first = 0 if len(chunk) == knobs.CLIP_LEN else knobs.CLIP_LEN
        for t in range(len(chunk)):
            kept, psnr = re.search(r"\*\*(\d+) of 265 slots kept\*\*, PSNR ([\d.]+) dB", stats[first + t]).groups()
            assert int(kept) == int(gaze.counts()[0, t])
            assert float(psnr) == pytest.approx(float(rebuilt.psnr[0, t]), abs=0.051)
    assert stats[knobs.CLIP_LEN].startswith(f"frame {knobs.CLIP_LEN + 1} (frame 1 of {knobs.CLIP_LEN} ")
    assert session.frames == len(video)


def test_knob_changes_restart_and_bad_input_is_one_line():
    video = moving_square(3)
    _, _, session = live_frame(video[0], "greedy", 0.2, 0.5, None, side=224)
    _, line, session = live_frame(video[1], "greedy", 0.1, 0.5, session, side=224)
    assert "frame 2 (frame 1 of" in line  # a new threshold: fresh caches
    picture, line, kept = live_frame(video[2], "greedy", 0.2, 7, session, side=224)
    assert picture is None and "gazing ratio must be in (0, 1]" in line and kept is session
    assert live_frame(video[2], "no-such-gazer", 0.2, 0.5, session, side=224)[0] is None
    assert live_frame(None, "greedy", 0.2, 0.5, None, side=224)[1].startswith("Press the camera")
    assert "uint8 (H, W, 3)" in live_frame(np.zeros((4, 4)), "greedy", 0.2, 0.5, None, side=224)[1]


def test_frames_are_capped_at_the_live_side():
    big = np.zeros((480, 640, 3), np.uint8)
    assert fit_frame(big, 224).shape == (168, 224, 3)
    assert fit_frame(big[:100, :120], 224).shape == (100, 120, 3)  # small frames are left as they are
    assert torch.is_tensor(torch.from_numpy(fit_frame(big, 224)))


def write_y4m(path: Path, video: np.ndarray, fps: int = 10) -> None:
    """uint8 (T, H, W, 3) RGB -> a YUV4MPEG2 4:2:0 file, the format Chromium's fake camera reads."""
    T, H, W = video.shape[:3]
    rgb = video.astype(np.float32)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    u = 128 + 0.564 * (rgb[..., 2] - y)
    v = 128 + 0.713 * (rgb[..., 0] - y)
    half = lambda c: c.reshape(T, H // 2, 2, W // 2, 2).mean((2, 4))  # noqa: E731
    planes = [np.clip(p, 0, 255).round().astype(np.uint8) for p in (y, half(u), half(v))]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for t in range(T):
            f.write(b"FRAME\n" + b"".join(p[t].tobytes() for p in planes))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_live_tab_in_a_browser(tmp_path):
    """A fake camera plays a moving square; the stream's picture appears and the stats count gazed frames."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    from test_app_browser import CHROMIUM_ARGS

    from playground.app.server import running

    clip = tmp_path / "clip.y4m"
    write_y4m(clip, moving_square(20))
    threads = torch.get_num_threads()
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    with running() as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1200})
            context.grant_permissions(["camera"], origin=url.rstrip("/"))
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.get_by_role("tab", name="Live").click()
            page.locator("#live-camera [title='grant webcam access'] button").click(timeout=30_000)
            page.locator("#live-camera button.capture-button").click(timeout=30_000)  # 'Record'
            stats = page.locator("#live-stats")
            sync_api.expect(stats).to_contain_text(re.compile(r"frame [3-9]\d* \("), timeout=60_000)
            assert re.search(r"running: ([1-9][\d.]*|0\.\d*[1-9]\d*) slots a frame", stats.inner_text())
            sync_api.expect(page.locator("#live-picture img")).to_have_attribute("src", re.compile(r"."))
            assert not errors, f"the page raised: {errors[:3]}"
        finally:
            browser.close()
            torch.set_num_threads(threads)
