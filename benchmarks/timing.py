"""What the benchmark scripts share: the median wall time of a call, after a warm-up; timing another
git revision of the playground (a scratch worktree, both sides run in alternating processes)."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of `repeats` calls of `fn`, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextlib.contextmanager
def scratch_worktree(repo: Path, rev: str, flag: str = "--against") -> Iterator[tuple[Path, str]]:
    """`rev` of `repo` checked out into a temporary `git worktree`, removed afterwards: (its folder, full sha)."""
    sha = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{rev}^{{commit}}"], capture_output=True, text=True
    )
    if sha.returncode != 0:
        raise SystemExit(f"{flag}: {rev!r} is not a commit of {repo}")
    sha = sha.stdout.strip()
    tree = Path(tempfile.mkdtemp(prefix=f"playground-against-{sha[:10]}-"))
    subprocess.run(
        ["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), sha], check=True, capture_output=True
    )
    try:
        yield tree, sha
    finally:  # the checkout is scratch: leave no worktree registered in the repository
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True)


def alternate(sides: dict[str, tuple[list[str], dict[str, str]]], rounds: int = 2) -> dict[str, dict[str, float]]:
    """Run each side's child command (argv, env) in turn, `rounds` times (ours, theirs, ours, ...), so that a slow
    spell of the machine hits both; each prints {case: seconds} as its last line. Returns each side's best per case."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, (argv, env) in sides.items():
            proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env})
            if proc.returncode != 0:
                raise SystemExit(f"the {name} run failed: {proc.stderr.strip().splitlines()[-1:]}")
            runs[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {name: {label: min(r[label] for r in results) for label in results[0]} for name, results in runs.items()}
