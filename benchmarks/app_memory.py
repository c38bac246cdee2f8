"""Does the app's memory stay bounded over many requests? RSS of the server after 20 and after N `/gaze` calls.

    .venv/bin/python benchmarks/app_memory.py [--requests 200] [--frames 8] [--per-session 2] [--budget-mb 300]

Starts `python app.py` as a subprocess on a free port of 127.0.0.1 (`server.app_process`) and drives `/gaze` with gradio_client the way many users would: a new client (a new
session, with its own `gr.State`) every `--per-session` requests, both example clips, several frame
counts and start times (more clips than the frame cache holds), and a different gazer, threshold and
ratio on every call (so the gaze and rebuild caches fill). The client leaves result files on the server,
as a page that only streams what it shows. The server's resident memory (VmRSS) is sampled after each
request; the script prints it every 20 requests and passes when RSS after N requests is within
`--budget-mb` of RSS after 20 (the warmed-up app).

It takes 4-7 minutes for 200 requests of 8 frames on 2 cores shared with other work (each request
decodes, gazes, rebuilds and encodes three small MP4s); `--frames 16 --per-session 1` about 10.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIPS = [ROOT / "assets" / "bigbuckbunny_clip.mp4", ROOT / "assets" / "synthetic_square.mp4"]
GAZERS = ["greedy", "framediff", "random", "full"]


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MiB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def request_args(i: int, frames: int, rng: random.Random) -> tuple:
    """The i-th request's inputs: clip, frames, fps, start, gazer, reconstructor, threshold, ratio."""
    clip = CLIPS[(i // 3) % len(CLIPS)]
    num_frames = max(1, frames - 2 * (i % 3))
    start = 0.2 * ((i // 2) % 4)
    return (
        str(clip),
        num_frames,
        0,
        start,
        GAZERS[i % len(GAZERS)],
        "paint",
        round(rng.uniform(0.05, 0.6), 3),
        round(rng.uniform(0.1, 0.9), 2),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--frames", type=int, default=8, help="frames per request (varied down by 0, 2, 4)")
    parser.add_argument("--per-session", type=int, default=2, help="requests per client (session)")
    parser.add_argument("--budget-mb", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    check_at = min(20, args.requests)

    from gradio_client import Client, handle_file

    from playground.app.server import app_process

    rng = random.Random(args.seed)
    samples: dict[int, float] = {}
    started = time.perf_counter()
    with app_process() as (server, url):  # stopped with SIGTERM afterwards
        samples[0] = rss_mb(server.pid)
        client = None
        for i in range(args.requests):
            if i % args.per_session == 0:
                if client is not None:
                    client.close()
                client = Client(url, verbose=False, download_files=False)
            video, *knobs = request_args(i, args.frames, rng)
            client.predict(handle_file(video), *knobs, api_name="/gaze")
            samples[i + 1] = rss_mb(server.pid)
            if (i + 1) % 20 == 0 or i + 1 == args.requests:
                print(
                    f"after {i + 1:4d} requests: RSS {samples[i + 1]:7.0f} MiB  "
                    f"({time.perf_counter() - started:5.0f} s)",
                    flush=True,
                )
        if client is not None:
            client.close()
        stopping = time.perf_counter()
    print(f"server stopped (SIGTERM) with status {server.returncode} in {time.perf_counter() - stopping:.1f} s")
    growth = samples[args.requests] - samples[check_at]
    verdict = "PASS" if growth <= args.budget_mb else "FAIL"
    print(
        f"app memory: {args.requests} /gaze requests of <= {args.frames} frames, {args.per_session} per session, "
        f"{os.cpu_count()} CPU cores, {time.perf_counter() - started:.0f} s"
    )
    print(
        f"RSS at start {samples[0]:.0f} MiB, after {check_at} {samples[check_at]:.0f} MiB, after {args.requests} "
        f"{samples[args.requests]:.0f} MiB, peak {max(samples.values()):.0f} MiB"
    )
    print(f"growth after {check_at}: {growth:+.0f} MiB (budget {args.budget_mb:.0f} MiB): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
