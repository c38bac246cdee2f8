"""End to end: launch the app on a free local port and drive `/gaze` and `/ask` with gradio_client."""

from __future__ import annotations

from concurrent.futures import wait
from pathlib import Path

import numpy as np
import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from playground.video import probe_video  # noqa: E402
from playground.video_run import read_gaze_json, tile_gazes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUNNY = ROOT / "assets" / "bigbuckbunny_clip.mp4"
SQUARE = ROOT / "assets" / "synthetic_square.mp4"


@pytest.fixture(scope="module")
def client():
    import torch

    from playground.app.server import running

    threads = torch.get_num_threads()
    with running() as url:
        yield Client(url, verbose=False)
    torch.set_num_threads(threads)


def test_gaze_endpoint_with_the_video_alone(client):
    summary, overlay, rebuilt, frame_max, panel, tokens, loss, quality, files, card = client.predict(
        handle_file(str(BUNNY)), api_name="/gaze"
    )
    assert "bigbuckbunny_clip.mp4" in summary and "16 frames" in summary and "slots" in summary
    info = probe_video(overlay)
    assert info.num_frames == 16 and (info.width, info.height) == (480, 270)
    assert probe_video(rebuilt).width > 2 * 480  # original | reconstruction side by side
    assert Path(panel).is_file() and frame_max["maximum"] == 15
    assert {plot["type"] for plot in (tokens, loss, quality)} == {"plotly"}
    by_name = {Path(f).name: f for f in files}
    gaze = tile_gazes(read_gaze_json(by_name["gaze.json"]))[0][0]  # one chunk, one tile
    assert gaze.num_frames == 16 and gaze.num_gazed == card["results"]["slots_kept"]
    assert card["settings"]["gazer"] == "greedy" and card["models"]["reconstructor"]["id"] == "paint"


def test_gaze_endpoint_with_every_knob(client):
    out = client.predict(handle_file(str(SQUARE)), 6, 0, 0.2, "framediff", "paint", 0.05, 0.3, api_name="/gaze")
    card = out[-1]
    assert card["settings"] == {
        "num_frames": 6,
        "fps": 0.0,
        "start": 0.2,
        "gazer": "framediff",
        "reconstructor": "paint",
        "threshold": 0.05,
        "gazing_ratio": 0.3,
        "tile": 0,
        "stop": "predicted",  # recorded for every gazer, as the CLI's card does; only a learned one uses it
    }
    masks = np.load(next(f for f in out[8] if f.endswith("masks.npz")))
    assert masks["mask_224px"].shape == (6, 14, 14)
    assert masks["mask_224px"].reshape(6, -1).sum(1).max() <= int(np.float32(0.3) * np.float32(265))


def test_gaze_endpoint_with_tiles_last(client):
    out = client.predict(handle_file(str(SQUARE)), 4, 0, 0, "greedy", "paint", 0.2, 0.5, 112, api_name="/gaze")
    summary, files, card = out[0], out[8], out[-1]
    assert "4 tile(s) of 112 px" in summary and card["settings"]["tile"] == 112
    by_name = {Path(f).name: f for f in files}
    assert set(by_name) == {"gaze.json", "metrics.csv", "overlay.mp4", "reconstruction.mp4", "run_card.json"}
    assert probe_video(out[1]).num_frames == 4


def test_errors_reach_the_client_as_messages(client, tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    with pytest.raises(Exception) as info:
        client.predict(handle_file(str(bogus)), api_name="/gaze")
    message = str(info.value)
    assert "notes.mp4" in message and "Traceback" not in message and "\n" not in message.strip()


def test_twenty_concurrent_gaze_calls(client):
    jobs = [
        client.submit(
            handle_file(str(SQUARE if i % 2 else BUNNY)),
            2,
            0,
            0.1 * (i % 3),
            ["greedy", "framediff", "random", "full"][i % 4],
            "paint",
            0.1 + 0.01 * i,
            0.5,
            api_name="/gaze",
        )
        for i in range(20)
    ]
    done, _ = wait(jobs, timeout=240)
    assert len(done) == 20
    results = [job.result() for job in jobs]  # raises if any call failed
    for i, out in enumerate(results):
        assert out[-1]["settings"]["threshold"] == pytest.approx(0.1 + 0.01 * i)
        assert probe_video(out[1]).num_frames == 2


def test_ask_endpoint_with_a_tiny_mllm(client):
    from playground.mllm.random_models import TINY_RANDOM_SMOLVLM2

    gazed, full, table, chart, note, pruned = client.predict(  # the built-in tiny model: no folder, no network
        handle_file(str(SQUARE)), "What moves?", TINY_RANDOM_SMOLVLM2, "block_causal", 4, 4, api_name="/ask"
    )
    assert isinstance(gazed, str) and isinstance(full, str)  # the text, not a box update
    assert pruned == ""  # no post-ViT pruning asked for (the `pruning` input's default)
    assert gazed.startswith("[random weights, not a real answer]")
    rows = {row[0]: row[1:] for row in table["data"]}
    gazed_tokens, full_tokens = rows["vision tokens (encoder)"]
    assert 0 < gazed_tokens < full_tokens  # the gazed path sends fewer patches through the encoder
    total = rows["GFLOPs total (gazer + stages)"]
    assert rows["new tokens"][0] <= 4 and total[0] < total[1]
    assert chart["type"] == "plotly" and ("vision tokens" in note or "attention" in note)
