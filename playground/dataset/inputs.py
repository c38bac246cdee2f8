"""The videos a dataset run's INPUTS name: folders, globs and text files of paths.

- A folder is searched recursively as `clips.find_videos` does (video suffixes and .npy;
  no hidden parts, no links).
- A pattern with `*`, `?` or `[` that is not itself a path is a glob (`**` crosses folders); the
  files it matches count when they have a video suffix and are not links, the folders it
  matches are searched as above.
- A `.txt` file lists one path per line (blank lines and `#` comments skipped); relative paths
  resolve against the text file's folder. A listed path that is missing or unreadable becomes an
  error row of the run, not the end of it; a missing INPUT on the command line is bad input.
- Any other file is a video.

Each video counts once, in the order first named.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Sequence

from ..clips import CLIP_SUFFIXES, no_videos_message, videos_in
from ..errors import PlaygroundError, check

LIST_SUFFIX = ".txt"  # an input with this suffix is a list of paths, one a line
_GLOB_CHARS = "*?["


def find_inputs(inputs: Sequence[str | Path], skipped: list[Path] | None = None) -> list[Path]:
    """The videos named by `inputs` (see the module doc), each once; a one-line error when there are none.

    `skipped`: if given, the links to videos that folders and globs left out are added to it
    (`clips.links_note` says so); the error for no videos counts them either way.
    """
    check(len(inputs) > 0, "give at least one video, folder, glob or list of videos")
    found: list[Path] = []
    links: list[Path] = []
    for text in inputs:
        found += _input_videos(str(text), links)
    found = list(dict.fromkeys(found))
    check(len(found) > 0, no_videos_message(inputs, links))
    if skipped is not None:
        skipped += links
    return found


def _input_videos(text: str, links: list[Path]) -> list[Path]:
    path = Path(text).expanduser()
    if not path.exists() and any(c in text for c in _GLOB_CHARS):
        matches = sorted(glob.glob(os.path.expanduser(text), recursive=True))
        check(len(matches) > 0, f"no files match {text}")
        return [video for match in matches for video in _matched(Path(match), links)]
    check(path.exists(), f"no such video, folder or list: {path}")
    if path.is_dir():
        return videos_in(path, links)
    return _listed(path, links) if path.suffix.lower() == LIST_SUFFIX else [path]


def _matched(path: Path, links: list[Path]) -> list[Path]:
    """What one glob match adds: a folder's videos, or the file when it is a video and not a link (added to `links`)."""
    if path.is_dir():
        return videos_in(path, links)
    if path.suffix.lower() not in CLIP_SUFFIXES:
        return []
    if path.is_symlink():
        links.append(path)
        return []
    return [path]


def _listed(list_file: Path, links: list[Path]) -> list[Path]:
    """The paths a text file lists (a folder among them is searched); relative ones from its folder."""
    try:
        lines = list_file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaygroundError(f"cannot read the list of videos {list_file}: {exc}") from None
    out: list[Path] = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(line).expanduser()
        path = path if path.is_absolute() else list_file.parent / path
        out += videos_in(path, links) if path.is_dir() else [path]
    return out
