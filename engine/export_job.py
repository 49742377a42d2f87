"""Headless, frame-exact export: every decodable input frame, in order, annotated into one clip.

Unlike the live pipeline this never drops frames: it reads, processes and writes in lock-step.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2

from engine.config import Config
from engine.errors import RecorderError, SourceTruncatedError
from engine.pipeline import FrameProcessor
from engine.progress import ProgressBar
from engine.recorder import Recorder
from engine.results import Frame, Result
from engine.sources import open_source


class ExportCancelled(Exception):
    """The caller cancelled the export; the partial file has been deleted."""


@dataclass(frozen=True)
class ExportSummary:
    frames_written: int
    corrupt_frames: int
    truncated: bool
    output: Path


def _event(result: Result) -> str:
    return json.dumps({
        "index": result.frame.index,
        "time_s": round(result.frame.pts_s, 4),
        "polyps": [p.to_json() for p in result.polyps],
        "timings_ms": {k: round(v, 3) for k, v in result.timings_ms.items()},
    })


def _open_events(path: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in export_clip's finally
    except OSError as exc:
        raise RecorderError(f"cannot write events file {path}: {exc.strerror}") from None


def export_clip(
    config: Config, source_spec: str, output: str | Path, *,
    events_path: str | Path | None = None, masks_dir: str | Path | None = None,
    processor: FrameProcessor | None = None, progress: bool = True,
    on_progress: Callable[[int, int | None], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ExportSummary:
    """Annotate a whole clip. Raises SourceTruncatedError after writing when the input was cut short.

    `on_progress(done, total)` is called after each frame; when `cancelled()` turns true the export
    stops, the partial file is deleted and ExportCancelled is raised (the window's Cancel button).
    """
    source = open_source(source_spec)
    processor = processor or FrameProcessor(config)
    info = source.info
    output = Path(output)
    masks = Path(masks_dir) if masks_dir else None
    if masks:
        try:
            masks.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecorderError(f"cannot create mask folder {masks}: {exc.strerror}") from None
    bar = ProgressBar(info.frame_count, f"export {info.name}") if progress else None
    events = _open_events(Path(events_path)) if events_path else None
    written, last_index = 0, -1
    try:
        with Recorder(output, info.width, info.height, info.fps, config.recorder, atomic=True) as recorder:
            while (item := source.read()) is not None:
                if cancelled and cancelled():
                    raise ExportCancelled(f"export of {info.name} cancelled")
                index, pts, image = item
                if index != last_index + 1:
                    processor.reset()
                last_index = index
                result = processor.process(Frame(index, time.monotonic(), image, pts), config)
                recorder.write(result.annotated)
                if events:
                    events.write(_event(result) + "\n")
                if masks and not cv2.imwrite(str(masks / f"{index:06d}.png"), result.mask):
                    raise RecorderError(f"cannot write mask {masks / f'{index:06d}.png'}")
                written += 1
                if bar:
                    bar.update(written)
                if on_progress:
                    on_progress(written, info.frame_count)
    finally:
        if events:
            events.close()
        source.close()
    if bar:
        bar.close(written)
    summary = ExportSummary(written, source.corrupt_frames, source.ended_early, output)
    if summary.corrupt_frames:
        print(f"warning: skipped {summary.corrupt_frames} corrupt frame(s) in {info.name}", file=sys.stderr)
    if summary.truncated:
        raise SourceTruncatedError(
            f"{info.name} ended early: {written} of {info.frame_count} frames exported to {output}"
        )
    return summary
