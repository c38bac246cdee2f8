"""How long the CLI takes where it should take no time (issue 16): `python -m playground --help`, and a
`gaze-dataset` resume with nothing left to do (local engine and --ray), each in a fresh process.

    .venv/bin/python benchmarks/cli_speed.py [--videos N] [--repeats R]

Makes N copies of the example clip in a scratch folder, gazes them once (greedy, first clips), then
times the no-op resumes. Prints the machine's CPU, then one line per measurement: the best and the
median wall time of R runs, and what the run itself reported (gaze-dataset's own seconds).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "assets" / "bigbuckbunny_clip.mp4"


def cpu_name() -> str:
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout.splitlines()
        return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name")), "unknown")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def timed(argv: list[str]) -> tuple[float, str]:
    """Wall seconds of `python -m playground ARGV` in a fresh process, and its stdout."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "playground", *argv], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"python -m playground {' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    return seconds, done.stdout


def report(label: str, runs: list[tuple[float, str]]) -> None:
    walls = [s for s, _ in runs]
    own = re.findall(r"; ([0-9.]+) s$", runs[-1][1].strip())
    inner = f"; the run's own seconds: {own[-1]} s" if own else ""
    print(f"{label:<44} best {min(walls):.2f} s, median {statistics.median(walls):.2f} s over {len(walls)}{inner}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=50, help="videos in the resumed dataset (default 50)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement (default 3)")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}  python {sys.version.split()[0]}")
    report("python -m playground --help", [timed(["--help"]) for _ in range(args.repeats)])
    report("python -m playground gaze --help", [timed(["gaze", "--help"]) for _ in range(args.repeats)])
    scratch = Path(tempfile.mkdtemp(prefix="cli-speed-"))
    try:
        videos = scratch / "videos"
        videos.mkdir()
        for i in range(args.videos):
            shutil.copyfile(EXAMPLE, videos / f"v{i:04d}.mp4")
        base = ["gaze-dataset", str(videos), "--out", str(scratch / "ds"), "--quiet"]
        first, _ = timed(base)
        print(f"{'first run (' + str(args.videos) + ' clips gazed)':<44} {first:.2f} s")
        report(f"no-op resume, {args.videos} videos, local", [timed(base) for _ in range(args.repeats)])
        try:
            import ray  # noqa: F401
        except ImportError:
            print("no-op resume with --ray: skipped (Ray not installed)")
        else:
            report(f"no-op resume, {args.videos} videos, --ray", [timed(base + ["--ray"]) for _ in range(args.repeats)])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
