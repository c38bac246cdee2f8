"""Is one request's memory bounded whatever the video's resolution or length? Peak RSS per clip and entry point.

    .venv/bin/python benchmarks/decode_memory.py [--clips 8k 4k long] [--entries api cli app api-max cli-max] [--keep DIR]

Makes three clips with the ffmpeg binary of imageio-ffmpeg (testsrc2, libx264 -preset ultrafast, in a
temporary folder, or in --keep DIR and reused from there):

    8k    7680x4320, 30 fps, 1 s (30 frames)
    4k    3840x2160, 30 fps, 10 s (300 frames)
    long  64x64, 25 fps, 2 hours (180,000 frames; --long-fps lowers the rate if encoding takes too long)

then runs one request per clip and entry point, each in a fresh Python under `/usr/bin/time -v`:

    api   playground.load_gazer("greedy").gaze(CLIP)             (every default: a path reads every frame)
    cli   python -m playground gaze CLIP --out TMP                (every default: 16 frames at 480 px)
    app   playground.app.pipeline.run(CLIP, RunSettings(), Limits.from_env())   (read, gaze, rebuild)

and, to show the worst case each limit lets through, the largest request the defaults accept:

    api-max   gaze(playground.as_clips(CLIP, num_frames=N), gazing_ratio=0.1), N the most frames the API's
              default limits accept (MAX_READ_FRAMES, MAX_DECODE_PIXELS at the 480 px read size; the budget
              only keeps the greedy gazer quick, its memory does not depend on it)
    cli-max   python -m playground gaze CLIP --frames N, N the most the CLI's default limits accept
              (--max-frames, --max-pixels)

It prints a table of peak RSS (MiB, GNU time's "Maximum resident set size": the largest single process)
and the peak of the whole process tree (the Python plus any ffmpeg it starts, summed, sampled every
50 ms), wall seconds and the outcome (ok, or the one-line refusal of a limit), with pass/fail against
1.5 GiB. A refusal passes when it is one line (it is what the limits are for). Making the clips takes
about 30 s on 2 cores, the requests a few minutes.

Needs GNU time at /usr/bin/time (`apt-get install -y time` on Debian/Ubuntu, as root).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GNU_TIME = Path("/usr/bin/time")
BUDGET_MIB = 1.5 * 1024
CLIPS = {  # name -> (size, fps, seconds)
    "8k": ("7680x4320", 30, 1),
    "4k": ("3840x2160", 30, 10),
    "long": ("64x64", 25, 7200),
}
ENTRIES = {
    "api": "from playground import load_gazer\nload_gazer('greedy').gaze(CLIP)",
    "cli": None,  # python -m playground gaze CLIP --out TMP
    "app": "from playground.app import pipeline\nfrom playground.app.limits import Limits\n"
    "run = pipeline.run(CLIP, pipeline.RunSettings(), Limits.from_env())\n"
    "print('frames', run.clip.frames.shape)",
    "api-max": "from playground import as_clips, load_gazer\n"
    "load_gazer('greedy').gaze(as_clips(CLIP, num_frames=int(sys.argv[2])), gazing_ratio=0.1)",
    "cli-max": None,  # python -m playground gaze CLIP --frames N --out TMP
}
# A driver for the api and app entries: a PlaygroundError is the one-line refusal, exit status 2 (as the CLI).
DRIVER = """import sys
from playground import PlaygroundError
CLIP = sys.argv[1]
try:
{body}
except PlaygroundError as exc:
    print(f"error: {{exc}}", file=sys.stderr)
    sys.exit(2)
"""


def make_clips(folder: Path, names: list[str], long_fps: int) -> dict[str, Path]:
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    paths = {}
    for name in names:
        size, fps, seconds = CLIPS[name]
        fps = long_fps if name == "long" else fps
        path = folder / f"{name}_{size}_{fps}fps_{seconds}s.mp4"
        if not path.exists():
            start = time.perf_counter()
            tmp = path.with_suffix(".part.mp4")
            subprocess.run(
                [
                    ffmpeg,
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    f"testsrc2=size={size}:rate={fps}",
                    "-t",
                    str(seconds),
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-pix_fmt",
                    "yuv420p",
                    str(tmp),
                ],
                check=True,
            )
            tmp.rename(path)
            print(
                f"made {path.name} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f} s",
                flush=True,
            )
        paths[name] = path
    return paths


def tree_rss_mib(root: int) -> float:
    """Summed resident memory (MiB) of process `root` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total / 2**20


def measure(command: list[str], env: dict[str, str]) -> dict:
    """Run `command` under GNU time; its peak RSS, the process tree's sampled peak, seconds and the outcome."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(GNU_TIME), "-v", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    peak = [0.0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_mib(process.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    status = re.search(r"Exit status: (\d+)", err)
    lines = [
        line.strip()
        for line in err.splitlines()
        if line.strip() and not line.startswith("Command exited with non-zero status")
    ]
    program_err = [
        line
        for line in lines[: next((i for i, l in enumerate(lines) if l.startswith("Command being timed")), len(lines))]
    ]
    code = int(status.group(1)) if status else process.returncode
    if code == 0:
        outcome = "ok"
    elif code == 2 and program_err and program_err[-1].startswith("error:"):
        outcome = "refused: " + program_err[-1][len("error:") :].strip()
    else:
        outcome = f"FAILED (exit {code}): " + (program_err[-1] if program_err else "")
    return {
        "rss": int(match.group(1)) / 1024 if match else float("nan"),
        "tree": peak[0],
        "seconds": seconds,
        "code": code,
        "outcome": outcome,
        "one_line": len(program_err) <= 1 or code == 0,
    }


def largest_accepted(path: Path) -> tuple[int, int]:
    """The most frames of `path` the API's and the CLI's default read limits accept (at the default read size)."""
    sys.path.insert(0, str(ROOT))
    from playground import video
    from playground.cli import build_parser

    info = video.probe_video(path)
    _, height, width, _ = video.read_video(path, num_frames=1).shape
    cli = build_parser().parse_args(["gaze", str(path)])
    api_n = min(info.num_frames, video.MAX_READ_FRAMES, video.MAX_DECODE_PIXELS // (height * width))
    cli_n = min(info.num_frames, cli.max_frames, cli.max_pixels // (height * width))
    return api_n, cli_n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="*", choices=sorted(CLIPS), default=list(CLIPS))
    parser.add_argument("--entries", nargs="*", choices=sorted(ENTRIES), default=list(ENTRIES))
    parser.add_argument("--keep", type=Path, default=None, help="make (or reuse) the clips in this folder")
    parser.add_argument("--long-fps", type=int, default=CLIPS["long"][1], help="frame rate of the 2-hour clip")
    args = parser.parse_args()
    if not GNU_TIME.exists():
        sys.exit(
            f"{GNU_TIME} not found: this benchmark needs GNU time (as root on Debian/Ubuntu: apt-get install -y time)"
        )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory(prefix="decode_memory_") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        clips = make_clips(folder, args.clips, args.long_fps)
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        print(
            f"\nmachine: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}; budget {BUDGET_MIB:.0f} MiB\n"
        )
        print("| clip | entry | peak RSS MiB (time -v) | tree peak MiB | seconds | outcome | pass |")
        print("|---|---|---:|---:|---:|---|---|")
        failures = 0
        for name, path in clips.items():
            api_n, cli_n = largest_accepted(path)
            for entry in args.entries:
                label = entry + {"api-max": f" ({api_n} frames)", "cli-max": f" ({cli_n} frames)"}.get(entry, "")
                if entry in ("cli", "cli-max"):
                    command = [
                        sys.executable,
                        "-m",
                        "playground",
                        "gaze",
                        str(path),
                        "--out",
                        str(Path(scratch) / f"out_{name}_{entry}"),
                    ]
                    command += ["--frames", str(cli_n)] if entry == "cli-max" else []
                else:
                    body = "\n".join("    " + line for line in ENTRIES[entry].splitlines())
                    command = [sys.executable, "-c", DRIVER.format(body=body), str(path), str(api_n)]
                result = measure(command, env)
                ok = (
                    result["rss"] <= BUDGET_MIB
                    and result["tree"] <= BUDGET_MIB
                    and result["one_line"]
                    and not result["outcome"].startswith("FAILED")
                )
                failures += not ok
                outcome = result["outcome"] if len(result["outcome"]) <= 160 else result["outcome"][:157] + "..."
                print(
                    f"| {name} | {label} | {result['rss']:.0f} | {result['tree']:.0f} | {result['seconds']:.1f} | "
                    f"{outcome} | {'pass' if ok else 'FAIL'} |",
                    flush=True,
                )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
