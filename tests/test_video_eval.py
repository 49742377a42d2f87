"""Video evaluation: scoring checked by hand on made-up regions, and end to end on a real sequence."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from engine.results import Polyp
from engine.tracking import TrackerSettings
from training.video_eval import AnalysedClip, FrameFacts, score_clip, summarise

from conftest import DATA, ROOT


def _square(x: int, side: int) -> Polyp:
    contour = np.array([[x, 10], [x + side - 1, 10], [x + side - 1, 10 + side - 1], [x, 10 + side - 1]], np.int32)
    return Polyp(0, side * side, (x, 10, side, side), 0.9, 0.9, contour)


def _clip(present: list[bool], truth_area: int, inter: int, area: int = 100) -> AnalysedClip:
    """A clip whose only region (when present) has `area` px, `inter` of them on a polyp of `truth_area`."""
    clip = AnalysedClip("made-up", 25.0)
    previous = 0
    for here in present:
        regions = (_square(20, 10),) if here else ()
        clip.frames.append(FrameFacts(
            regions, truth_area, np.array([area] * len(regions)), np.array([inter] * len(regions)),
            np.full((len(regions), previous), area), 1.0))
        previous = len(regions)
    return clip


def test_scores_checked_by_hand_on_a_polyp_clip():
    # found on frames 0-7, missed 8-9; the rule: 3 of 4 frames, confidence 0.9 each -> alert from frame 2
    rule = TrackerSettings(hits=3, window=4, on=0.6, keep=0.3, max_misses=5)
    row = score_clip(_clip([True] * 8 + [False] * 2, truth_area=100, inter=80), rule)
    dice_alert = 2 * 80 / (100 + 100)  # 0.8
    assert row["frames_shown"] == 6  # frames 2..7
    assert row["mean_dice"] == pytest.approx((6 * dice_alert + 4 * 0.0) / 10)
    assert row["dice_where_shown"] == pytest.approx(dice_alert)
    assert row["frame_sensitivity"] == pytest.approx(6 / 10)
    assert row["polyp_found"] and row["first_alert_frames"] == 2 and row["first_alert_ms"] == pytest.approx(80.0)
    assert row["alert_onsets"] == 1
    # on from frame 2; confidence over the last 4 frames after frame 9: (0.9 + 0.9 + 0 + 0) / 4 = 0.45 >= keep:
    # still an alert (not drawn: nothing found) at the end of the clip -> 8 frames
    assert row["alert_durations_s"] == [pytest.approx(8 / 25)]
    # shown masks: empty, empty, then identical (IoU 1) frames 2..7, then empty: changes 1->2 and 7->8 are 1
    assert row["flicker"] == pytest.approx(2 / 9)


def test_scores_checked_by_hand_on_a_polyp_free_clip():
    rule = TrackerSettings(hits=2, window=3, on=0.5, keep=0.3, max_misses=1)
    pattern = [True, True, False, False, False, True, True, True, False, False] * 3  # 30 frames = 1.2 s
    row = score_clip(_clip(pattern, truth_area=0, inter=0), rule)
    # each run of 2-3 detections turns into one alert at its second frame: 6 onsets in 1.2 s
    assert row["alert_onsets"] == 6 and row["false_alerts_per_min"] == pytest.approx(6 / (30 / 25 / 60))
    assert row["false_alarm_frames"] == pytest.approx(9 / 30)  # frames 1, 6, 7 of each 10
    assert row["frame_sensitivity"] is None and row["mean_dice"] == pytest.approx(21 / 30)
    overall = summarise([row])
    assert overall["polyp_free_clips"] == 1 and overall["false_alerts_per_min"] == pytest.approx(300.0)


def test_summary_names_the_polyps_never_alerted():
    rule = TrackerSettings(hits=2, window=3, on=0.5, keep=0.3, max_misses=1)
    found = score_clip(_clip([True] * 5, truth_area=100, inter=80), rule)
    missed = {**score_clip(_clip([True] + [False] * 4, truth_area=100, inter=80), rule), "clip": "missed-one"}
    free = {**score_clip(_clip([False] * 5, truth_area=0, inter=0), rule), "clip": "free"}
    assert found["polyp_found"] and not missed["polyp_found"]
    overall = summarise([found, missed, free])
    assert overall["polyps_missed"] == ["missed-one"] and overall["per_polyp_sensitivity"] == 0.5


@pytest.mark.slow
def test_evaluate_video_end_to_end_on_a_real_sequence(tmp_path, model_path):
    src = DATA / "cvc-clinicdb"
    if not (src / "sequences.csv").is_file():
        pytest.skip(f"real dataset not available at {DATA} (the CI machine provides ../shared/data)")
    with (src / "sequences.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["sequence"] == "1"][:12]
    folder = tmp_path / "seq"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for r in rows:
        shutil.copy(src / "images" / f"{r['frame']}.jpg", folder / "images")
        shutil.copy(src / "masks" / f"{r['frame']}.png", folder / "masks")
    with (folder / "sequences.csv").open("w") as f:
        f.write("frame,sequence\n" + "".join(f"{r['frame']},1\n" for r in rows))
    clips = {}
    for tracking in ("off", "on"):
        out = tmp_path / f"{tracking}.json"
        proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--model", str(model_path), "evaluate",
                               "--video", str(folder), "--tracking", tracking, "--json", str(out)],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "per-frame Dice" in proc.stdout and "Traceback" not in proc.stderr
        payload = json.loads(out.read_text())
        (overall,) = payload["overall"].values()
        assert overall["clips"] == 1 and overall["frames"] == 12 and overall["polyp_clips"] == 1
        ((clips[tracking],),) = payload["clips"].values()
    off, on = clips["off"], clips["on"]
    # the tracker can only withhold what frame-by-frame shows, never add to it, and only later
    assert on["frames_shown"] <= off["frames_shown"] and on["frame_sensitivity"] <= off["frame_sensitivity"]
    assert off["polyp_found"], "the model finds this ClinicDB polyp frame by frame"
    if on["polyp_found"]:
        assert on["first_alert_frames"] >= off["first_alert_frames"]
