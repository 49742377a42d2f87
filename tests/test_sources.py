"""Opening sources: real clips decoded by FFmpeg, exact seeking, folders, and clear failures."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from engine.errors import SourceError, SourceInvalidError
from engine.sources import ImageFolderSource, VideoFileSource, open_source

from conftest import sequence_frames, write_clip


def _numbered_frames(n: int, size=(128, 96)) -> list[np.ndarray]:
    """Frames whose brightness encodes their index (steps of 7), so decoded order can be checked."""
    return [np.full((size[1], size[0], 3), 7 * i + 20, np.uint8) for i in range(n)]


def _index_from_brightness(image: np.ndarray) -> int:
    """The index whose brightness is nearest (the codec's colour conversion shifts values slightly)."""
    return int(np.argmin([abs(float(image.mean()) - (7 * i + 20)) for i in range(36)]))


def test_real_clip_info_and_frame_order(real_clip, real_frames):
    source = open_source(str(real_clip))
    info = source.info
    assert (info.kind, info.width, info.height) == ("file", 574, 500)
    assert info.fps == pytest.approx(25.0)
    assert info.frame_count == len(real_frames)
    indices = []
    while (item := source.read()) is not None:
        indices.append(item[0])
    assert indices == list(range(len(real_frames)))
    assert source.corrupt_frames == 0 and not source.ended_early


@pytest.mark.parametrize("target", [0, 7, 13, 29])
def test_seek_is_frame_exact(tmp_path, target):
    clip = write_clip(_numbered_frames(30), tmp_path / "n.mp4", gop=12)
    source = VideoFileSource(clip)
    source.seek(target)
    index, pts, image = source.read()
    assert index == target
    assert pts == pytest.approx(target / 25.0)
    assert _index_from_brightness(image) == target


def test_folder_source_natural_order(tmp_path):
    for i in (1, 2, 10):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((20, 30, 3), i, np.uint8))
    source = ImageFolderSource(tmp_path)
    assert source.info.frame_count == 3
    values = [int(source.read()[2][0, 0, 0]) for _ in range(3)]
    assert values == [1, 2, 10]
    assert source.read() is None


def test_real_image_folder(tmp_path):
    frames = sequence_frames(limit=5)
    for path in frames:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    source = open_source(str(tmp_path))
    assert source.info.kind == "folder" and source.info.frame_count == 5


def test_missing_file():
    with pytest.raises(SourceError, match="video file not found: /no/such.mp4"):
        open_source("/no/such.mp4")


def test_not_a_video(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    with pytest.raises(SourceInvalidError, match="not a readable video"):
        open_source(str(fake))


def test_truncated_mp4_without_index_is_invalid(tmp_path, real_clip):
    cut = tmp_path / "cut.mp4"
    data = real_clip.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # moov atom at the end is lost
    with pytest.raises(SourceInvalidError):
        open_source(str(cut))


def _mjpeg_clip(tmp_path: Path, n: int = 30) -> tuple[Path, list[tuple[int, int]]]:
    clip = write_clip(_numbered_frames(n), tmp_path / "m.mkv", codec="mjpeg",
                      container_format="matroska", pix_fmt="yuvj420p")
    with av.open(str(clip)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    return clip, packets


def test_corrupt_frames_mid_clip_are_skipped_and_counted(tmp_path):
    clip, packets = _mjpeg_clip(tmp_path)
    data = bytearray(clip.read_bytes())
    pos, size = packets[10]
    data[pos : pos + size] = b"\0" * size
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(bytes(data))
    source = open_source(str(broken))
    indices = []
    while (item := source.read()) is not None:
        indices.append(item[0])
        assert _index_from_brightness(item[2]) == item[0]  # survivors keep their true index
    assert 10 not in indices and indices[-1] == 29
    assert source.corrupt_frames == 30 - len(indices) > 0  # each lost frame counted exactly once


def test_truncated_stream_reports_ended_early(tmp_path):
    clip, _ = _mjpeg_clip(tmp_path)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    source = open_source(str(cut))
    count = 0
    while source.read() is not None:
        count += 1
    assert 0 < count < 30
    assert source.ended_early


def test_absent_camera():
    with pytest.raises(SourceError, match="camera /dev/video97 is not available"):
        open_source("/dev/video97")


def test_unreachable_stream():
    with pytest.raises(SourceError, match="stream rtsp://127.0.0.1:9/live is not available"):
        open_source("rtsp://127.0.0.1:9/live")


def test_demo_source_is_generated_video():
    source = open_source("demo")
    assert source.info.kind == "file" and source.info.frame_count and source.info.frame_count > 50
    first = source.read()[2]
    assert first.std() > 5  # a real picture, not a blank frame


def test_overlapping_quiet_stderr_always_restores_fd2(monkeypatch):
    import os
    import sys
    import threading

    from engine.native import quiet_native_stderr

    try:
        fd = sys.__stderr__.fileno()
    except (AttributeError, OSError, ValueError):
        pytest.skip("no real stderr file descriptor here")
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)  # the real fd 2, as in a user's terminal
    before = os.fstat(fd)
    seen_null = []
    barrier = threading.Barrier(4)

    def hold():
        barrier.wait()
        for _ in range(50):
            with quiet_native_stderr():
                seen_null.append(os.fstat(fd).st_ino != before.st_ino)

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    after = os.fstat(fd)
    assert all(seen_null) and len(seen_null) == 200  # hidden inside every call...
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)  # ...and restored after all of them


def test_seek_is_frame_exact_on_our_own_recordings_of_real_frames(tmp_path):
    """Our recorder's files (90 kHz clock, B-frame delay, scene-cut keyframes) seek exactly too."""
    import csv

    from engine.recorder import Recorder

    from conftest import DATA

    colondb = DATA / "cvc-colondb"
    if not (colondb / "sequences.csv").is_file():
        pytest.skip(f"real dataset not available at {DATA} (the CI machine provides ../shared/data)")
    with open(colondb / "sequences.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_sequence: dict[str, list[str]] = {}
    for row in rows:
        by_sequence.setdefault(row["sequence"], []).append(row["frame"])
    import cv2

    images = [cv2.imread(str(colondb / "images" / f"{n}.jpg")) for n in max(by_sequence.values(), key=len)[:50]]
    path = tmp_path / "rec.mp4"
    with Recorder(path, images[0].shape[1], images[0].shape[0], 25) as recorder:
        for image in images:
            recorder.write(image)
    source = open_source(str(path))
    for wanted in (4, 30, 1, 45, 0, 26):
        source.seek(wanted)
        index, pts, _ = source.read()
        assert (index, pts) == (wanted, pytest.approx(wanted / 25))


class _RecordingCapture:
    """Stands in for cv2.VideoCapture's property interface (no camera on the CI machine)."""

    def __init__(self, delivers):
        self.calls, self.values = [], dict(delivers)

    def set(self, prop, value):
        self.calls.append((prop, value))
        return True

    def get(self, prop):
        return self.values.get(prop, 0.0)


def test_camera_format_is_asked_for_fourcc_first_and_read_back(caplog):
    import cv2

    from engine.sources import CameraFormat, CaptureDeviceSource

    source = CaptureDeviceSource.__new__(CaptureDeviceSource)
    source.spec, source.kind, source.camera = "0", "camera", CameraFormat(1920, 1080, 60.0, "MJPG", 1)
    fake = _RecordingCapture({cv2.CAP_PROP_FRAME_WIDTH: 1280, cv2.CAP_PROP_FRAME_HEIGHT: 720,
                              cv2.CAP_PROP_FPS: 30.0, cv2.CAP_PROP_FOURCC: cv2.VideoWriter_fourcc(*"YUYV")})
    source._apply_format(fake)
    assert [p for p, _ in fake.calls] == [cv2.CAP_PROP_FOURCC, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT,
                                          cv2.CAP_PROP_FPS, cv2.CAP_PROP_BUFFERSIZE]
    assert fake.calls[0][1] == cv2.VideoWriter_fourcc(*"MJPG") and fake.calls[1:3] == [
        (cv2.CAP_PROP_FRAME_WIDTH, 1920), (cv2.CAP_PROP_FRAME_HEIGHT, 1080)]
    assert source.delivered == {"width": 1280, "height": 720, "fps": 30.0, "fourcc": "YUYV"}
    assert "delivers 1280x720, not the 1920x1080 asked for" in caplog.text
    untouched = _RecordingCapture({})
    source.camera = CameraFormat()
    source._apply_format(untouched)
    assert untouched.calls == []  # defaults: the driver's own format


def test_camera_list_probes_indices_where_there_is_no_v4l2(monkeypatch):
    import engine.sources as sources

    monkeypatch.setattr(sources.sys, "platform", "win32")
    monkeypatch.setattr(sources.Path, "glob", lambda self, pattern: iter(()))
    opened = []

    class Probe:
        def __init__(self, index):
            opened.append(index)
            self.index = index

        def isOpened(self):  # noqa: N802 - OpenCV's name
            return self.index == 1

        def release(self):
            pass

    monkeypatch.setattr(sources.cv2, "VideoCapture", Probe)
    assert sources.list_cameras(probe=3) == [("1", "Camera 1")]
    assert opened == [0, 1, 2]


@pytest.mark.parametrize("threads", [1, 2])
def test_decoder_threads_reach_ffmpeg(real_clip, threads):
    source = VideoFileSource(real_clip, decoder_threads=threads)
    try:
        assert source._stream.codec_context.thread_count == threads
        assert source.read() is not None
    finally:
        source.close()
