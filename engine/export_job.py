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

from engine import frame_boundary
from engine.config import Config
from engine.errors import Interrupted, RecorderError, SourceTruncatedError, Terminated
from engine.overlay import format_file_readout
from engine.pipeline import FrameProcessor
from engine.procedure import ProcedureRecord, settings_of
from engine.progress import ProgressBar
from engine.recorder import Recorder, check_output_path, describe_os_error
from engine.results import Frame, Result
from engine.sources import CameraFormat, open_source


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


def _write_event(events, result: Result, path: str | Path) -> None:
    try:
        events.write(_event(result) + "\n")
    except OSError as exc:
        raise RecorderError(f"cannot write events file {path}: {describe_os_error(exc)}") from None


def _close_events(events, path: str | Path) -> None:
    try:
        events.close()
    except OSError as exc:
        raise RecorderError(f"cannot finish events file {path}: {describe_os_error(exc)}") from None


def _write_record(record: ProcedureRecord, path: str | Path) -> None:
    try:
        record.write(path)
    except OSError as exc:
        raise RecorderError(f"cannot write procedure record {path}: {describe_os_error(exc)}") from None


def _open_events(path: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in export_clip's finally
    except OSError as exc:
        raise RecorderError(f"cannot write events file {path}: {exc.strerror}") from None


def export_clip(
    config: Config, source_spec: str, output: str | Path, *,
    events_path: str | Path | None = None, masks_dir: str | Path | None = None,
    record_path: str | Path | None = None,
    processor: FrameProcessor | None = None, progress: bool = True,
    on_progress: Callable[[int, int | None], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ExportSummary:
    """Annotate a whole clip. Raises SourceTruncatedError after writing when the input was cut short.

    `on_progress(done, total)` is called after each frame; when `cancelled()` turns true the export
    stops, the partial file is deleted and ExportCancelled is raised (the window's Cancel button).
    Ctrl-C or SIGTERM (a live source can only be ended that way) and write errors keep what was
    made: the video up to that frame (playable), the events and masks; Interrupted says where.
    Every output is opened before the first frame, so a bad path fails at once.
    """
    output = check_output_path(output, source_spec)
    source = open_source(source_spec, CameraFormat.of(config.capture), config.threads.decoder)
    processor = processor or FrameProcessor(config)
    info = source.info
    masks = Path(masks_dir) if masks_dir else None
    if masks:
        try:
            masks.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecorderError(f"cannot create mask folder {masks}: {exc.strerror}") from None
    written, last_index, first_pts, events = 0, -1, None, None
    record = ProcedureRecord(str(source_spec), info.fps, str(config.segmenter.model), settings_of(config)) \
        if record_path else None
    bar = ProgressBar(info.frame_count, f"export {info.name}") if progress else None
    try:
        events = _open_events(Path(events_path)) if events_path else None
        with Recorder(output, info.width, info.height, info.fps, config.recorder, atomic=True,
                      threads=config.threads.encoder) as recorder:
            try:
                while (item := source.read()) is not None:
                    if cancelled and cancelled():
                        raise ExportCancelled(f"export of {info.name} cancelled")
                    index, pts, image = item
                    if index != last_index + 1:
                        processor.reset()
                    last_index = index
                    first_pts = pts if first_pts is None else first_pts
                    readout = format_file_readout(pts, index, config.crf.enabled)
                    result = processor.process(Frame(index, time.monotonic(), image, pts), config, readout=readout)
                    with frame_boundary.writing():  # an interrupt waits for this frame's outputs to be complete
                        recorder.write(result.annotated, pts - first_pts)
                        if events:
                            _write_event(events, result, events_path)
                        if record:
                            record.add(result)
                        if masks and not cv2.imwrite(str(masks / f"{index:06d}.png"), result.frame_mask()):
                            raise RecorderError(f"cannot write mask {masks / f'{index:06d}.png'}")
                        written += 1
                    if bar:
                        bar.update(written)
                    if on_progress:
                        on_progress(written, info.frame_count)
            except ExportCancelled:
                recorder.abort()
                raise
    except KeyboardInterrupt as exc:
        how = "terminated" if isinstance(exc, Terminated) else "interrupted"
        raise Interrupted(f"{how} after {written} frames: the annotated video up to there is kept in {output}",
                          143 if isinstance(exc, Terminated) else 130) from None
    finally:
        source.close()
        if events:
            _close_events(events, events_path)
        if record:  # also after an interruption: the record of what was analysed
            _write_record(record, record_path)
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
