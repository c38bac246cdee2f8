"""Realistic training video generated from photographs: a camera over a photo, objects, light, sensor, codec.

    clip = scene_clip(seed, photos)          # uint8 (16, 224, 224, 3), the same for the same seed and photos

`draw_scene(seed, names)` draws a `Scene` (every knob, a plain dataclass, printable for a card) and
`render_scene(scene, photos)` renders it, in this order:

1. background: one photo (grey ones tinted), as it is, flattened into a cartoon (smoothed, colours
   quantised, dark outlines) or a dense mosaic of small crops of several photos (city-like detail);
2. camera: pan, zoom, rotation and hand shake over the background (one bilinear warp a frame);
3. objects: sprites cut from other photos (soft irregular masks) crossing the frame at their own speeds,
   spinning and scaling, occluding the background and each other, one of them possibly a big close
   occluder that sweeps across;
4. light: a gain and colour ramp over the clip, flicker, and a moving light spot;
5. blur: defocus (Gaussian) and motion blur along the camera's motion;
6. sensor noise (stronger where dark);
7. compression: JPEG per frame, or H.264 through the ffmpeg of `imageio-ffmpeg`.

`stride` is the temporal stride: every motion per frame is multiplied by it, as when the app spreads
16 frames over a whole clip (1.6-5.3 fps on the examples) instead of 25 consecutive frames a second.
Each step is also a function of its own (`camera`, `cartoon`, `mosaic`, `composite`, `light`, `blur`,
`add_noise`, `jpeg`, `h264`), tested one by one (`tests/test_scenes.py`). Shapes: T frames, S = size.
All float work is float32 torch on the CPU (deterministic); a 16-frame 224 clip takes tens of ms
(H.264 adds the two ffmpeg calls).
"""

from __future__ import annotations

import io
import math
import subprocess
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..clips import CLIP_LEN, SIZE

BACKGROUNDS = ("photo", "cartoon", "mosaic")
STRIDES = (1, 1, 2, 3, 4, 6)  # drawn uniformly: consecutive frames as often as all spreads together
COMPRESSIONS = ("none", "jpeg", "h264")


@dataclass(frozen=True)
class Sprite:
    """An object cut from a photo: the crop, its mask's shape, its path on the screen."""

    photo: str
    crop: tuple[float, float, float]  # centre y, x and side, as fractions of the photo's short side
    lobes: tuple[float, ...]  # the mask's radius: 1 + sum a_k cos(k theta + k) (k = 2, 3, ...)
    aspect: float  # width / height of the mask
    side: float  # on-screen side in px at frame 0
    start: tuple[float, float]  # on-screen centre (y, x) at frame 0, px
    velocity: tuple[float, float]  # px a frame (before the stride)
    spin: float  # degrees a frame
    growth: float  # scale factor a frame (approaching or leaving)


@dataclass(frozen=True)
class Scene:
    """Every knob of one generated clip (all drawn by `draw_scene`)."""

    photo: str
    background: str = "photo"  # photo | cartoon | mosaic
    mosaic_photos: tuple[str, ...] = ()
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # grey photos are multiplied by it
    levels: int = 5  # cartoon: colour levels per channel
    stride: int = 1
    view: float = 0.6  # the view's side as a fraction of the photo's short side at frame 0
    centre: tuple[float, float] = (0.5, 0.5)  # the view's centre at frame 0, fractions of (H, W)
    pan: tuple[float, float] = (0.0, 0.0)  # output px a frame (y, x)
    zoom: float = 1.0  # view scale factor a frame (< 1 zooms in)
    rotation: float = 0.0  # degrees a frame
    angle: float = 0.0  # degrees at frame 0
    shake: float = 0.0  # hand shake, output px (std of a smoothed random walk)
    sprites: tuple[Sprite, ...] = ()
    gain: tuple[float, float] = (1.0, 1.0)  # brightness at the first and last frame
    colour: tuple[float, float, float] = (0.0, 0.0, 0.0)  # per-channel gain drift over the clip
    flicker: float = 0.0  # amplitude of a per-frame brightness flicker
    spot: float = 0.0  # strength of a moving light spot (0 = none)
    defocus: tuple[float, float] = (0.0, 0.0)  # Gaussian sigma (px) at the first and last frame
    motion_blur: float = 0.0  # exposure: the blur's length as a fraction of the frame's camera motion
    noise: float = 0.0  # sensor noise std in 8-bit levels
    compression: str = "none"  # none | jpeg | h264
    quality: int = 90  # JPEG quality, or the H.264 CRF
    seed: int = 0  # the noise's and shake's own draws


def draw_scene(seed: int, names: Sequence[str], gray: Sequence[str] = (), sprites: int | None = None) -> Scene:
    """A random `Scene` over the photos `names` (one background, the others for sprites and mosaics)."""
    rng = np.random.default_rng(seed)
    names = list(names)
    photo = names[rng.integers(len(names))]
    others = [n for n in names if n != photo] or names
    background = BACKGROUNDS[rng.choice(3, p=[0.55, 0.2, 0.25])]
    stride = int(STRIDES[rng.integers(len(STRIDES))])
    motion = rng.choice(["static", "pan", "zoom", "rotate", "mixed"], p=[0.1, 0.35, 0.2, 0.1, 0.25])
    pan = rng.normal(0, 2.0, 2) if motion in ("pan", "mixed") else np.zeros(2)
    zoom = float(np.exp(rng.normal(0, 0.015))) if motion in ("zoom", "mixed") else 1.0
    rotation = float(rng.normal(0, 0.8)) if motion in ("rotate", "mixed") else 0.0
    n_sprites = int(rng.choice([0, 1, 2, 3, 4], p=[0.2, 0.3, 0.25, 0.15, 0.1])) if sprites is None else sprites
    objects = tuple(_draw_sprite(rng, others, big=(k == 0 and rng.random() < 0.25)) for k in range(n_sprites))
    gain0 = float(np.exp(rng.normal(0, 0.25)))
    change = rng.random() < 0.4
    compression = COMPRESSIONS[rng.choice(3, p=[0.3, 0.45, 0.25])]
    defocus0 = float(rng.choice([0.0, rng.uniform(0.3, 2.0)], p=[0.6, 0.4]))
    return Scene(
        photo=photo,
        background=background,
        mosaic_photos=tuple(rng.choice(names, size=4)) if background == "mosaic" else (),
        tint=tuple(float(v) for v in rng.uniform(0.7, 1.15, 3)) if photo in gray else (1.0, 1.0, 1.0),
        levels=int(rng.integers(3, 7)),
        stride=stride,
        view=float(rng.uniform(0.3, 0.9)),
        centre=tuple(float(v) for v in rng.uniform(0.35, 0.65, 2)),
        pan=tuple(float(v) for v in pan),
        zoom=zoom,
        rotation=rotation,
        angle=float(rng.normal(0, 4)),
        shake=float(rng.choice([0.0, rng.uniform(0.5, 4.0)], p=[0.6, 0.4])),
        sprites=objects,
        gain=(gain0, gain0 * float(np.exp(rng.normal(0, 0.3))) if change else gain0),
        colour=tuple(float(v) for v in (rng.normal(0, 0.08, 3) if change else np.zeros(3))),
        flicker=float(rng.choice([0.0, rng.uniform(0.02, 0.12)], p=[0.8, 0.2])),
        spot=float(rng.choice([0.0, rng.uniform(0.2, 0.8)], p=[0.75, 0.25])),
        defocus=(defocus0, defocus0 if rng.random() < 0.7 else float(rng.uniform(0, 2.0))),
        motion_blur=float(rng.choice([0.0, rng.uniform(0.3, 1.0)], p=[0.5, 0.5])),
        noise=float(rng.choice([0.0, rng.uniform(1, 10)], p=[0.4, 0.6])),
        compression=compression,
        quality=int(rng.integers(15, 90)) if compression == "jpeg" else int(rng.integers(20, 40)),
        seed=int(rng.integers(2**31)),
    )


def _draw_sprite(rng: np.random.Generator, names: Sequence[str], big: bool = False, size: int = 224) -> Sprite:
    side = float(rng.uniform(120, 200) if big else rng.uniform(24, 110))
    speed = float(rng.uniform(6, 16) if big else rng.uniform(0.5, 8))
    heading = rng.uniform(0, 2 * math.pi)
    velocity = (speed * math.sin(heading), speed * math.cos(heading))
    start = tuple(float(v) for v in rng.uniform(0, size, 2) - np.array(velocity) * rng.uniform(0, 8))
    return Sprite(
        photo=str(names[rng.integers(len(names))]),
        crop=(float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.15, 0.5))),
        lobes=tuple(float(v) for v in rng.normal(0, 0.12, 4)),
        aspect=float(np.exp(rng.normal(0, 0.3))),
        side=side,
        start=start,
        velocity=velocity,
        spin=float(rng.normal(0, 2)),
        growth=float(np.exp(rng.normal(0, 0.02))),
    )


# ---- the steps ----------------------------------------------------------------------------------------


def _image(photo: np.ndarray, tint=(1.0, 1.0, 1.0)) -> torch.Tensor:
    """float32 (3, H, W) in [0, 255] of a uint8 (H, W, 3) photo, multiplied by `tint`."""
    image = torch.from_numpy(np.ascontiguousarray(photo)).permute(2, 0, 1).float()
    return image * torch.tensor(tint, dtype=torch.float32)[:, None, None]


def cartoon(image: torch.Tensor, levels: int = 5) -> torch.Tensor:
    """(3, H, W) -> (3, H, W): smoothed, each channel quantised to `levels`, dark outlines where colours change."""
    smooth = F.avg_pool2d(
        F.avg_pool2d(image[None], 5, 1, 2, count_include_pad=False), 5, 1, 2, count_include_pad=False
    )[0]
    step = 255.0 / (levels - 1)
    flat = torch.round(smooth / step) * step
    label = flat.sum(0)
    edge = torch.zeros_like(label, dtype=torch.bool)
    edge[1:] |= label[1:] != label[:-1]
    edge[:, 1:] |= label[:, 1:] != label[:, :-1]
    return torch.where(edge[None], flat * 0.25, flat)


def mosaic(
    images: Sequence[torch.Tensor], grid: int = 4, cell: int = 128, rng: np.random.Generator | None = None
) -> torch.Tensor:
    """(3, grid*cell, grid*cell): a grid of crops of `images` scaled down to `cell` px (dense, busy detail)."""
    rng = rng or np.random.default_rng(0)
    rows = []
    for i in range(grid):
        row = []
        for j in range(grid):
            image = images[(i * grid + j) % len(images)]
            h, w = image.shape[1:]
            side = int(min(h, w) * rng.uniform(0.4, 1.0))
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            row.append(
                F.interpolate(
                    image[None, :, y : y + side, x : x + side],
                    size=(cell, cell),
                    mode="bilinear",
                    antialias=True,
                    align_corners=False,
                )[0]
            )
        rows.append(torch.cat(row, 2))
    return torch.cat(rows, 1)


def _walk(rng: np.random.Generator, num_frames: int, std: float) -> np.ndarray:
    """(T, 2) a smoothed random walk with per-frame steps of about `std` px, starting near 0."""
    if std <= 0:
        return np.zeros((num_frames, 2))
    steps = rng.normal(0, std, (num_frames, 2))
    return 0.5 * steps + 0.5 * np.concatenate([np.zeros((1, 2)), steps[:-1]])


def camera(
    image: torch.Tensor,
    num_frames: int,
    size: int,
    view: float = 0.6,
    centre=(0.5, 0.5),
    pan=(0.0, 0.0),
    zoom: float = 1.0,
    rotation: float = 0.0,
    angle: float = 0.0,
    shake: np.ndarray | None = None,
) -> torch.Tensor:
    """(3, H, W) -> (T, 3, S, S): the frames a camera sees moving over `image`.

    At frame t the view's centre is `centre` plus t * `pan` (output px) plus `shake[t]`, its side is
    `view` * the short side * `zoom`**t, turned by `angle` + t * `rotation` degrees. Outside the photo
    it is mirrored."""
    _, h, w = image.shape
    t = torch.arange(num_frames, dtype=torch.float32)
    scale = view * min(h, w) / size * (zoom**t)  # (T,) source px per output px
    offset = torch.tensor(pan, dtype=torch.float32)[None] * t[:, None]
    if shake is not None:
        offset = offset + torch.from_numpy(np.asarray(shake, np.float32))
    cy = centre[0] * (h - 1) + offset[:, 0] * scale
    cx = centre[1] * (w - 1) + offset[:, 1] * scale
    theta = torch.deg2rad(angle + rotation * t)
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    v, u = torch.meshgrid(r, r, indexing="ij")  # output rows, columns around the centre
    cos, sin = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    s = scale[:, None, None]
    x = cx[:, None, None] + s * (cos * u - sin * v)
    y = cy[:, None, None] + s * (sin * u + cos * v)
    grid = torch.stack([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], -1)
    return F.grid_sample(
        image[None].expand(num_frames, -1, -1, -1), grid, mode="bilinear", padding_mode="reflection", align_corners=True
    )


def sprite_rgba(image: torch.Tensor, sprite: Sprite, res: int = 128) -> torch.Tensor:
    """(4, res, res): the sprite's crop of `image` and its soft irregular mask (alpha 0..1) as channel 3."""
    _, h, w = image.shape
    short = min(h, w)
    cy, cx, side = sprite.crop
    half = side * short / 2
    y0, x0 = cy * (h - 1) - half, cx * (w - 1) - half
    r = torch.linspace(0, 1, res)
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    grid = torch.stack([2 * (x0 + xx * 2 * half) / (w - 1) - 1, 2 * (y0 + yy * 2 * half) / (h - 1) - 1], -1)
    rgb = F.grid_sample(image[None], grid[None], mode="bilinear", padding_mode="reflection", align_corners=True)[0]
    dy, dx = yy * 2 - 1, (xx * 2 - 1) / sprite.aspect
    radius, phi = torch.sqrt(dy**2 + dx**2), torch.atan2(dy, dx)
    edge = 0.8 + sum(a * torch.cos((k + 2) * phi + k) for k, a in enumerate(sprite.lobes)) * 0.8
    alpha = torch.clamp((edge - radius) * res / 4, 0, 1)  # a soft edge about 2 px wide
    return torch.cat([rgb, alpha[None]], 0)


def composite(frames: torch.Tensor, rgba: torch.Tensor, sprite: Sprite, stride: int = 1) -> torch.Tensor:
    """(T, 3, S, S): `frames` with the sprite drawn over them along its path (in place and returned)."""
    num_frames, _, size, _ = frames.shape
    t = torch.arange(num_frames, dtype=torch.float32) * stride
    cy = sprite.start[0] + sprite.velocity[0] * t
    cx = sprite.start[1] + sprite.velocity[1] * t
    side = sprite.side * sprite.growth**t
    theta = torch.deg2rad(sprite.spin * t)
    r = torch.arange(size, dtype=torch.float32)
    v, u = torch.meshgrid(r, r, indexing="ij")
    dv, du = v[None] - cy[:, None, None], u[None] - cx[:, None, None]
    cos, sin = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    gx = (cos * du + sin * dv) / (side[:, None, None] / 2)  # sprite coordinates in [-1, 1]
    gy = (-sin * du + cos * dv) / (side[:, None, None] / 2)
    drawn = F.grid_sample(
        rgba[None].expand(num_frames, -1, -1, -1),
        torch.stack([gx, gy], -1),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=True,
    )
    alpha = drawn[:, 3:4]
    frames.mul_(1 - alpha).add_(drawn[:, :3] * alpha)
    return frames


def light(
    frames: torch.Tensor,
    gain=(1.0, 1.0),
    colour=(0.0, 0.0, 0.0),
    flicker: float = 0.0,
    spot: float = 0.0,
    rng: np.random.Generator | None = None,
) -> torch.Tensor:
    """(T, 3, S, S): brightness from gain[0] to gain[1], each channel drifting by `colour` over the clip,
    a random flicker of amplitude `flicker`, and a light spot of strength `spot` crossing the frame."""
    rng = rng or np.random.default_rng(0)
    num_frames, _, size, _ = frames.shape
    ramp = torch.linspace(0, 1, num_frames)
    g = gain[0] + (gain[1] - gain[0]) * ramp
    if flicker:
        g = g * (1 + flicker * torch.from_numpy(rng.uniform(-1, 1, num_frames).astype(np.float32)))
    per_channel = g[:, None] * (1 + ramp[:, None] * torch.tensor(colour, dtype=torch.float32)[None])
    out = frames * per_channel[:, :, None, None]
    if spot:
        a, b = rng.uniform(0, size, 2), rng.uniform(0, size, 2)
        cy = torch.tensor(a[0] + (b[0] - a[0]) * ramp.numpy(), dtype=torch.float32)
        cx = torch.tensor(a[1] + (b[1] - a[1]) * ramp.numpy(), dtype=torch.float32)
        r = torch.arange(size, dtype=torch.float32)
        d2 = (r[None, :, None] - cy[:, None, None]) ** 2 + (r[None, None, :] - cx[:, None, None]) ** 2
        out = out * (1 - spot / 2 + spot * torch.exp(-d2 / (2 * (size / 4) ** 2)))[:, None]
    return out


def _gaussian(sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def _gaussian_blur(frames: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, 3, S, S) blurred by a separable Gaussian of `sigma` px (edges replicated)."""
    k = _gaussian(sigma)
    pad = len(k) // 2
    frames = F.conv2d(
        F.pad(frames, (pad, pad, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).repeat(3, 1, 1, 1), groups=3
    )
    return F.conv2d(F.pad(frames, (0, 0, pad, pad), mode="replicate"), k.view(1, 1, -1, 1).repeat(3, 1, 1, 1), groups=3)


def _motion_blur(frame: torch.Tensor, dy: float, dx: float) -> torch.Tensor:
    """(1, 3, S, S): the mean of copies of `frame` shifted along the line from -(dy, dx)/2 to (dy, dx)/2."""
    length = math.hypot(dy, dx)
    n = min(int(round(length)) + 1, 32)
    shifts = {(int(round(s * dy)), int(round(s * dx))) for s in np.linspace(-0.5, 0.5, n)}
    r = max(max(abs(a), abs(b)) for a, b in shifts)
    size = frame.shape[-1]
    padded = F.pad(frame, (r, r, r, r), mode="replicate")
    total = sum(padded[..., r + a : r + a + size, r + b : r + b + size] for a, b in shifts)
    return total / len(shifts)


def blur(frames: torch.Tensor, defocus=(0.0, 0.0), motion: Sequence[tuple[float, float]] | None = None) -> torch.Tensor:
    """(T, 3, S, S): a Gaussian blur of sigma from defocus[0] to defocus[1] px, and a motion blur along
    each frame's `motion` (dy, dx) in px (the mean of the frame shifted along that line)."""
    num_frames = frames.shape[0]
    sigmas = np.linspace(defocus[0], defocus[1], num_frames)
    if defocus[0] == defocus[1]:
        if defocus[0] > 0.2:
            frames = _gaussian_blur(frames, defocus[0])
    else:
        frames = torch.cat(
            [
                _gaussian_blur(frames[t : t + 1], float(s)) if s > 0.2 else frames[t : t + 1]
                for t, s in enumerate(sigmas)
            ],
            0,
        )
    if motion is not None:
        frames = torch.cat(
            [
                _motion_blur(frames[t : t + 1], *motion[t]) if math.hypot(*motion[t]) >= 1.5 else frames[t : t + 1]
                for t in range(num_frames)
            ],
            0,
        )
    return frames


def add_noise(frames: torch.Tensor, std: float, rng: np.random.Generator) -> torch.Tensor:
    """(T, 3, S, S): Gaussian sensor noise of `std` levels, up to twice that in the dark."""
    if std <= 0:
        return frames
    noise = torch.randn(frames.shape, generator=torch.Generator().manual_seed(int(rng.integers(2**31))))
    dark = 1 + (1 - torch.clamp(frames.mean(1, keepdim=True) / 255, 0, 1))
    return frames + std * dark * noise


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(T, 3, S, S) float -> uint8 (T, S, S, 3)."""
    return frames.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def jpeg(video: np.ndarray, quality: int) -> np.ndarray:
    """uint8 (T, H, W, 3): each frame through JPEG at `quality` (Pillow, 4:2:0)."""
    from PIL import Image

    out = np.empty_like(video)
    for t, frame in enumerate(video):
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=int(quality))
        out[t] = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    return out


def h264(video: np.ndarray, crf: int) -> np.ndarray:
    """uint8 (T, H, W, 3): the clip through H.264 (libx264 at `crf`, yuv420p, one thread) and back."""
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    t, h, w, _ = video.shape
    encode = [
        ffmpeg,
        "-v",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{w}x{h}",
        "-r",
        "25",
        "-i",
        "-",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        str(int(crf)),
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "1",
        "-f",
        "h264",
        "-",
    ]
    stream = subprocess.run(encode, input=np.ascontiguousarray(video).tobytes(), capture_output=True, check=True).stdout
    decode = [
        ffmpeg,
        "-v",
        "error",
        "-threads",
        "1",
        "-f",
        "h264",
        "-i",
        "-",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]
    raw = subprocess.run(decode, input=stream, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(t, h, w, 3).copy()


# ---- a whole scene ------------------------------------------------------------------------------------


@dataclass
class _Cache:
    """Float copies of the photos (converted once per process, shared by all scenes)."""

    images: dict[int, torch.Tensor] = field(default_factory=dict)


_CACHE = _Cache()


def _float_photo(photos: Mapping[str, np.ndarray], name: str) -> torch.Tensor:
    array = photos[name]
    key = id(array)
    if key not in _CACHE.images:
        if len(_CACHE.images) > 64:
            _CACHE.images.clear()
        _CACHE.images[key] = _image(array)
    return _CACHE.images[key]


def render_scene(
    scene: Scene, photos: Mapping[str, np.ndarray], num_frames: int = CLIP_LEN, size: int = SIZE
) -> np.ndarray:
    """uint8 (T, S, S, 3): `scene` rendered over `photos` ({name: uint8 (H, W, 3)})."""
    with torch.no_grad():
        rng = np.random.default_rng(scene.seed)
        image = _float_photo(photos, scene.photo) * torch.tensor(scene.tint)[:, None, None]
        if scene.background == "cartoon":
            image = cartoon(image, scene.levels)
        elif scene.background == "mosaic":
            image = mosaic([_float_photo(photos, n) for n in (scene.photo, *scene.mosaic_photos)], rng=rng)
        shake = _walk(rng, num_frames, scene.shake)
        pan = (scene.pan[0] * scene.stride, scene.pan[1] * scene.stride)
        frames = camera(
            image,
            num_frames,
            size,
            scene.view,
            scene.centre,
            pan,
            scene.zoom**scene.stride,
            scene.rotation * scene.stride,
            scene.angle,
            shake,
        )
        for sprite in scene.sprites:
            composite(frames, sprite_rgba(_float_photo(photos, sprite.photo), sprite), sprite, scene.stride)
        frames = light(frames, scene.gain, scene.colour, scene.flicker, scene.spot, rng)
        motion = None
        if scene.motion_blur > 0:
            step = np.diff(
                np.asarray(pan)[None] * np.arange(num_frames + 1)[:, None] + np.vstack([shake, shake[-1:]]), axis=0
            )  # (T, 2) the camera's motion in output px during frame t
            motion = [tuple(scene.motion_blur * d) for d in step]
        frames = blur(frames, scene.defocus, motion)
        frames = add_noise(frames, scene.noise, rng)
        video = to_uint8(frames)
    if scene.compression == "jpeg":
        video = jpeg(video, scene.quality)
    elif scene.compression == "h264":
        video = h264(video, scene.quality)
    return video


def scene_clip(
    seed: int,
    photos: Mapping[str, np.ndarray],
    num_frames: int = CLIP_LEN,
    size: int = SIZE,
    gray: Sequence[str] = (),
    **overrides,
) -> np.ndarray:
    """uint8 (T, S, S, 3): the scene `draw_scene(seed, photos)` draws, with `overrides` of its knobs, rendered."""
    scene = draw_scene(seed, sorted(photos), gray)
    return render_scene(replace(scene, **overrides), photos, num_frames, size)
