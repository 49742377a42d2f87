"""The procedure record of a real export: JSON and HTML agree with the events file."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_record_of_a_real_clip_matches_its_events(tmp_path, config_file, real_clip):
    events, stem = tmp_path / "ev.jsonl", tmp_path / "record"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--config", str(config_file), "export",
                           str(real_clip), "-o", str(tmp_path / "o.mp4"), "--events", str(events),
                           "--record", str(stem)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    frames = [json.loads(line) for line in events.read_text().splitlines()]
    alerts: dict[int, list[dict]] = {}
    for frame in frames:
        for p in frame["polyps"]:
            if p["alert"]:
                alerts.setdefault(p["id"], []).append({"frame": frame["index"], "time_s": frame["time_s"],
                                                       "confidence": p["confidence"]})
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["frames_analysed"] == len(frames) and record["source"] == str(real_clip)
    assert record["settings"]["tracking"]["hits"] >= 1 and record["model"]
    assert sorted(p["id"] for p in record["polyps"]) == sorted(alerts)
    assert alerts, "the real clip has a polyp the model alerts on"
    for p in record["polyps"]:
        seen = alerts[p["id"]]
        assert p["first_seen"]["frame"] == seen[0]["frame"] and p["last_seen"]["frame"] == seen[-1]["frame"]
        assert p["alert_frames"] == len(seen)
        assert p["peak_confidence"] == pytest.approx(max(s["confidence"] for s in seen), abs=1e-4)
    page = (tmp_path / "record.html").read_text()
    for p in record["polyps"]:
        assert f"polyp {p['id']}" in page
    assert page.count("data:image/jpeg;base64,") == len(record["polyps"])  # one best view per polyp
    timeline = page.split('data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(timeline)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "not a medical device" in page


def _alert_result(index: int, polyp_id: int, confidence: float):
    import numpy as np

    from engine.results import Frame, Polyp, Result

    image = np.full((120, 160, 3), 80, np.uint8)
    contour = np.array([[40, 30], [80, 30], [80, 70], [40, 70]], np.int32)
    polyp = Polyp(id=polyp_id, area=1600, box=(40, 30, 40, 40), mean_prob=confidence, max_prob=confidence,
                  contour=contour, alert=True, track_confidence=confidence)
    frame = Frame(index=index, capture_time=0.0, image=image, pts_s=index / 25)
    return Result(frame, np.zeros((256, 256), np.float32), None, (polyp,), {}, 0.0)


def test_hours_of_findings_keep_memory_bounded(monkeypatch, tmp_path):
    """Thumbnails only for the MAX_THUMBNAILS highest peaks; the timeline is flat arrays; the plot
    draws the findings longest on screen (a looped clip made 11,000 findings in an hour)."""
    from engine import procedure

    monkeypatch.setattr(procedure, "MAX_THUMBNAILS", 3)
    monkeypatch.setattr(procedure, "PLOT_ROWS", 4)
    record = procedure.ProcedureRecord("clip", 25.0, "model", {})
    peaks = [0.5, 0.9, 0.6, 0.95, 0.4, 0.7]
    index = 0
    for polyp_id, peak in enumerate(peaks, start=1):
        for _ in range(polyp_id):  # polyp n is on screen n frames
            record.add(_alert_result(index, polyp_id, peak))
            index += 1
    kept = sorted(f.id for f in record.findings.values() if f.thumbnail_jpeg)
    assert kept == [2, 4, 6]  # peaks 0.9, 0.95, 0.7: the three highest
    assert len(record.timeline) == sum(range(1, 7)) and record.timeline[0] == (0.0, 1)
    json_path, html_path = record.write(tmp_path / "rec")
    assert len(json.loads(json_path.read_text())["polyps"]) == 6  # every finding is listed
    page = html_path.read_text()
    assert page.count("data:image/jpeg;base64,") == 3
    assert "data:image/png;base64," in page  # the timeline plot, drawn for the longest 4
