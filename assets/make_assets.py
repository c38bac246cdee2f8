"""Rebuild the example clips in this folder (provenance; the clips themselves are committed).

    .venv/bin/python assets/make_assets.py [path/to/bigbuckbunny.mp4]

- bigbuckbunny_clip.mp4: the first 3 s of Big Buck Bunny (the bunny leaves his burrow), scaled to
  640x360, H.264 yuv420p, no audio, cut with the ffmpeg binary that imageio-ffmpeg ships.
- synthetic_square.mp4: the reference's moving-square video (16 frames, 224x224, 8 fps).
- the gallery (`playground.synthetic.GALLERY`): static_camera.mp4, fast_pan.mp4, flat_cartoon.mp4,
  dense_texture.mp4, made in code (16 frames, 224x224, 8 fps).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def cut_bigbuckbunny(source: Path, out: Path = HERE / "bigbuckbunny_clip.mp4", seconds: float = 3.0) -> None:
    """Cut the first `seconds` of `source` into a small 640x360 browser-playable clip."""
    import imageio_ffmpeg

    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(source),
        "-t",
        str(seconds),
        "-vf",
        "scale=640:360",
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        "slow",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        str(out),
    ]
    subprocess.run(cmd, check=True)


def write_synthetic(out: Path = HERE / "synthetic_square.mp4") -> None:
    """Write the moving-square video of AUTOGAZE_SPEC.md section 4.2."""
    from playground.synthetic import moving_square
    from playground.video import write_video

    write_video(out, moving_square(16), fps=8.0, quality=9)


def write_gallery() -> list[str]:
    """Write the gallery's scenes (`playground.synthetic.GALLERY`); returns their file names."""
    from playground.synthetic import GALLERY
    from playground.video import write_video

    for name, (_, make) in GALLERY.items():
        write_video(HERE / name, make(), fps=8.0, quality=5)
    return list(GALLERY)


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "videos" / "bigbuckbunny.mp4")
    cut_bigbuckbunny(source)
    write_synthetic()
    for name in ("bigbuckbunny_clip.mp4", "synthetic_square.mp4", *write_gallery()):
        print(name, (HERE / name).stat().st_size, "bytes")
