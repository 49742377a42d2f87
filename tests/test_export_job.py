"""The frame-exact export used by `main.py export` and the window's 'Export whole file…'."""

from __future__ import annotations

import pytest

from engine.export_job import ExportCancelled, export_clip

from conftest import count_frames_pyav


def test_progress_reports_every_frame(config, real_clip, real_frames, tmp_path):
    seen: list[tuple[int, int | None]] = []
    summary = export_clip(config, str(real_clip), tmp_path / "out.mp4", progress=False,
                          on_progress=lambda done, total: seen.append((done, total)))
    n = len(real_frames)
    assert summary.frames_written == n and count_frames_pyav(summary.output) == n
    assert seen == [(i, n) for i in range(1, n + 1)]


def test_cancel_leaves_nothing_behind(config, real_clip, tmp_path):
    done: list[int] = []
    with pytest.raises(ExportCancelled):
        export_clip(config, str(real_clip), tmp_path / "out.mp4", progress=False,
                    on_progress=lambda d, _: done.append(d), cancelled=lambda: len(done) >= 5)
    assert len(done) == 5
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folders_are_created(config, real_clip, tmp_path):
    deep = tmp_path / "a" / "b"
    summary = export_clip(config, str(real_clip), deep / "out.mp4", events_path=deep / "ev" / "events.jsonl",
                          masks_dir=deep / "masks", progress=False)
    lines = (deep / "ev" / "events.jsonl").read_text().splitlines()
    assert len(lines) == summary.frames_written == len(list((deep / "masks").iterdir()))
