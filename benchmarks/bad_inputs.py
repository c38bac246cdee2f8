"""A bad-input matrix over the CLI's commands and the API: every case in its own process, judged.

    .venv/bin/python benchmarks/bad_inputs.py [--only SUBSTRING] [--timeout 180] [--keep DIR]

Makes hostile and odd inputs in a scratch folder (empty, text-as-video, still images, sparse-frame AVIs,
deep and huge JSON, torn files, absurd knobs and configs, broadcast arrays that cost no memory to
make), runs each case as `python -m playground ...` or as a short Python call of the public API, and
judges what came back:

- `ok` cases must exit 0; `refuse` cases must exit 2 with exactly one `error: ...` line on stderr;
- never a traceback, never past `--timeout` seconds (a hang), never over `--max-rss` MiB (per process,
  from wait4), and a refused case leaves nothing at the output path it was given;
- the SIGKILL cases kill a resumable job (gaze-dataset, eval, labels) mid-run, resume it, and compare
  its records with an uninterrupted run: none lost, none twice.

It prints one row per case and the counts; the exit status is 1 when any case fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


@dataclass
class Case:
    name: str
    argv: list[str]  # after `python -m playground`, or ["-c", code] for an API call
    expect: str  # "ok" | "refuse"
    out: Path | None = None  # must not exist after a refusal
    api: bool = False
    message: str = ""  # a refusal's line must contain this
    env: dict = field(default_factory=dict)


def api(code: str) -> list[str]:
    """An API call that prints a PlaygroundError as one line and exits 2, as the CLI does."""
    return [
        "-c",
        "import sys\nfrom playground import PlaygroundError\ntry:\n"
        + "".join(f"    {line}\n" for line in code.strip().splitlines())
        + "except PlaygroundError as e:\n    print('error:', e, file=sys.stderr); sys.exit(2)\n",
    ]


def app(call: str) -> list[str]:
    """A call of the app's Gradio callbacks in-process: what the page shows for an error is a gr.Error's line."""
    return [
        "-c",
        "import sys\nimport gradio as gr\nfrom playground.app import callbacks as cb\ntry:\n"
        f"    out = cb.{call}\n"
        "except gr.Error as e:\n    print('error:', e.message, file=sys.stderr); sys.exit(2)\n"
        "text = repr(out)\n"
        "if 'internal error' in text: print('error: internal error', file=sys.stderr); sys.exit(3)\n",
    ]


def make_inputs(d: Path) -> dict[str, Path]:
    """The scratch files the cases read."""
    import numpy as np

    from playground.synthetic import moving_square
    from playground.training.run_folder import config_template
    from playground.video import write_video

    f = {}
    clip = moving_square(8, 64, 64)
    f["npy"] = d / "clip.npy"
    np.save(f["npy"], clip)
    f["mp4"] = d / "videos" / "a" / "train" / "clip.mp4"
    write_video(f["mp4"], moving_square(16, 96, 128), fps=8, preset="ultrafast")
    f["videos"] = d / "videos"
    f["empty"] = d / "empty.mp4"
    f["empty"].write_bytes(b"")
    f["text"] = d / "text.mp4"
    f["text"].write_text("not a video\n" * 100)
    f["png"] = d / "still.mp4"
    f["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    f["half"] = d / "half.mp4"
    data = f["mp4"].read_bytes()
    f["half"].write_bytes(data[: len(data) // 2])
    f["sparse_avi"] = _sparse_avi(d / "sparse.avi")
    deep = "[" * 200_000 + "]" * 200_000
    for name in ("deep.json", "deep_config.json", "deep_labels.json"):
        (d / name).write_text(deep)
    f["deep"] = d / "deep.json"
    big = config_template("tiny")
    big["gaze_model_config"]["gaze_decoder_config"].update(hidden_size=10**9)
    f["big_config"] = d / "big_config.json"
    f["big_config"].write_text(json.dumps(big))
    many = config_template("tiny")
    many["gaze_model_config"]["gaze_decoder_config"].update(num_hidden_layers=10**6)
    f["many_layers"] = d / "many_layers.json"
    f["many_layers"].write_text(json.dumps(many))
    f["notjson"] = d / "notjson.json"
    f["notjson"].write_text("{'a': 1,")
    f["binary"] = d / "binary.json"
    f["binary"].write_bytes(bytes(range(256)) * 4)
    return f


def _sparse_avi(path: Path) -> Path:
    """A cinepak AVI whose 20 frames lie 2 s apart under a 15 fps header (as old cameras write them)."""
    import imageio_ffmpeg
    import numpy as np

    frames = np.random.default_rng(0).integers(0, 256, (20, 96, 128, 3), dtype=np.uint8)
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            "128x96",
            "-r",
            "1",
            "-i",
            "-",
            "-vf",
            "setpts=N*2/TB",
            "-fps_mode",
            "passthrough",
            "-enc_time_base",
            "1/15",
            "-c:v",
            "cinepak",
            "-g",
            "1",
            str(path),
        ],
        input=frames.tobytes(),
        check=True,
    )
    return path


def labels_for(d: Path, f: dict[str, Path]) -> dict[str, Path]:
    """Labels files: one good (made by the labels command), and bad variants of it."""
    good = d / "labels.json"
    subprocess.run(
        [
            PY,
            "-m",
            "playground",
            "labels",
            str(f["videos"]),
            "--out",
            str(good),
            "--clip-len",
            "4",
            "--size",
            "64",
            "--quiet",
        ],
        check=True,
        cwd=d,
        capture_output=True,
    )
    data = json.loads(good.read_text())
    key, label = next(iter(data.items()))
    out = {"good": good}
    for name, bad_key in (("nan_start", key + "#abc"), ("neg_start", key + "#-3"), ("far_start", key + "#100000")):
        out[name] = d / f"labels_{name}.json"
        out[name].write_text(json.dumps({bad_key: label}))
    out["ids"] = d / "labels_ids.json"
    out["ids"].write_text(json.dumps({key: {"gazing_pos": [[10**9]] * 4, "task_losses": [[0.1]] * 4}}))
    return out


def cases(d: Path, f: dict[str, Path], lab: dict[str, Path]) -> list[Case]:
    o = d / "out"
    v, npy = str(f["mp4"]), str(f["npy"])
    tiny = ["--mllm", "tiny-random-smolvlm2", "--frames", "2", "--max-new-tokens", "2", "--device", "cpu"]
    c = [
        # gaze
        Case("gaze ok", ["gaze", v, "--frames", "4", "--out", str(o / "g1")], "ok"),
        Case("gaze sparse AVI", ["gaze", str(f["sparse_avi"]), "--frames", "8", "--out", str(o / "g2")], "ok"),
        Case(
            "gaze sparse AVI all frames tiled",
            ["gaze", str(f["sparse_avi"]), "--frames", "all", "--tile", "64", "--out", str(o / "g3")],
            "ok",
        ),
        Case("gaze empty file", ["gaze", str(f["empty"]), "--out", str(o / "g4")], "refuse", o / "g4"),
        Case("gaze text as mp4", ["gaze", str(f["text"]), "--out", str(o / "g5")], "refuse", o / "g5"),
        Case("gaze png as mp4", ["gaze", str(f["png"]), "--out", str(o / "g6")], "refuse", o / "g6"),
        Case("gaze truncated mp4", ["gaze", str(f["half"]), "--out", str(o / "g7")], "refuse", o / "g7"),
        Case("gaze missing", ["gaze", str(d / "nope.mp4"), "--out", str(o / "g8")], "refuse", o / "g8"),
        Case("gaze folder as video", ["gaze", str(d), "--out", str(o / "g9")], "refuse", o / "g9"),
        Case("gaze threshold 99", ["gaze", v, "--threshold", "99", "--out", str(o / "g10")], "refuse", o / "g10"),
        Case("gaze threshold nan", ["gaze", v, "--threshold", "nan", "--out", str(o / "g11")], "refuse", o / "g11"),
        Case("gaze ratio -1", ["gaze", v, "--gazing-ratio", "-1", "--out", str(o / "g12")], "refuse", o / "g12"),
        Case("gaze frames 0", ["gaze", v, "--frames", "0", "--out", str(o / "g13")], "refuse", o / "g13"),
        Case("gaze frames 10^9", ["gaze", v, "--frames", "1000000000", "--out", str(o / "g14")], "ok"),
        Case("gaze tile -5", ["gaze", v, "--tile", "-5", "--out", str(o / "g15")], "refuse", o / "g15"),
        Case("gaze out is a file", ["gaze", v, "--out", str(f["npy"])], "refuse"),
        Case("gaze out under a file", ["gaze", v, "--out", str(f["npy"]) + "/x"], "refuse"),
        Case("gaze unknown gazer", ["gaze", v, "--gazer", "nope", "--out", str(o / "g16")], "refuse", o / "g16"),
        Case(
            "gaze deep config as gazer",
            ["gaze", v, "--gazer", str(f["deep"]), "--out", str(o / "g17")],
            "refuse",
            o / "g17",
        ),
        Case(
            "gaze old hub id offline",
            ["gaze", v, "--gazer", "bfshi/AutoGaze", "--out", str(o / "g18")],
            "refuse",
            o / "g18",
            message="nvidia/AutoGaze",
            env={"HF_HUB_OFFLINE": "1"},
        ),
        Case("gaze fps 0 (= uniform, as the app)", ["gaze", v, "--fps", "0", "--out", str(o / "g19")], "ok"),
        Case("gaze fps -1", ["gaze", v, "--fps", "-1", "--out", str(o / "g19b")], "refuse", o / "g19b"),
        Case("gaze start past end", ["gaze", v, "--start", "1000", "--out", str(o / "g20")], "refuse", o / "g20"),
        Case("gaze npy", ["gaze", npy, "--out", str(o / "g21")], "ok"),
        # ask
        Case("ask ok", ["ask", v, "Q?", *tiny], "ok"),
        Case("ask json in a new folder", ["ask", v, "Q?", *tiny, "--json", str(o / "new" / "a.json")], "ok"),
        Case("ask json under a file", ["ask", v, "Q?", *tiny, "--json", npy + "/a.json"], "refuse"),
        Case("ask max tokens 10^9", ["ask", v, "Q?", *tiny[:4], "--max-new-tokens", "1000000000"], "refuse"),
        Case("ask 5 MB question", ["ask", v, "Q" * 100_000, *tiny], "refuse"),
        Case("ask empty question", ["ask", v, "  ", *tiny], "refuse"),
        Case("ask remote code refused", ["ask", v, "Q?", "--mllm", "nvidia/NVILA-8B-HD-Video"], "refuse"),
        Case("ask missing model", ["ask", v, "Q?", "--mllm", str(d / "nomodel")], "refuse"),
        # labels
        Case(
            "labels ok",
            ["labels", str(f["videos"]), "--out", str(o / "l1.json"), "--clip-len", "4", "--size", "64", "--quiet"],
            "ok",
        ),
        Case(
            "labels only unreadable",
            ["labels", str(f["empty"]), "--out", str(o / "l2.json"), "--quiet"],
            "refuse",
            o / "l2.json",
        ),
        Case(
            "labels existing deep out",
            ["labels", str(f["videos"]), "--out", str(d / "deep_labels.json"), "--quiet"],
            "refuse",
        ),
        Case(
            "labels no videos",
            ["labels", str(d / "nothing"), "--out", str(o / "l3.json"), "--quiet"],
            "refuse",
            o / "l3.json",
        ),
        # train
        *[
            Case(
                f"train ntp labels {k}",
                [
                    "train",
                    "ntp",
                    "--labels",
                    str(lab[k]),
                    "--videos",
                    str(f["videos"]),
                    "--config",
                    "micro",
                    "--out",
                    str(o / f"t_{k}"),
                    "--steps",
                    "1",
                    "--size",
                    "64",
                    "--quiet",
                ],
                "refuse",
                o / f"t_{k}",
            )
            for k in ("nan_start", "neg_start", "far_start", "ids")
        ],
        Case(
            "train ntp deep labels",
            [
                "train",
                "ntp",
                "--labels",
                str(d / "deep_labels.json"),
                "--videos",
                str(f["videos"]),
                "--out",
                str(o / "t1"),
                "--quiet",
            ],
            "refuse",
            o / "t1",
        ),
        Case(
            "train ntp deep config",
            [
                "train",
                "ntp",
                "--labels",
                str(lab["good"]),
                "--videos",
                str(f["videos"]),
                "--config",
                str(d / "deep_config.json"),
                "--out",
                str(o / "t2"),
                "--quiet",
            ],
            "refuse",
            o / "t2",
        ),
        Case(
            "train ntp hidden 10^9",
            [
                "train",
                "ntp",
                "--labels",
                str(lab["good"]),
                "--videos",
                str(f["videos"]),
                "--config",
                str(f["big_config"]),
                "--out",
                str(o / "t3"),
                "--quiet",
            ],
            "refuse",
            o / "t3",
        ),
        Case(
            "train ntp 10^6 layers",
            [
                "train",
                "ntp",
                "--labels",
                str(lab["good"]),
                "--videos",
                str(f["videos"]),
                "--config",
                str(f["many_layers"]),
                "--out",
                str(o / "t4"),
                "--quiet",
            ],
            "refuse",
            o / "t4",
        ),
        Case(
            "train ntp batch 10^6",
            [
                "train",
                "ntp",
                "--labels",
                str(lab["good"]),
                "--videos",
                str(f["videos"]),
                "--config",
                "micro",
                "--batch-size",
                "1000000",
                "--steps",
                "1",
                "--size",
                "64",
                "--out",
                str(o / "t5"),
                "--quiet",
            ],
            "ok",
        ),
        Case(
            "train ntp lr 1e38",
            [
                "train",
                "ntp",
                "--labels",
                str(lab["good"]),
                "--videos",
                str(f["videos"]),
                "--config",
                "micro",
                "--lr",
                "1e38",
                "--out",
                str(o / "t6"),
                "--quiet",
            ],
            "refuse",
            o / "t6",
        ),
        Case(
            "train ntp lr nan",
            [
                "train",
                "ntp",
                "--labels",
                str(lab["good"]),
                "--videos",
                str(f["videos"]),
                "--config",
                "micro",
                "--lr",
                "nan",
                "--out",
                str(o / "t7"),
                "--quiet",
            ],
            "refuse",
            o / "t7",
        ),
        Case(
            "train ntp diverges",
            [
                "train",
                "ntp",
                "--labels",
                str(lab["good"]),
                "--videos",
                str(f["videos"]),
                "--config",
                "micro",
                "--lr",
                "1000",
                "--steps",
                "6",
                "--size",
                "64",
                "--out",
                str(o / "t8"),
                "--quiet",
            ],
            "refuse",
            o / "t8",
        ),
        Case("train resume not a run", ["train", "ntp", "--resume", str(d)], "refuse"),
        Case(
            "train grpo no init",
            ["train", "grpo", "--videos", str(f["videos"]), "--out", str(o / "t9"), "--quiet"],
            "refuse",
            o / "t9",
        ),
        Case(
            "train grpo temperature nan",
            [
                "train",
                "grpo",
                "--videos",
                str(f["videos"]),
                "--init",
                "autogaze-playground",
                "--temperature",
                "nan",
                "1",
                "--out",
                str(o / "t10"),
                "--quiet",
            ],
            "refuse",
            o / "t10",
        ),
        # gaze-dataset
        Case("dataset ok", ["gaze-dataset", str(f["videos"]), "--out", str(o / "d1"), "--quiet"], "ok"),
        Case("dataset sparse AVI", ["gaze-dataset", str(f["sparse_avi"]), "--out", str(o / "d2"), "--quiet"], "ok"),
        Case(
            "dataset no inputs",
            ["gaze-dataset", str(d / "nothing"), "--out", str(o / "d3"), "--quiet"],
            "refuse",
            o / "d3",
        ),
        Case(
            "dataset deep manifest on resume",
            ["gaze-dataset", str(f["videos"]), "--out", str(d / "deepds"), "--quiet"],
            "refuse",
        ),
        # eval
        Case(
            "eval deep question file",
            ["eval", str(f["deep"]), "--videos", str(d), "--out", str(o / "e1"), *tiny[:2]],
            "refuse",
            o / "e1",
        ),
        Case("eval not JSON", ["eval", str(f["notjson"]), "--out", str(o / "e2"), *tiny[:2]], "refuse", o / "e2"),
        Case("eval binary JSON", ["eval", str(f["binary"]), "--out", str(o / "e3"), *tiny[:2]], "refuse", o / "e3"),
        Case(
            "eval max tokens 10^9",
            ["eval", str(f["deep"]), "--out", str(o / "e4"), "--max-new-tokens", "1000000000"],
            "refuse",
            o / "e4",
        ),
        # evaluate-gazer, convert
        Case(
            "evaluate-gazer unknown",
            ["evaluate-gazer", "nope", "--videos", str(f["videos"]), "--out", str(o / "v1")],
            "refuse",
            o / "v1",
        ),
        Case(
            "convert not a checkpoint",
            ["convert-videomae", str(f["text"]), str(o / "c.safetensors")],
            "refuse",
            o / "c.safetensors",
        ),
        Case("convert deep dir dst", ["convert-videomae", str(f["text"]), npy + "/c.safetensors"], "refuse"),
        # the API
        Case(
            "API broadcast 100000 frames",
            api("""
import numpy as np, playground
v = np.broadcast_to(np.zeros((1, 64, 64, 3), np.uint8), (100000, 64, 64, 3))
playground.load_gazer('greedy').gaze(v, gazing_ratio=0.1)"""),
            "refuse",
            api=True,
        ),
        Case(
            "API 16 frames of 8192^2",
            api("""
import numpy as np, playground
v = np.broadcast_to(np.zeros((1, 1, 1, 3), np.uint8), (16, 8192, 8192, 3))
playground.load_gazer('greedy').gaze(v, gazing_ratio=0.1)"""),
            "refuse",
            api=True,
        ),
        Case(
            "API batch of 64 1080p clips",
            api("""
import numpy as np, playground
v = np.broadcast_to(np.zeros((1, 1, 1, 1, 3), np.uint8), (64, 16, 1080, 1920, 3))
playground.load_gazer('autogaze-playground').gaze(v, gazing_ratio=0.1)"""),
            "refuse",
            api=True,
        ),
        Case(
            "API framediff 4096 frames",
            api("""
import numpy as np, playground
v = np.broadcast_to(np.zeros((1, 224, 224, 3), np.uint8), (4096, 224, 224, 3))
playground.load_gazer('framediff').gaze(v, gazing_ratio=0.1)"""),
            "refuse",
            api=True,
        ),
        Case(
            "API float array",
            api("""
import numpy as np, playground
playground.load_gazer('greedy').gaze(np.zeros((4, 64, 64, 3), np.float32))"""),
            "refuse",
            api=True,
        ),
        Case(
            "API wrong shape",
            api("""
import numpy as np, playground
playground.load_gazer('greedy').gaze(np.zeros((4, 64, 64), np.uint8))"""),
            "refuse",
            api=True,
        ),
        Case(
            "API gaze file deep",
            api(f"""
import playground
playground.GazeResult.from_json({str(f["deep"])!r})"""),
            "refuse",
            api=True,
        ),
        Case(
            "API reconstruct mismatched gaze",
            api("""
import numpy as np, playground
g = playground.load_gazer('random').gaze(np.zeros((4, 64, 64, 3), np.uint8), gazing_ratio=0.1)
playground.load_reconstructor('paint').reconstruct(np.zeros((2, 64, 64, 3), np.uint8), g)"""),
            "refuse",
            api=True,
        ),
        Case(
            "API answer 10^9 tokens",
            api("""
import numpy as np, playground
playground.load_mllm('tiny-random-smolvlm2').answer(np.zeros((2, 64, 64, 3), np.uint8), 'Q?', max_new_tokens=10**9)"""),
            "refuse",
            api=True,
        ),
        Case("app gaze ok", app(f"gaze_action({v!r}, num_frames=4)"), "ok", api=True),
        Case("app gaze sparse AVI", app(f"gaze_action({str(f['sparse_avi'])!r}, num_frames=8)"), "ok", api=True),
        Case(
            "app gaze tiled sparse AVI",
            app(f"gaze_action({str(f['sparse_avi'])!r}, num_frames=4, tile=64)"),
            "ok",
            api=True,
        ),
        Case("app gaze empty file", app(f"gaze_action({str(f['empty'])!r})"), "refuse", api=True),
        Case("app gaze text as mp4", app(f"gaze_action({str(f['text'])!r})"), "refuse", api=True),
        Case("app gaze png", app(f"gaze_action({str(f['png'])!r})"), "refuse", api=True),
        Case("app gaze threshold 99", app(f"gaze_action({v!r}, threshold=99)"), "refuse", api=True),
        Case("app gaze threshold 1e9", app(f"gaze_action({v!r}, threshold=1e9)"), "refuse", api=True),
        Case("app gaze tile -5", app(f"gaze_action({v!r}, tile=-5)"), "refuse", api=True),
        Case("app gaze frames 10^9", app(f"gaze_action({v!r}, num_frames=10**9)"), "refuse", api=True),
        Case("app gaze unknown gazer", app(f"gaze_action({v!r}, gazer='nope')"), "refuse", api=True),
        Case("app gaze no video", app("gaze_action(None)"), "refuse", api=True),
        Case(
            "app ask 5 MB question",
            app(f"ask_action({v!r}, 'Q' * 5_000_000, mllm='tiny-random-smolvlm2')"),
            "refuse",
            api=True,
        ),
        Case(
            "app ask 10^9 tokens",
            app(f"ask_action({v!r}, 'Q?', mllm='tiny-random-smolvlm2', max_new_tokens=10**9)"),
            "refuse",
            api=True,
        ),
        Case("app compare ratio 5", app(f"compare_action({v!r}, ratio=5)"), "refuse", api=True),
        Case(
            "API threshold as text",
            api("""
import numpy as np, playground
playground.load_gazer('greedy').gaze(np.zeros((4, 64, 64, 3), np.uint8), task_loss_requirement='abc')"""),
            "refuse",
            api=True,
        ),
    ]
    return c


def prepare_resumables(d: Path, f: dict[str, Path]) -> None:
    """The folders some cases resume: a dataset whose manifest is deep."""
    shutil.rmtree(d / "deepds", ignore_errors=True)
    subprocess.run(
        [PY, "-m", "playground", "gaze-dataset", str(f["videos"]), "--out", str(d / "deepds"), "--quiet"],
        check=True,
        capture_output=True,
        cwd=d,
    )
    (d / "deepds" / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)


def run_case(case: Case, cwd: Path, timeout: float) -> dict:
    cmd = [PY, *case.argv] if case.api else [PY, "-m", "playground", *case.argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **case.env}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
        hung = False
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                hung = True
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return {
        "rc": proc.returncode,
        "stderr": stderr,
        "seconds": time.perf_counter() - start,
        "hung": hung,
        "rss_mib": usage.ru_maxrss / 1024,
    }


def judge(case: Case, r: dict, max_rss: float) -> list[str]:
    problems = []
    if r["hung"]:
        problems.append("hang")
    if "Traceback" in r["stderr"]:
        problems.append("traceback")
    if r["rss_mib"] > max_rss:
        problems.append(f"rss {r['rss_mib']:.0f} MiB")
    errors = [line for line in r["stderr"].splitlines() if line.startswith("error:")]
    if case.expect == "ok" and r["rc"] != 0:
        problems.append(f"exit {r['rc']}")
    if case.expect == "refuse":
        if r["rc"] != 2:
            problems.append(f"exit {r['rc']}")
        if len(errors) != 1:
            problems.append(f"{len(errors)} error lines")
        elif case.message not in errors[0]:
            problems.append(f"message lacks {case.message!r}")
        if case.out is not None and case.out.exists():
            problems.append("leftover")
    return problems


def kill_and_resume(d: Path, f: dict[str, Path], timeout: float) -> list[tuple[str, list[str], float]]:
    """SIGKILL a resumable job mid-run, resume it, compare with a run that was never killed."""
    import numpy as np

    from playground.video import write_video

    many = d / "many" / "set" / "train"
    for i in range(6):
        rng = np.random.default_rng(i)
        write_video(
            many / f"v{i}.mp4", rng.integers(0, 256, (16, 64, 64, 3), dtype=np.uint8), fps=8, preset="ultrafast"
        )
    jobs = {
        "gaze-dataset": lambda out: [
            "gaze-dataset",
            str(d / "many"),
            "--out",
            str(out),
            "--shard-clips",
            "1",
            "--quiet",
        ],
        "labels": lambda out: [
            "labels",
            str(d / "many"),
            "--out",
            str(out / "labels.json"),
            "--clip-len",
            "4",
            "--size",
            "64",
            "--quiet",
        ],
        "eval": lambda out: [
            "eval",
            str(questions),
            "--videos",
            str(ROOT / "assets"),
            "--out",
            str(out),
            "--mllm",
            "tiny-random-smolvlm2",
            "--frames",
            "2",
            "--max-new-tokens",
            "2",
            "--device",
            "cpu",
            "--quiet",
        ],
    }
    from playground.evaluation import example_rows, write_rows

    questions = write_rows(example_rows("hlvid", 12), d / "questions.jsonl")
    rows = []
    for name, argv in jobs.items():
        start = time.perf_counter()
        clean, killed = d / f"{name}-clean", d / f"{name}-killed"
        for folder in (clean, killed):
            shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([PY, "-m", "playground", *argv(clean)], check=True, capture_output=True, cwd=d)
        proc = subprocess.Popen(
            [PY, "-m", "playground", *argv(killed)],
            cwd=d,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_progress(killed, timeout)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        resumed = subprocess.run(
            [PY, "-m", "playground", *argv(killed)], capture_output=True, text=True, cwd=d, timeout=timeout
        )
        problems = [] if resumed.returncode == 0 else [f"resume exit {resumed.returncode}"]
        if "Traceback" in resumed.stderr:
            problems.append("traceback")
        a, b = _records(name, clean), _records(name, killed)
        if sorted(a) != sorted(b):
            problems.append(f"records differ: {len(a)} clean, {len(b)} after kill+resume")
        rows.append((f"SIGKILL + resume {name}", problems, time.perf_counter() - start))
    return rows


def _wait_for_progress(out: Path, timeout: float) -> None:
    """Until the job has written something (a shard, a labels file) or the time is up."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if out.exists() and any(
            p.suffix in (".parquet", ".json") or (p.suffix == ".jsonl" and p.stat().st_size)
            for p in out.rglob("*")
            if p.name != "run.json"
        ):
            return
        time.sleep(0.02)


def _records(name: str, out: Path) -> list[str]:
    if name == "labels":
        return list(json.loads((out / "labels.json").read_text()))
    if name == "eval":
        return [json.loads(line)["question_id"] for line in (out / "records.jsonl").read_text().splitlines()]
    import pyarrow.parquet as pq

    keys = []
    for shard in sorted(out.rglob("*.parquet")):
        table = pq.read_table(shard)
        keys += [f"{r['video_path']}#{r['clip_start']}#{r.get('tile')}" for r in table.to_pylist()]
    return keys


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="run the cases whose name contains this")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds before a case counts as a hang")
    p.add_argument("--max-rss", type=float, default=3072.0, help="MiB one process may reach")
    p.add_argument("--keep", default=None, help="make the inputs in this folder and keep it")
    args = p.parse_args()
    d = Path(args.keep or tempfile.mkdtemp(prefix="bad-inputs-"))
    d.mkdir(parents=True, exist_ok=True)
    f = make_inputs(d)
    lab = labels_for(d, f)
    prepare_resumables(d, f)
    counts = {"cases": 0, "failed": 0, "traceback": 0, "hang": 0, "rss": 0, "leftover": 0}
    print(f"{'case':44s} {'want':7s} {'rc':>3s} {'s':>6s} {'MiB':>6s}  verdict")
    for case in cases(d, f, lab):
        if args.only and args.only not in case.name:
            continue
        r = run_case(case, d, args.timeout)
        problems = judge(case, r, args.max_rss)
        _count(counts, problems)
        first = next((line for line in r["stderr"].splitlines() if line.startswith("error:")), "")
        print(
            f"{case.name:44s} {case.expect:7s} {r['rc']:3d} {r['seconds']:6.1f} {r['rss_mib']:6.0f}  "
            f"{'FAIL: ' + ', '.join(problems) if problems else 'pass'}  {first[:110]}",
            flush=True,
        )
        if problems and "traceback" in problems:
            print("    " + r["stderr"].strip().splitlines()[-1][:200])
    if not args.only or "SIGKILL" in args.only:
        for name, problems, seconds in kill_and_resume(d, f, args.timeout):
            _count(counts, problems)
            print(
                f"{name:44s} {'ok':7s} {'':>3s} {seconds:6.1f} {'':>6s}  "
                f"{'FAIL: ' + ', '.join(problems) if problems else 'pass'}",
                flush=True,
            )
    print(
        f"\n{counts['cases']} cases: {counts['cases'] - counts['failed']} passed, {counts['failed']} failed; "
        f"{counts['traceback']} tracebacks, {counts['hang']} hangs, {counts['rss']} over the memory limit, "
        f"{counts['leftover']} leftovers"
    )
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)
    return 1 if counts["failed"] else 0


def _count(counts: dict, problems: list[str]) -> None:
    counts["cases"] += 1
    counts["failed"] += bool(problems)
    for key in ("traceback", "hang", "rss", "leftover"):
        counts[key] += any(p.startswith(key) for p in problems)


if __name__ == "__main__":
    sys.exit(main())
