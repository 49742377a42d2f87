"""The built-in demo clip: generated here, so the repository holds no dataset frames.

It imitates an endoscope view (reddish mucosa, vignette, specular glints, a circular field of view)
with a raised, lighter lump drifting through it, and is written once to the user's cache as H.264.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

DEMO_VERSION = 1
DEMO_SIZE = (960, 540)
DEMO_FPS = 25
DEMO_SECONDS = 8


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lgps-live"


def cached_clip(name: str, size: tuple[int, int] = (960, 540), seconds: float = 8) -> Path:
    """A generated clip in the user's cache, rendered on first use (written aside, then renamed)."""
    path = cache_dir() / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part.mp4")
        write_demo_clip(partial, size=size, seconds=seconds)
        partial.replace(path)
    return path


def demo_clip_path() -> Path:
    """Path of the demo clip, generating it on first use."""
    return cached_clip(f"demo_v{DEMO_VERSION}.mp4", DEMO_SIZE, DEMO_SECONDS)


def _mucosa(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth reddish texture with folds and a dark lumen: the still background."""
    noise = rng.normal(0, 1, (height // 8 + 1, width // 8 + 1)).astype(np.float32)
    noise = cv2.resize(cv2.GaussianBlur(noise, (0, 0), 2), (width, height), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = width * 0.62, height * 0.42
    radius = np.hypot((xx - cx) / width, (yy - cy) / height)
    folds = 0.5 + 0.5 * np.sin(radius * 38.0 + noise * 0.8)
    light = np.clip(0.15 + radius * 2.4, 0.15, 1.0)  # the lumen is dark, the near wall bright
    base = np.stack([60 + 30 * folds, 70 + 35 * folds, 170 + 60 * folds], axis=-1)  # BGR
    image = base * light[..., None] + noise[..., None] * 6
    return np.clip(image, 0, 255).astype(np.float32)


def _frame(background: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    height, width = background.shape[:2]
    image = background.copy()
    cx = width * (0.25 + 0.35 * t) + 25 * np.sin(t * 9)
    cy = height * (0.6 - 0.15 * t) + 15 * np.cos(t * 7)
    axes = (int(width * 0.085 * (1 + 0.3 * t)), int(height * 0.12 * (1 + 0.3 * t)))
    lump = np.zeros((height, width), np.float32)
    cv2.ellipse(lump, (int(cx), int(cy)), axes, 20 + 30 * t, 0, 360, 1.0, -1, cv2.LINE_AA)
    lump = cv2.GaussianBlur(lump, (0, 0), 6)
    shade = np.array([30, 55, 70], np.float32)  # paler, pinker than the wall
    image += lump[..., None] * shade
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = (xx - cx + axes[0] * 0.3) / axes[0], (yy - cy + axes[1] * 0.4) / axes[1]
    bump = np.exp(-(dx**2 + dy**2) * 3)
    image += (bump * lump)[..., None] * 40
    for _ in range(6):  # specular glints of the endoscope light
        gx, gy = int(rng.uniform(0, width)), int(rng.uniform(0, height))
        cv2.circle(image, (gx, gy), int(rng.uniform(2, 6)), (255, 255, 255), -1, cv2.LINE_AA)
    field = np.zeros((height, width), np.uint8)  # the endoscope's circular field of view
    cv2.circle(field, (width // 2, height // 2), int(width * 0.52), 255, -1, cv2.LINE_AA)
    image *= cv2.GaussianBlur(field, (0, 0), 8)[..., None].astype(np.float32) / 255.0
    return np.clip(image, 0, 255).astype(np.uint8)


def write_demo_clip(
    path: Path, size: tuple[int, int] = DEMO_SIZE, fps: int = DEMO_FPS, seconds: float = DEMO_SECONDS
) -> Path:
    """Render the demo clip to `path` (H.264 MP4)."""
    width, height = size
    rng = np.random.default_rng(7)
    background = _mucosa(width, height, rng)
    n_frames = int(round(fps * seconds))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for index in range(n_frames):
            image = _frame(background, index / max(1, n_frames - 1), rng)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
