"""Clips: finding videos, listing and keying their clips, and reading one clip (the one reader).

A clip (`VideoClip`) is `clip_len` consecutive frames of one video from a start frame: the unit a
dataset row and a training label describe, and what a gazer gazes at once (AutoGaze was trained on
`CLIP_LEN` = 16-frame clips; `knobs.CLIP_LEN` is the one definition of that number). Its key is the
last three parts of the video's path (`label_key`, the official labels format); clips after the
first of a video add `#<first frame>` (`--clips all`).

`read_clip_frames` is the one way a clip is read: `gaze-dataset`, `labels`, training, `evaluate-gazer`,
`calibrate`, the recipe and the held-out report clips all go through it. The first frame is a frame
number, turned into a time by the file's own timestamps (`VideoInfo.frame_time`), so a sparse or
variable-rate file gives the frames a player shows.

Shapes: T frames (clip_len), h x w read pixels (H = W = size when squashed), H x W source pixels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Sequence

import numpy as np

from .errors import PlaygroundError, check
from .knobs import CLIP_CHOICES, CLIP_LEN, SIZE
from .video import MAX_DECODE_PIXELS, READ_SIDE, VIDEO_SUFFIXES, as_clips, probe_video, read_video, resize_frames

CLIP_SUFFIXES = VIDEO_SUFFIXES + (".npy",)  # files a folder search keeps: videos and uint8 .npy clips

__all__ = [
    "CLIP_LEN",
    "SIZE",
    "CLIP_CHOICES",
    "CLIP_SUFFIXES",
    "VideoClip",
    "ClipFrames",
    "find_videos",
    "videos_in",
    "links_note",
    "no_videos_message",
    "label_key",
    "clip_key",
    "split_key",
    "list_clips",
    "frame_count",
    "read_clip_frames",
]


@dataclass(frozen=True)
class VideoClip:
    """One clip of a video: where it is and its labels key (its frames are read by `read_clip_frames`)."""

    path: Path  # the video file (or a uint8 .npy of frames (T, H, W, 3))
    start: int  # index of its first frame
    key: str  # its labels key (`clip_key`)


@dataclass
class ClipFrames:
    """One clip read: its frames, the size they came from, and what the read cost."""

    frames: np.ndarray  # uint8 (T, h, w, 3) at the read size (squashed to `size` when one is given)
    source_size: tuple[int, int]  # (H, W) of the video's own frames (what boxes map back to)
    seconds: float  # wall time of the read


# ---- finding videos -------------------------------------------------------------------------


def find_videos(sources: Sequence[str | Path], skipped: list[Path] | None = None) -> list[Path]:
    """Video files named directly or found (recursively, sorted) in the named folders.

    `skipped`: if given, the links to videos found in the folders (and left out) are added to it
    (`links_note` says so); the error for no videos counts them either way.
    """
    check(len(sources) > 0, "give at least one video or folder of videos")
    found: list[Path] = []
    links: list[Path] = []
    for source in sources:
        path = Path(source).expanduser()
        check(path.exists(), f"no such video or folder: {path}")
        if path.is_dir():
            found += videos_in(path, links)
        else:
            found.append(path)
    check(len(found) > 0, no_videos_message(sources, links))
    if skipped is not None:
        skipped += links
    return found


def videos_in(folder: Path, skipped: list[Path] | None = None) -> list[Path]:
    """The video files found recursively in a folder, sorted: no hidden parts, no links (each link to a
    video is added to `skipped`, if given)."""
    inside = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in CLIP_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if skipped is not None:
        skipped += [p for p in inside if p.is_symlink()]
    return [p for p in inside if not p.is_symlink()]  # a link could lead out of the folder


def links_note(links: Sequence[Path]) -> str:
    """One line on the links to videos a folder search left out, and why (empty when none)."""
    if not links:
        return ""
    return (
        f"skipped {len(links)} link{'s' if len(links) > 1 else ''} to videos ({links[0]}"
        f"{', ...' if len(links) > 1 else ''}): links in folders are not followed, as one could lead out of the "
        "folder; name the videos themselves (or list them in a .txt file) to include them"
    )


def no_videos_message(sources: Sequence[str | Path], links: Sequence[Path]) -> str:
    """The one-line error for inputs that hold no video, with the links skipped, if any."""
    note = f"; {links_note(links)}" if links else ""
    return f"no videos ({', '.join(CLIP_SUFFIXES)}) in {', '.join(map(str, sources))}{note}"


# ---- keys -----------------------------------------------------------------------------------


def label_key(path: str | Path) -> str:
    """The labels key of a video's first clip: the last three parts of its path (`folder/train/clip.mp4`)."""
    return "/".join(Path(path).parts[-3:])


def clip_key(path: str | Path, start: int) -> str:
    """The labels key of the clip starting at frame `start`."""
    key = label_key(path)
    return key if start == 0 else f"{key}#{start}"


def split_key(key: str) -> tuple[str, int]:
    """`clip_key`'s inverse: (the video's labels key, the clip's first frame); one line for a bad start."""
    base, mark, start = key.partition("#")
    if not mark:
        return base, 0
    check(
        start.isascii() and start.isdigit(),
        f"labels key {key!r}: the clip start after '#' must be a frame number (0 or more), got {start!r}",
    )
    return base, int(start)


# ---- listing clips --------------------------------------------------------------------------


def list_clips(
    videos: Sequence[Path], clips: str = "first", clip_len: int = CLIP_LEN, known: Collection[tuple[str, int]] = ()
) -> tuple[list[VideoClip], list[dict[str, str]]]:
    """Cut videos into clips of `clip_len` consecutive frames.

    Args:
        videos: video files.
        clips: "first" (each video's first clip) or "all" (every whole clip, back to back).
        clip_len: frames per clip.
        known: (str(path), start) of clips known to exist (a resumed dataset's): with "first", a video
            whose first clip is known is not probed again.

    Returns:
        The clips, and one `{"video", "error"}` entry per video that cannot give a clip (unreadable,
        or shorter than a clip): such a video is reported, not the end of the run.
    """
    check(clips in CLIP_CHOICES, f"clips must be one of {CLIP_CHOICES}, got {clips!r}")
    out, errors = [], []
    for path in videos:
        if clips == "first" and (str(path), 0) in known:
            out.append(VideoClip(path, 0, clip_key(path, 0)))
            continue
        try:
            frames = frame_count(path)
            check(frames >= clip_len, f"{path.name} has {frames} frames, fewer than one {clip_len}-frame clip")
        except PlaygroundError as exc:
            errors.append({"video": str(path), "error": str(exc)})
            continue
        starts = [0] if clips == "first" else range(0, frames - clip_len + 1, clip_len)
        out += [VideoClip(path, s, clip_key(path, s)) for s in starts]
    return out, errors


def frame_count(path: Path) -> int:
    """Frames in a video file (its header) or a .npy clip."""
    if path.suffix.lower() == ".npy":
        return int(as_clips(path).shape[1])
    return probe_video(path).num_frames


# ---- reading one clip -----------------------------------------------------------------------


def read_clip_frames(
    clip: VideoClip,
    clip_len: int = CLIP_LEN,
    size: int | None = SIZE,
    max_side: int | None = READ_SIDE,
    max_pixels: int | None = MAX_DECODE_PIXELS,
) -> ClipFrames:
    """Read one clip: `clip_len` consecutive frames from `clip.start`, and the size of the video's own frames.

    Args:
        clip: the clip.
        clip_len: frames to read from `clip.start` on.
        size: squash the frames to this side (None: keep the read size).
        max_side: decode to a long side of at most this (None: native size; a .npy is never resized).
        max_pixels: `read_video`'s limit on decoded pixels (None: no limit but its byte ceiling).

    Returns:
        `ClipFrames`: uint8 (clip_len, h, w, 3) frames, (H, W) of the source frames, the read's seconds.

    Raises:
        PlaygroundError: a file that cannot give the clip (unreadable, fewer frames), in one line.
    """
    began = time.perf_counter()
    if clip.path.suffix.lower() == ".npy":
        clips = as_clips(clip.path)
        check(clips.shape[0] == 1, f"{clip.path.name} holds {clips.shape[0]} clips; give one clip (T,H,W,3)")
        frames = clips[0, clip.start : clip.start + clip_len]
        source = clips.shape[2:4]
    else:
        info = probe_video(clip.path)
        frames = read_video(
            clip.path,
            num_frames=clip_len,
            sampling="first",
            start=info.frame_time(clip.start),
            max_side=max_side,
            max_pixels=max_pixels,
        )
        source = (info.height, info.width)
    check(len(frames) == clip_len, f"{clip.key}: read {len(frames)} frames, expected {clip_len}")
    frames = frames if size is None else resize_frames(frames, size)
    return ClipFrames(frames, (int(source[0]), int(source[1])), time.perf_counter() - began)
