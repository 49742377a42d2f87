"""Shared fixtures: the real datasets, real clips made from their frames, and a real .tflite model."""

from __future__ import annotations

import csv
import os
import signal
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
# LGPS_TEST_DATA points the tests elsewhere (e.g. an empty folder: the suite as it runs without ../shared)
DATA = Path(os.environ.get("LGPS_TEST_DATA", ROOT.parent / "shared" / "data"))
SHIPPED_MODEL = ROOT / "assets" / "lgps_int8.tflite"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A suite started in the background (nohup, `&` in a script) inherits SIGINT ignored, and so would
# every child it starts: the Ctrl-C tests would then test nothing. Restore Python's own handler
# (children then get the default action at exec, and Python's KeyboardInterrupt again).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def require_data(name: str = "") -> Path:
    path = DATA / name if name else DATA
    if not path.exists():
        pytest.skip(f"real dataset not available at {path} (the CI machine provides ../shared/data)")
    return path


def sequence_frames(dataset: str = "cvc-colondb", sequence: str | None = None, limit: int = 40) -> list[Path]:
    """Image paths of one real video sequence, in order (sequences.csv maps frame -> sequence)."""
    root = require_data(dataset)
    with open(root / "sequences.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    wanted = sequence or rows[0]["sequence"]
    frames = [root / "images" / f"{r['frame']}.jpg" for r in rows if r["sequence"] == wanted]
    return frames[:limit]


def write_clip(frames: list[np.ndarray], path: Path, fps: int = 25, codec: str = "libx264",
               container_format: str | None = None, pix_fmt: str = "yuv420p", gop: int = 12) -> Path:
    """Encode BGR frames with PyAV (real codec), independent of the engine's recorder."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "libx264":
            stream.options = {"g": str(gop), "preset": "ultrafast"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode(None))
    return path


def wait_until(condition, timeout: float = 20.0) -> None:
    """Poll `condition` until true; every wait in a thread test has a deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)


def count_frames_pyav(path: Path) -> int:
    """Decodable frames, as a player sees them (a damaged last packet ends playback, nothing more)."""
    count = 0
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            try:
                count += len(packet.decode())
            except av.error.InvalidDataError:
                break
    return count


def count_frames_opencv(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


@pytest.fixture(scope="session")
def real_frames() -> list[np.ndarray]:
    """Up to 40 consecutive real CVC-ColonDB frames (574x500) of one polyp video sequence (38 for the first)."""
    return [cv2.imread(str(p)) for p in sequence_frames()]


@pytest.fixture(scope="session")
def real_clip(tmp_path_factory, real_frames) -> Path:
    """An H.264 MP4 of a real ColonDB sequence, made at test time (the repo holds no frames)."""
    return write_clip(real_frames, tmp_path_factory.mktemp("clips") / "colondb_seq.mp4")


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> Path:
    """The shipped model when present, else a freshly exported untrained LGPS int8 model."""
    if SHIPPED_MODEL.is_file():
        return SHIPPED_MODEL
    pytest.importorskip("tensorflow", reason="exporting a test model needs TensorFlow (make test installs it)")
    from training.export import export_untrained

    return export_untrained(tmp_path_factory.mktemp("model") / "lgps_untrained_int8.tflite")


@pytest.fixture
def config(model_path):
    """The project's config with the test model."""
    from engine.config import load_config

    return load_config().replace("segmenter", model=str(model_path))


@pytest.fixture
def config_file(tmp_path, model_path) -> Path:
    """A config.yaml copy pointing at the test model, for subprocess tests."""
    import yaml

    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    raw["segmenter"]["model"] = str(model_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path
