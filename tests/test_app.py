"""The app without a server: the Blocks build, the callbacks' outputs and exports, errors, limits, caches."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from playground import PlaygroundError, available_gazers
from playground.app import cache, callbacks, pipeline, tempfiles
from playground.app.limits import Limits
from playground.video_run import GAZE_FORMAT, read_gaze_json, tile_gazes

ROOT = Path(__file__).resolve().parents[1]
SQUARE = ROOT / "assets" / "synthetic_square.mp4"
BUNNY = ROOT / "assets" / "bigbuckbunny_clip.mp4"
quiet = pipeline.no_progress


@pytest.fixture(scope="module")
def demo():
    import torch

    threads = torch.get_num_threads()
    from app import construct_demo

    yield construct_demo()
    torch.set_num_threads(threads)  # build_demo sizes torch's pool for the app; give the rest of the suite its own


def test_blocks_build_with_named_endpoints(demo):
    info = demo.get_api_info()["named_endpoints"]
    assert {"/gaze", "/ask", "/compare"} <= set(info)
    gaze_params = info["/gaze"]["parameters"]
    assert gaze_params[0]["parameter_name"] == "video" and not gaze_params[0]["parameter_has_default"]
    assert all(p["parameter_has_default"] for p in gaze_params[1:]), "every /gaze input but the video has a default"
    assert [p["parameter_name"] for p in gaze_params] == [
        "video",
        "num_frames",
        "fps",
        "start",
        "gazer",
        "reconstructor",
        "threshold",
        "ratio",
        "tile",
    ]
    assert gaze_params[-1]["parameter_default"] == 0  # new inputs come last, off by default
    ask_params = info["/ask"]["parameters"]
    assert [p["parameter_name"] for p in ask_params][:2] == ["video", "question"]
    assert ask_params[-1]["parameter_name"] == "pruning" and ask_params[-1]["parameter_default"] == []  # off
    assert demo._queue.max_size == callbacks.LIMITS.queue_size


def test_gaze_action_outputs_and_exports():
    out = callbacks.gaze_action(str(SQUARE), num_frames=4, threshold=0.15, ratio=0.5, progress=quiet)
    assert tuple(out) == callbacks.GAZE_OUTPUTS  # a mapping by output name, not a tuple matched by position
    summary, overlay, rebuilt, scrubber, panel, tokens, loss, quality, files, card, view = out.values()
    assert "slots" in summary and "PSNR" in summary
    assert Path(overlay).stat().st_size > 0 and Path(rebuilt).stat().st_size > 0
    assert scrubber.maximum == 3
    assert panel.ndim == 3 and panel.shape[1] > 3 * 224  # original | overlay | reconstruction
    assert [len(bar.y) for bar in tokens.data] == [4] * 4  # one bar per frame for each of the 4 scales
    names = {Path(f).name for f in files}
    assert names == {"gaze.json", "masks.npz", "overlay.mp4", "reconstruction.mp4", "metrics.csv", "run_card.json"}
    folder = Path(files[0]).parent
    gaze = view.run.gaze

    data = read_gaze_json(folder / "gaze.json")
    assert data["format"] == GAZE_FORMAT and data["read_size"] == [224, 224] and data["layout"]["tile"] == 0
    assert [len(chunk["tiles"]) for chunk in data["chunks"]] == [1]  # the one-chunk, one-tile case
    back = tile_gazes(data)[0][0]
    for key, value in gaze.to_official().items():
        assert np.array_equal(back.to_official()[key].numpy(), value.numpy()), key
    masks = np.load(folder / "masks.npz")
    per_scale = np.stack([masks[f"mask_{s}px"].reshape(4, -1).sum(1) for s in gaze.grid.scales], -1)
    assert np.array_equal(per_scale, gaze.counts_per_scale()[0].numpy())
    with open(folder / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["gazed"]) for r in rows] == gaze.counts()[0].tolist()
    saved = json.loads((folder / "run_card.json").read_text())
    assert saved["settings"]["threshold"] == 0.15 and saved["settings"]["gazing_ratio"] == 0.5
    assert saved["models"]["gazer"]["id"] == "greedy" and saved["packages"]["torch"]
    assert saved["device"]["device"] and saved["video"]["sha256"] == card["video"]["sha256"]
    assert saved["results"]["slots_kept"] == gaze.num_gazed

    frame = callbacks.frame_action(view, 2)
    assert frame.shape == panel.shape and not np.array_equal(frame, panel)


def test_tile_zero_is_the_untiled_run():
    plain = callbacks.gaze_action(str(SQUARE), num_frames=4, threshold=0.15, ratio=0.5, progress=quiet)
    zero = callbacks.gaze_action(str(SQUARE), num_frames=4, threshold=0.15, ratio=0.5, tile=0, progress=quiet)
    assert zero["view"].run.gaze is plain["view"].run.gaze  # the same cached gaze: tile 0 changes nothing
    assert zero["view"].run.clip.read_size == (224, 224) and zero["panel"].shape == plain["panel"].shape
    assert {Path(f).name for f in zero["files"]} == {Path(f).name for f in plain["files"]}
    assert zero["card"]["settings"]["tile"] == 0 and "tiles" not in zero["card"]


def test_tiled_gaze_runs_the_clis_whole_video_path():
    bar = []
    summary, overlay, rebuilt, scrubber, panel, tokens, loss, quality, files, card, view = callbacks.gaze_action(
        str(BUNNY),
        num_frames=4,
        tile=320,
        threshold=0.2,
        ratio=0.5,
        progress=lambda fraction=None, desc=None: bar.append((fraction, desc)),
    ).values()
    # One bar over gazing and rebuilding, drawing, writing: it climbs, and is full only when the page renders.
    shares = [f for f, _ in bar if f is not None]
    assert shares == sorted(shares) and shares[-1] == pipeline.RUN_SHARE and shares.count(pipeline.RUN_SHARE) == 2
    assert any("drawing and writing tiles" in d for _, d in bar) and bar[-1][1] == "drawing and writing the results"
    assert "4 tile(s) of 320 px (2 x 2) over 640x360" in summary and "native size" in summary
    assert "\n" not in summary.split("\n\n")[0]
    assert {Path(f).name for f in files} == {
        "gaze.json",
        "metrics.csv",
        "overlay.mp4",
        "reconstruction.mp4",
        "run_card.json",
    }
    from playground.video import probe_video

    assert (probe_video(overlay).width, probe_video(overlay).height) == (640, 360)  # native size, under 1280 wide
    assert probe_video(rebuilt).num_frames == 4
    data = json.loads((Path(files[0]).parent / "gaze.json").read_text())
    assert data["format"] == GAZE_FORMAT and data["read_size"] == [640, 360]  # one schema, tiled or not
    assert data["source"]["video"] == "bigbuckbunny_clip.mp4"  # the name, not the server's path
    assert len(data["chunks"]) == 1 and len(data["chunks"][0]["tiles"]) == 4
    totals = data["totals"]
    assert card["results"] == {k: v for k, v in totals.items() if k != "seconds"}
    assert card["settings"]["tile"] == 320 and card["tiles"]["rows"] == 2 and card["video"]["read_size"] == [640, 360]
    assert f"{totals['slots_kept']} of {totals['slots_total']} slots" in summary
    # from the metrics rows, as an untiled run's: slots by scale, the measured loss, PSNR (no SSIM with tiles)
    assert sum(sum(bar.y) for bar in tokens.data) == totals["slots_kept"] and len(tokens.data) == 4
    assert len(loss.data[0].y) == 4
    assert [trace.name for trace in quality.data] == ["PSNR (dB)"]
    assert "threshold 0.2" in summary and "exact: measured paint loss" in summary  # what the threshold meant
    assert scrubber.interactive is False  # the scrubber needs one whole-frame clip; the panel shows frame 0
    assert panel.ndim == 3 and panel.shape[0] == 360 and panel.shape[1] > 2 * 640
    assert callbacks.frame_action(view, 2) is None
    curve = callbacks.curve_action(view, progress=quiet)
    assert "not available with tiles" in curve.layout.annotations[0].text
    page = callbacks.gaze_page_action(str(BUNNY), 4, 0, 0, "greedy", "paint", 0.2, 0.5, 8, view, progress=quiet)
    assert "tile size must be 0" in page["summary"] and view.summary in page["summary"]  # the tiled result stays


def test_tiled_runs_stay_within_the_upload_limits(tmp_path):
    settings = pipeline.RunSettings(num_frames=4, start=0.5, tile=160)  # a sampling no other test caches
    roomy = Limits(max_decode_pixels=600_000)  # 4 frames fit at 480x270 (518,400 px), not at 640x360 natively
    assert pipeline.load_clip(
        str(BUNNY), pipeline.RunSettings(num_frames=4, start=0.5).checked(roomy), roomy
    ).read_size == (480, 270)
    with pytest.raises(PlaygroundError) as err:
        pipeline.run(str(BUNNY), settings, roomy, quiet, tmp_path)
    text = str(err.value)
    assert "640x360" in text and "tile size 0" in text and "\n" not in text
    told = r"12 tile\(s\) of 160 px \(3 x 4\) over 640x360 for 4 frames make 12 tile clips to gaze; this server gazes"
    with pytest.raises(PlaygroundError, match=told + " at most 6 a run") as err:
        pipeline.run(str(BUNNY), settings, Limits(max_tile_clips=6), quiet, tmp_path)
    assert "PLAYGROUND_APP_MAX_TILE_CLIPS" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # refused before any gazing or writing


def test_autogaze_checkpoint_folder_shows_predicted_and_measured_loss(monkeypatch):
    folder = ROOT / "tests" / "fixtures" / "autogaze" / "tiny_seed0"  # a tiny reference AutoGaze checkpoint
    monkeypatch.setenv(
        "PLAYGROUND_MODEL_DIRS", str(folder.parent)
    )  # the app loads local folders only from allowed dirs
    out = callbacks.gaze_action(str(SQUARE), num_frames=3, gazer=str(folder), progress=quiet)
    loss_plot, card = out["loss_plot"], out["card"]
    names = [trace.name for trace in loss_plot.data]
    assert any(n.startswith("predicted loss") for n in names) and any(n.startswith("measured loss") for n in names)
    assert card["models"]["gazer"]["class"] == "AutoGazeGazer"
    assert card["models"]["gazer"]["revision"].startswith("sha256:")
    assert card["models"]["reconstructor"]["revision"] == "built-in"
    assert cache.get_gazer(str(folder)).clip_len == 16  # long app runs restart AutoGaze's caches per 16 frames


def test_threshold_move_reuses_decoded_frames(monkeypatch):
    calls = []
    decode = pipeline._decode
    monkeypatch.setattr(pipeline, "_decode", lambda *a: calls.append(1) or decode(*a))
    cache.FRAMES.clear()
    first = callbacks.gaze_action(str(BUNNY), num_frames=4, threshold=0.3, progress=quiet)["view"]
    second = callbacks.gaze_action(str(BUNNY), num_frames=4, threshold=0.5, progress=quiet)["view"]
    assert len(calls) == 1, "the second threshold must re-gaze the cached frames, not decode again"
    assert second.run.clip is first.run.clip
    assert second.run.gaze.num_gazed <= first.run.gaze.num_gazed  # a looser threshold never keeps more


def test_curve_and_compare():
    view = callbacks.gaze_action(str(BUNNY), num_frames=3, threshold=0.3, progress=quiet)["view"]
    fig = callbacks.curve_action(view, progress=quiet)
    kept = fig.data[0].y
    assert len(kept) == len(pipeline.CURVE_THRESHOLDS)
    assert all(a >= b for a, b in zip(kept, kept[1:])), "slots kept must not grow with the threshold"
    table, bars, lines = callbacks.compare_action(str(BUNNY), ratio=0.1, num_frames=3, progress=quiet).values()
    names = available_gazers(built_in=True)  # the training-free gazers and the shipped learned one
    assert list(table["gazer"]) == names and "autogaze-playground" in names
    budget = int(np.float32(0.1) * np.float32(265))
    for name in names:  # the same budget for all, and each spends it
        if name != "full":
            assert int(table.set_index("gazer").loc[name, "slots"]) == 3 * budget, name
    assert int(table.set_index("gazer").loc["full", "slots"]) == 3 * 196
    assert len(lines.data) == len(names) and len(bars.data) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(video=None), "upload a video"),
        (dict(video="README.md"), "not a video"),
        (dict(video=str(SQUARE), threshold=-11), "threshold"),
        (dict(video=str(SQUARE), ratio=0), "gazing ratio"),
        (dict(video=str(SQUARE), num_frames=10_000), "frames must be between"),
        (dict(video=str(SQUARE), start=99), "past the end"),
        (dict(video=str(SQUARE), gazer="no-such-org/no-such-gazer"), "no-such-gazer"),
        (dict(video=str(SQUARE), tile=8), "tile size must be 0 (the whole frame) or between 16 and"),
        (dict(video=str(SQUARE), tile=100_000), "tile size must be between 0 and"),
        (dict(video=str(SQUARE), tile=33.5), "tile size must be a whole number"),
        (dict(video=str(SQUARE), tile=256), "tile size 256 px is larger than the frames of synthetic_square.mp4"),
        (dict(video="README.md", tile=64), "not a video"),
    ],
)
def test_errors_are_one_line_messages(kwargs, message):
    video = kwargs.pop("video")
    with pytest.raises(gr.Error) as info:
        callbacks.gaze_action(video, **{"num_frames": 2, **kwargs}, progress=quiet)
    text = info.value.message
    assert message in text and "\n" not in text and "Traceback" not in text
    assert "/tmp/" not in text  # uploads are named by file name, not by their temporary path


def test_unexpected_failures_are_messages_too(monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(pipeline, "run", broken)
    with pytest.raises(gr.Error, match=r"internal error \(KeyError: 'boom'\)"):
        callbacks.gaze_action(str(SQUARE), progress=quiet)


def test_uploads_over_the_limits_are_refused(tmp_path):
    with pytest.raises(PlaygroundError, match="up to 0 MB"):
        Limits(max_upload_mb=0.0001).check_video(BUNNY)
    with pytest.raises(PlaygroundError, match="lasts 3 s; this app accepts videos up to 1 s"):
        Limits(max_duration_s=1).check_video(BUNNY)
    Limits().check_video(BUNNY)


def test_limits_from_env(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_APP_MAX_FRAMES", "8")
    monkeypatch.setenv("PLAYGROUND_APP_CONCURRENCY", "4")
    limits = Limits.from_env()
    assert limits.max_frames == 8 and limits.concurrency == 4 and limits.threads() >= 1
    monkeypatch.setenv("PLAYGROUND_APP_MAX_FRAMES", "lots")
    with pytest.raises(PlaygroundError, match="PLAYGROUND_APP_MAX_FRAMES must be a number"):
        Limits.from_env()


def test_decoded_pixels_are_limited_in_the_app(monkeypatch):
    assert Limits().max_decode_pixels >= 64 * 480 * 480  # by default the frame cap binds first
    monkeypatch.setenv("PLAYGROUND_APP_MAX_DECODE_PIXELS", "5000")
    limits = Limits.from_env()
    assert limits.max_decode_pixels == 5000
    settings = pipeline.RunSettings(num_frames=5, start=0.25).checked(limits)  # a sampling no other test caches
    with pytest.raises(PlaygroundError) as err:
        pipeline.load_clip(str(BUNNY), settings, limits)
    text = str(err.value)
    assert "PLAYGROUND_APP_MAX_DECODE_PIXELS" in text and "fewer frames" in text and "480x270" in text
    assert "\n" not in text and str(BUNNY.parent) not in text  # one line, naming the file only


def test_models_load_once_under_concurrent_requests():
    lru = cache.LRU(capacity=2)
    builds = []

    def build():
        builds.append(1)
        time.sleep(0.05)  # a slow load, so that the other threads arrive while it runs
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(lru.get("m", build))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len({id(r) for r in results}) == 1
    lru.get("a", object), lru.get("b", object)
    assert "m" not in lru and len(lru) == 2  # least recently used goes first
    assert cache.get_gazer("greedy") is cache.get_gazer(" greedy ")


def test_run_folders_are_pruned():
    old = tempfiles.run_dir()
    (old / "x.mp4").write_bytes(b"0")
    past = time.time() - 3600
    import os

    os.utime(old, (past, past))
    fresh = tempfiles.run_dir(max_age_s=60)
    assert not old.exists() and fresh.exists()


def test_offline_mllm_message_says_what_to_set(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read once at import, so set it too
    with pytest.raises(gr.Error) as info:
        callbacks.ask_action(str(SQUARE), "What moves?", mllm="someone/not-cached-mllm", num_frames=2, progress=quiet)
    assert "HF_HUB_OFFLINE" in info.value.message and "\n" not in info.value.message


def test_model_boxes_load_local_paths_only_from_allowed_folders(tmp_path, monkeypatch):
    """Any other path gets one message whether it exists or not; built-in names and hub ids keep working."""
    import os
    import shutil

    import huggingface_hub.constants

    from playground.gazers.autogaze import AutoGazeGazer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv("PLAYGROUND_MODEL_DIRS", raising=False)
    fixture = ROOT / "tests" / "fixtures" / "autogaze" / "tiny_seed0"
    allowed, hub = tmp_path / "models", tmp_path / "hub"
    allowed.mkdir()
    shutil.copytree(fixture, allowed / "gaze")
    (allowed / "out").symlink_to("/etc")  # inside an allowed folder by name, outside by its target
    names = [
        str(fixture),
        str(tmp_path / "missing"),
        "/etc/passwd",
        "/etc",
        "../../etc/passwd",
        "~/nothing.pt",
        str(allowed / "out" / "passwd"),
        str(allowed / "gaze"),
    ]
    for getter in (cache.get_gazer, cache.get_reconstructor, cache.get_mllm):
        told = set()
        for name in names:
            with pytest.raises(PlaygroundError) as info:
                getter(name)
            told.add(str(info.value).replace(repr(name), "NAME"))
        assert len(told) == 1, told  # the same words for every path: nothing says whether it exists
        assert "PLAYGROUND_MODEL_DIRS" in told.pop()
    with pytest.raises(gr.Error, match="PLAYGROUND_MODEL_DIRS"):  # the page shows it as a message
        callbacks.gaze_action(str(SQUARE), num_frames=2, gazer="/etc", progress=quiet)
    monkeypatch.setenv("PLAYGROUND_MODEL_DIRS", os.pathsep.join([str(tmp_path / "elsewhere"), str(allowed)]))
    assert isinstance(cache.get_gazer(str(allowed / "gaze")), AutoGazeGazer)
    with pytest.raises(PlaygroundError, match="PLAYGROUND_MODEL_DIRS"):
        cache.get_gazer(str(allowed / "out" / "passwd"))
    shutil.copytree(fixture, hub / "gaze")  # the Hugging Face cache is allowed too
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    assert isinstance(cache.get_gazer(str(hub / "gaze")), AutoGazeGazer)
    assert cache.get_gazer("greedy").name == "greedy" and cache.get_reconstructor("paint") is not None
    with pytest.raises(PlaygroundError) as info:  # a hub id goes to the hub (here: offline, not cached)
        cache.get_gazer("no-such-org/no-such-gazer")
    assert "PLAYGROUND_MODEL_DIRS" not in str(info.value) and "not in the local Hugging Face cache" in str(info.value)


def test_ask_names_the_model_that_failed_and_never_suggests_what_is_set(tmp_path, monkeypatch):
    import shutil

    import huggingface_hub.constants

    from playground.mllm.random_models import save_tiny_smolvlm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("PLAYGROUND_MODEL_DIRS", str(tmp_path))
    folder = str(save_tiny_smolvlm(tmp_path / "smol"))
    ask = dict(num_frames=2, max_new_tokens=1, progress=quiet)
    told = {}
    for mllm, gazer in (
        ("someone/not-cached-mllm", "framediff"),
        (folder, "someone/not-cached-gazer"),
        (folder, "/etc"),
    ):
        with pytest.raises(gr.Error) as info:
            callbacks.ask_action(str(SQUARE), "What moves?", mllm=mllm, gazer=gazer, **ask)
        told[gazer if mllm == folder else mllm] = info.value.message
    assert told["someone/not-cached-mllm"].startswith("cannot load MLLM 'someone/not-cached-mllm'")
    assert told["someone/not-cached-gazer"].startswith("cannot load gazer 'someone/not-cached-gazer'")
    assert told["/etc"].startswith("cannot load gazer '/etc'") and "PLAYGROUND_MODEL_DIRS" in told["/etc"]
    # a cached snapshot without its weights, offline: say what is missing, not "set HF_HUB_OFFLINE=1" again
    snapshot = tmp_path / "hub" / "models--someone--HalfGaze" / "snapshots" / ("3" * 40)
    snapshot.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "fixtures" / "autogaze" / "tiny_seed0" / "config.json", snapshot / "config.json")
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("3" * 40)
    with pytest.raises(PlaygroundError) as info:
        cache.get_gazer("someone/HalfGaze")
    told["half"] = str(info.value)
    assert "model.safetensors" in told["half"]
    for message in told.values():
        assert "set HF_HUB_OFFLINE=1" not in message and "\n" not in message, message


def test_mllm_dropdown_follows_the_registry():
    """The registry's default and the built-in tiny model first (the tiny one leading when the default's weights
    are not cached), then `ALIASES` in order (NVILA left out), then the built-in tiny Qwen3-VL and Qwen3.5."""
    from playground.app.layout import mllm_choices
    from playground.mllm import ALIASES, DEFAULT_MLLM

    for cached, first in (
        (True, [DEFAULT_MLLM, "tiny-random-smolvlm2"]),
        (False, ["tiny-random-smolvlm2", DEFAULT_MLLM]),
    ):
        values = [c[1] if isinstance(c, tuple) else c for c in mllm_choices(cached)]
        assert values[:2] == first
        assert values[2:] == [
            *(name for name in ALIASES if name not in (DEFAULT_MLLM, "nvila")),
            "tiny-random-qwen3-vl",
            "tiny-random-qwen3.5",
        ]
    assert next(iter(ALIASES)) == DEFAULT_MLLM, "the default is also the registry's first (smallest) model"


def test_ask_defaults_to_the_tiny_model_when_nothing_is_cached(tmp_path, monkeypatch):
    """Item 9: with an empty Hugging Face cache the page opens on the built-in tiny model (found without network),
    and with the default's config and weights in the cache on the default."""
    from playground.app.layout import build_ask_tab
    from playground.mllm import ALIASES, DEFAULT_MLLM, default_mllm, weights_cached

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert not weights_cached(DEFAULT_MLLM) and default_mllm() == "tiny-random-smolvlm2"
    with gr.Blocks():
        tab = build_ask_tab()
    assert tab["mllm"].value == "tiny-random-smolvlm2" and tab["mllm"].choices[0][1] == "tiny-random-smolvlm2"
    snapshot = tmp_path / ("models--" + ALIASES[DEFAULT_MLLM].replace("/", "--")) / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0" * 40)
    (snapshot / "config.json").write_text("{}")
    assert default_mllm() == "tiny-random-smolvlm2", "a config without weights does not load"
    (snapshot / "model.safetensors").write_bytes(b"")
    assert weights_cached(DEFAULT_MLLM) and default_mllm() == DEFAULT_MLLM
    with gr.Blocks():
        assert build_ask_tab()["mllm"].value == DEFAULT_MLLM


def test_ask_works_offline_with_the_built_in_tiny_model(monkeypatch):
    """A newcomer without weights sees Ask work end to end, labelled as random weights."""
    import huggingface_hub.constants

    from playground.app.layout import MLLMS

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    note = "random weights: shows the mechanics and costs, not answers"
    values = [c[1] if isinstance(c, tuple) else c for c in MLLMS]
    assert "tiny-random-smolvlm2" in values and "smolvlm2-256m" in values and "llava-onevision-0.5b" in values
    for tiny in ("tiny-random-smolvlm2", "tiny-random-qwen3-vl", "tiny-random-qwen3.5"):
        assert any(isinstance(c, tuple) and c[1] == tiny and note in c[0] for c in MLLMS)
    start = time.perf_counter()
    out = callbacks.ask_action(
        str(SQUARE), "What moves?", mllm="tiny-random-smolvlm2", num_frames=4, max_new_tokens=4, progress=quiet
    )
    assert tuple(out) == callbacks.ASK_OUTPUTS
    gazed, full, table, chart, told = (
        out[k] for k in ("gazed_answer", "full_answer", "cost_table", "cost_plot", "ask_note")
    )
    assert out["pruned_answers"]["visible"] is False, "no post-ViT pruning asked for: its box stays hidden"
    assert time.perf_counter() - start < 10
    assert note in told and len(table) > 0 and len(chart.data) > 0
    for box in (gazed, full):  # labelled as random weights, text without control or replacement characters
        assert "random weights" in box["label"] and box["value"].startswith("[random weights, not a real answer]")
        assert all(ch.isprintable() or ch == "\n" for ch in box["value"]) and "\ufffd" not in box["value"]


def test_ask_counts_the_gazer_and_explains_the_numbers():
    """Items 6-8 on the page: the gazer's FLOPs are counted and in the total, the attention row is a sub-row of the
    encoder, the note says why LLM tokens fall less than encoder tokens and why the Gaze tab's count differs."""
    settings = dict(num_frames=4, gazer="greedy", threshold=0.2, ratio=0.75)
    gaze_view = callbacks.gaze_action(str(SQUARE), progress=quiet, **settings)  # the Gaze tab first, same settings
    out = callbacks.ask_action(
        str(SQUARE), "What moves?", mllm="tiny-random-smolvlm2", max_new_tokens=2, progress=quiet, **settings
    )
    table, told = out["cost_table"], out["ask_note"]
    rows = {row[""]: row for _, row in table.iterrows()}
    gazer = rows["GFLOPs gazer"]["gazed"]
    assert gazer > 0 and rows["gazer FLOPs source"]["gazed"] == "measured ops"
    stages = ("GFLOPs gazer", "GFLOPs vision_encoder", "GFLOPs connector", "GFLOPs llm_prefill", "GFLOPs llm_decode")
    assert abs(sum(rows[s]["gazed"] for s in stages) - rows["GFLOPs total (gazer + stages)"]["gazed"]) < 0.01
    assert "  └ of which attention (inside vision_encoder)" in rows
    assert "LLM vision tokens" in told and "fewer" in told and "group" in told
    checked = callbacks.settings_from(4, None, None, "greedy", None, 0.2, 0.75)
    gaze_tab = pipeline.gazed_before(pipeline.load_clip(str(SQUARE), checked, callbacks.LIMITS), checked)
    assert gaze_tab is not None and f"the Gaze tab kept {gaze_tab.num_gazed:,} slots" in told
    assert "The grids differ" in told and gaze_view is not None


# ---- the items 1, 2, 10, 12 and 16 ---------------------------------------------------------------
def test_typed_knobs_reach_the_callback_and_keep_the_last_result(demo):
    """Item 1: a typed threshold of 99, -5, 1e9 or nothing (or tile -5) is one line; the last result stays, stale."""
    by_label = {c.label: c for c in demo.blocks.values() if getattr(c, "label", None)}
    for label in ("error threshold", "gazing ratio", "frames to sample", "tile size (px)", "start (s)"):
        box = by_label[label]
        for typed in (99, -5, 1e9, None):  # Gradio's own check would fail every output before the callback
            assert box.preprocess(typed) == typed
    assert by_label["error threshold"].get_block_name() == "slider"  # drawn as Gradio's own widgets
    assert by_label["tile size (px)"].get_block_name() == "number"
    assert not (Path(callbacks.__file__).parent / "layout.pyi").exists()  # no stub written beside the app
    good = callbacks.gaze_page_action(str(SQUARE), num_frames=3, progress=quiet)
    assert tuple(good) == (*callbacks.GAZE_OUTPUTS, "shown")
    view = good["view"]
    cases = [
        (dict(threshold=99), "error threshold must be between 0 and 1.5, got 99"),
        (dict(threshold=-5), "error threshold must be between 0 and 1.5, got -5"),
        (dict(threshold=1e9), "error threshold must be between 0 and 1.5, got 1e+09"),
        (dict(threshold=None), "the error threshold box is empty: type a number between 0 and 1.5"),
        (dict(tile=-5), "tile size must be between 0 and 8192, got -5"),
        (dict(num_frames=None), f"the frames box is empty: type a number between 1 and {callbacks.LIMITS.max_frames}"),
        (dict(ratio=0), "gazing ratio must be between 0.01 and 1, got 0"),
    ]
    for knobs, message in cases:
        out = callbacks.gaze_page_action(str(SQUARE), **{"num_frames": 3, **knobs}, view=view, progress=quiet)
        first = out["summary"].split("\n\n")[0]
        assert first == f"**⚠ This run failed:** {message}", first
        assert "stale" in out["summary"] and view.run.clip.name in out["summary"]
        assert set(out) == {"summary", "shown"}  # every other output keeps what it shows
    assert callbacks.gaze_action(str(SQUARE), num_frames=3, threshold=None, progress=quiet)  # the API: None = default


def test_a_bad_new_file_keeps_the_results(tmp_path):
    """Item 2: the new file is read and checked first; a bad one is one line, the results stay, marked stale."""
    view = callbacks.gaze_page_action(str(SQUARE), num_frames=3, progress=quiet)["view"]
    text = tmp_path / "text.mp4"
    text.write_text("this is text, not a video" * 10)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for bad, said in ((text, "text.mp4 is not a video file"), (empty, "empty.mp4 is empty (0 bytes)")):
        out = callbacks.clear_action(str(bad), str(SQUARE), view)
        assert list(out) == ["summary"]  # nothing else cleared
        assert out["summary"].split("\n\n")[0].startswith(f"**⚠ {bad.name} cannot be used:** {said}")
        assert (
            "stale" in out["summary"] and view.run.clip.name in out["summary"] and str(tmp_path) not in out["summary"]
        )
    emptied = callbacks.clear_action(None, str(SQUARE), view)  # the box emptied to choose another file
    assert list(emptied) == ["summary"] and "stale" in emptied["summary"]
    # a late event for the video shown changes nothing (its 'shown' comes back as it was)
    assert callbacks.clear_action(str(SQUARE), str(SQUARE), view) == {"shown": str(SQUARE)}
    cleared = callbacks.clear_action(str(BUNNY), str(SQUARE), view)  # a readable video: now everything clears
    assert tuple(cleared) == callbacks.CLEARED_OUTPUTS
    assert cleared["summary"].startswith("Results appear here") and cleared["view"] is None


def test_one_frame_tiled_run_says_which_limit_applies(monkeypatch):
    """Item 10: when the decode limit leaves one frame of a large clip, the app says so, names the variable that
    raises it, and draws the one frame readably."""
    from playground.app import render

    one = 640 * 360 + 1000  # one native frame of the example fits, two do not
    monkeypatch.setattr(callbacks, "LIMITS", Limits(max_decode_pixels=one))
    with pytest.raises(gr.Error) as err:
        callbacks.gaze_action(str(BUNNY), num_frames=2, tile=320, start=0.25, progress=quiet)
    assert "at 640x360 px 1 frame(s) fit in this server's 231,400 pixels a run" in err.value.message
    assert "PLAYGROUND_APP_MAX_DECODE_PIXELS" in err.value.message and "\n" not in err.value.message
    summary, _, _, _, panel, tokens, loss, quality, *_ = callbacks.gaze_action(
        str(BUNNY), num_frames=1, tile=320, start=0.25, progress=quiet
    ).values()
    assert "**1 frame(s) of 640x360 px** fit" in summary
    assert "set `PLAYGROUND_APP_MAX_DECODE_PIXELS` to 3,686,400 or more" in summary  # 16 frames of 640x360
    assert "One frame" in summary
    assert panel.ndim == 3  # frame 0, not an empty panel
    for fig in (tokens, loss, quality):
        assert tuple(fig.layout.xaxis.range) == (-1, 1) and tuple(fig.layout.xaxis.tickvals) == (0,)
        assert all(t.marker.size == 14 for t in fig.data if t.type == "scatter")
        assert all(len(line) <= render.TITLE_CHARS for line in fig.layout.title.text.split("<br>"))
    roomy = Limits()
    assert pipeline.frames_fit((3840, 2160), pipeline.RunSettings(tile=448), roomy) == 1  # 4K: 16 M pixels a run
    assert pipeline.frames_fit((3840, 2160), pipeline.RunSettings(), roomy) == roomy.max_frames  # read at 480 px


def test_pictures_follow_the_clips_aspect(demo):
    """Item 12: the two videos share a height (widths 1 : 2), the page caps tall pictures, and a caption
    never runs past its frame."""
    from playground import viz
    from playground.app.layout import MAX_PICTURE_PX, launch_kwargs

    by_id = {c.elem_id: c for c in demo.blocks.values() if getattr(c, "elem_id", None)}
    assert by_id["overlay-video"].scale == 1 and by_id["reconstruction-video"].scale == 2
    css = launch_kwargs()["css"]
    for element in ("#overlay-video video", "#reconstruction-video video", "#frame-panel img"):
        assert element in css
    assert f"max-height: {MAX_PICTURE_PX}px" in css
    tall = np.zeros((1, 320, 90, 3), np.uint8)  # a vertical frame, narrower than its label at the usual size
    out = viz.side_by_side(tall, tall, labels=["gazed: 123/265 slots", "reconstruction"], gap=4)[0]
    assert out[:, 90 - 2 : 90].max() == 0 and out[:, -2:].max() == 0  # the labels stop inside their frames
    assert out[:, :88].max() > 0  # and are drawn


def test_overlay_paint_table_equals_the_blend():
    """Item 16: the overlay's looked-up blend gives the bytes of blending every pixel in float32."""
    from playground import viz

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 27, 41, 3), dtype=np.uint8)
    finest = rng.integers(-1, 4, (3, 27, 41))
    edges = np.where(rng.random((3, 27, 41)) < 0.1, rng.integers(0, 4, (3, 27, 41)), -1)
    for alpha, dim in ((0.45, viz.DIM), (0.3, 1.0), (0.9, 0.1)):
        colors = np.concatenate([np.zeros((1, 3), np.float32), viz._palette(4)])
        gazed = (finest >= 0)[..., None]
        blend = frames * np.where(gazed, np.float32(1 - alpha), np.float32(dim)) + colors[finest + 1] * np.where(
            gazed, np.float32(alpha), np.float32(0)
        )
        blend = np.where((edges >= 0)[..., None], colors[edges + 1], blend)
        expected = np.round(blend).clip(0, 255).astype(np.uint8)
        assert np.array_equal(viz._paint(frames, finest, edges, 4, alpha, dim), expected)


def test_curve_sweeps_in_parallel_without_ssim(monkeypatch):
    """Item 16: the threshold sweep gives the serial sweep's numbers on several threads, and sizing its
    rebuilds for the cache no longer measures their SSIM (which the curve does not show)."""
    from playground import metrics

    calls = []
    real = metrics.ssim
    monkeypatch.setattr(metrics, "ssim", lambda *a, **k: calls.append(1) or real(*a, **k))
    settings = pipeline.RunSettings(num_frames=3, start=0.5).checked(callbacks.LIMITS)
    clip = pipeline.load_clip(str(BUNNY), settings, callbacks.LIMITS)
    curves = []
    for workers in (1, 2):
        for c in (cache.GAZES, cache.REBUILDS, cache.CURVES):
            c.clear()
        monkeypatch.setattr(pipeline, "SWEEP_WORKERS", workers)
        curves.append(pipeline.threshold_curve(clip, settings, thresholds=(0.0, 0.1, 0.3, 1.0)))
    assert curves[0] == curves[1]
    assert calls == []


def test_curve_shares_the_prepared_frames(monkeypatch):
    """Item 16: the curve's gazes share greedy's prepared frames (cache.PREPARED) and its rebuilds paint's
    (cache.REBUILD_PREPARED), one entry each for the clip, and give the numbers of gazes and rebuilds that each
    make their own."""
    settings = pipeline.RunSettings(num_frames=3).checked(callbacks.LIMITS)
    clip = pipeline.load_clip(str(BUNNY), settings, callbacks.LIMITS)
    curves = []
    stores = (cache.PREPARED, cache.REBUILD_PREPARED)
    for room in (1, 0):  # 0: nothing fits, every gaze and rebuild prepares its own frames
        for c in (cache.GAZES, cache.REBUILDS, cache.CURVES, *stores):
            c.clear()
        for store in stores:
            monkeypatch.setattr(store, "max_bytes", store.max_bytes * room)
        curves.append(pipeline.threshold_curve(clip, settings, thresholds=(0.0, 0.1, 0.3, 1.0)))
        assert [len(store) for store in stores] == [room, room]
    assert curves[0] == curves[1]


# ---- issue 25 item 4: the calibration view; issue 24's typed budget, max tokens and frame -------------------
@pytest.fixture(scope="module")
def calibrated_tiny(tmp_path_factory):
    """A tiny random AutoGaze checkpoint made in code, with a calibration.json for paint beside its weights."""
    from playground.calibration import CALIBRATION_FILE, Calibration, weights_sha256, write_calibration
    from playground.gazers.autogaze.tiny import save_tiny

    folder = save_tiny(tmp_path_factory.mktemp("models") / "tiny-autogaze", seed=0)
    cal = Calibration(
        gazer="tiny",
        weights_sha256=weights_sha256(folder / "model.safetensors"),
        reconstructor="paint",
        requested=[-0.5, 0.0, 0.5, 1.0],
        measured=[0.05, 0.2, 0.15, 0.4],
        gazes_per_frame=[200.0, 50.0, 40.0, 5.0],
        clips=["a.mp4"],
        frames=16,
    )
    write_calibration(cal, folder / CALIBRATION_FILE)
    return folder


def test_calibration_view_sweeps_a_learned_gazer_on_the_clip_on_screen(calibrated_tiny, monkeypatch):
    from playground.calibration import calibrate

    monkeypatch.setenv("PLAYGROUND_MODEL_DIRS", str(calibrated_tiny.parent))
    view = callbacks.gaze_action(str(SQUARE), num_frames=3, gazer=str(calibrated_tiny), threshold=0.2, progress=quiet)[
        "view"
    ]
    bar = []
    out = callbacks.calibration_action(view, progress=lambda fraction=None, desc=None: bar.append(fraction))
    assert tuple(out) == callbacks.CALIBRATION_OUTPUTS
    fig = out["calibration_plot"]
    line, head, mapped = fig.data
    assert list(head.x) == list(pipeline.CALIBRATION_THRESHOLDS) == list(mapped.x) and line.name.startswith("y = x")
    assert "calibrated for paint" in out["calibration_note"] and "synthetic_square.mp4" in out["calibration_note"]
    assert bar and bar == sorted(bar) and bar[-1] == 1  # a progress bar over the sweep's gazes
    # The curves are what calibrate() measures on that clip: the head's threshold as is, and through the map.
    gazer = cache.get_gazer(str(calibrated_tiny))
    cal = gazer.calibration
    rec = cache.get_reconstructor("paint")
    measured = calibrate(gazer, rec, [view.run.clip.frames], thresholds=list(pipeline.CALIBRATION_THRESHOLDS))
    assert list(head.y) == pytest.approx(measured.measured)
    heads = sorted({cal.threshold_for(t) for t in pipeline.CALIBRATION_THRESHOLDS})
    mapped_at = dict(zip(heads, calibrate(gazer, rec, [view.run.clip.frames], thresholds=heads).measured))
    assert list(mapped.y) == pytest.approx([mapped_at[cal.threshold_for(t)] for t in pipeline.CALIBRATION_THRESHOLDS])
    assert gazer.calibration is cal  # the cached gazer kept its calibration: the sweep ran on a copy
    again = callbacks.calibration_action(view, progress=quiet)  # cached
    assert list(again["calibration_plot"].data[1].y) == list(head.y)


def test_calibration_view_of_a_measuring_gazer_is_one_line():
    view = callbacks.gaze_action(str(SQUARE), num_frames=3, gazer="greedy", progress=quiet)["view"]
    out = callbacks.calibration_action(view, progress=quiet)
    assert out["calibration_plot"] is None and "\n" not in out["calibration_note"]
    assert "its threshold is exact" in out["calibration_note"] and "nothing to calibrate" in out["calibration_note"]
    ignored = callbacks.calibration_action(
        callbacks.gaze_action(str(SQUARE), num_frames=3, gazer="random", progress=quiet)["view"], progress=quiet
    )
    assert "ignores the threshold" in ignored["calibration_note"]
    tiled = callbacks.gaze_action(str(BUNNY), num_frames=2, tile=320, progress=quiet)["view"]
    assert "not available with tiles" in callbacks.calibration_action(tiled, progress=quiet)["calibration_note"]
    assert "Gaze** first" in callbacks.calibration_action(None, progress=quiet)["calibration_note"]


def test_typed_budget_max_tokens_and_frame_keep_the_last_result(demo):
    """A typed budget or max-tokens of 99, -5, 1e9 or nothing is one line in the tab's note; the results stay."""
    by_label = {c.label: c for c in demo.blocks.values() if getattr(c, "label", None)}
    for label in ("gazing ratio (the same budget for every gazer)", "max new tokens", "frame"):
        for typed in (99, -5, 1e9, None):
            assert by_label[label].preprocess(typed) == typed  # reaches the callback as typed
    good = callbacks.compare_page_action(str(SQUARE), 0.1, 3, progress=quiet)
    assert tuple(good) == callbacks.COMPARE_PAGE_OUTPUTS and "synthetic_square.mp4" in good["compare_note"]
    for typed, said in (
        (99, "gazing ratio must be between 0.01 and 1, got 99"),
        (-5, "got -5"),
        (1e9, "got 1e+09"),
        (None, "the gazing ratio box is empty"),
    ):
        out = callbacks.compare_page_action(str(SQUARE), typed, 3, note=good["compare_note"], progress=quiet)
        assert list(out) == ["compare_note"]  # the table and figures keep what they show
        assert out["compare_note"].startswith("**⚠ This comparison failed:** ") and said in out["compare_note"]
        assert "stale" in out["compare_note"] and out["compare_note"].endswith(good["compare_note"])
        twice = callbacks.compare_page_action(str(SQUARE), typed, 3, note=out["compare_note"], progress=quiet)
        assert twice["compare_note"] == out["compare_note"]  # the stale part is the last good note, not nested
    for typed, said in ((999, "max new tokens must be between 1 and 128, got 999"), (None, "the max new tokens box")):
        out = callbacks.ask_page_action(
            str(SQUARE), "What moves?", max_new_tokens=typed, num_frames=2, note="*the last answers*", progress=quiet
        )
        assert list(out) == ["ask_note"] and said in out["ask_note"] and out["ask_note"].endswith("*the last answers*")
    first = callbacks.ask_page_action(str(SQUARE), "What moves?", max_new_tokens=1e9, progress=quiet)["ask_note"]
    assert "stale" not in first  # nothing answered yet: only the message
    view = callbacks.gaze_action(str(SQUARE), num_frames=3, progress=quiet)["view"]
    for typed in (99, -5, None):  # the scrubber: one message, the panel keeps its frame
        assert callbacks.frame_action(view, typed) == gr.skip()
    assert callbacks.frame_action(view, 2).shape == callbacks.frame_action(view, 0).shape
