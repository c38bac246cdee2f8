"""How long the CLI takes where it should take no time (issue 16): `python -m playground --help`, each
subcommand's `--help` (and each `train` method's), and a `gaze-dataset` resume with nothing left to do (local
engine and --ray), each in a fresh process.

    .venv/bin/python benchmarks/cli_speed.py [--videos N] [--repeats R] [--help-only]

`--help-only` times the `--help` lines alone. PLAYGROUND_ROOT=DIR times the checkout in DIR (e.g. a
`git worktree` of an older commit) with this script. Makes N copies of the example clip in a scratch folder, gazes them once (greedy, first clips), then
times the no-op resumes. Prints the machine's CPU, then one line per measurement: the best and the
median wall time of R runs, the median CPU seconds of the process (user + system: on a machine shared with
other jobs the wall time grows, the CPU time much less), and what the run itself reported (gaze-dataset's
own seconds).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(os.environ.get("PLAYGROUND_ROOT") or Path(__file__).resolve().parents[1])
EXAMPLE = ROOT / "assets" / "bigbuckbunny_clip.mp4"


def cpu_name() -> str:
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout.splitlines()
        return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name")), "unknown")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def timed(argv: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of `python -m playground ARGV` in a fresh process, and its stdout."""
    start, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run([sys.executable, "-m", "playground", *argv], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"python -m playground {' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    return seconds, children_cpu() - cpu, done.stdout


def report(label: str, runs: list[tuple[float, float, str]]) -> None:
    walls, cpus = [w for w, _, _ in runs], [c for _, c, _ in runs]
    own = re.findall(r"; ([0-9.]+) s$", runs[-1][2].strip())
    inner = f"; the run's own seconds: {own[-1]} s" if own else ""
    print(
        f"{label:<44} best {min(walls):.2f} s, median {statistics.median(walls):.2f} s over {len(walls)}, "
        f"CPU {statistics.median(cpus):.2f} s{inner}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=50, help="videos in the resumed dataset (default 50)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--help-only", action="store_true", help="time the --help lines only")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}  python {sys.version.split()[0]}  {ROOT}  1-min load average {os.getloadavg()[0]:.1f}")
    report("python -m playground --help", [timed(["--help"]) for _ in range(args.repeats)])
    sys.path.insert(0, str(ROOT))
    from playground.cli import COMMANDS
    from playground.training.methods import METHODS

    helps = [[command] for command in COMMANDS] + [["train", method] for method in METHODS]
    for words in helps:
        report(
            f"python -m playground {' '.join(words)} --help", [timed([*words, "--help"]) for _ in range(args.repeats)]
        )
    if args.help_only:
        return
    scratch = Path(tempfile.mkdtemp(prefix="cli-speed-"))
    try:
        videos = scratch / "videos"
        videos.mkdir()
        for i in range(args.videos):
            shutil.copyfile(EXAMPLE, videos / f"v{i:04d}.mp4")
        base = ["gaze-dataset", str(videos), "--out", str(scratch / "ds"), "--quiet"]
        first, _, _ = timed(base)
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
