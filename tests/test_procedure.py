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
