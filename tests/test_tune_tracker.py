"""The tracker tuner's grid: only rules that withhold short blips, and the choice among them."""

from __future__ import annotations

import pytest

from engine.tracking import TrackerSettings
from training.tune_tracker import alerts_on_blip, candidates, choose


@pytest.mark.parametrize(("settings", "frames", "alerts"), [
    (TrackerSettings(1, 6, 0.3, 0.2, 5), 2, True),    # 2 x 1.0 / 6 = 0.33 reaches 0.3
    (TrackerSettings(1, 6, 0.3, 0.2, 5), 1, False),   # 1 / 6 = 0.17
    (TrackerSettings(1, 8, 0.4, 0.2, 5), 3, False),   # 3 / 8 = 0.375
    (TrackerSettings(1, 8, 0.4, 0.2, 5), 4, True),    # 4 / 8 = 0.5
    (TrackerSettings(4, 4, 0.3, 0.2, 5), 3, False),   # 3 hits of the 4 asked for
])
def test_a_blip_alerts_exactly_when_the_rule_allows_it(settings, frames, alerts):
    assert alerts_on_blip(settings, frames) is alerts


def test_the_grid_keeps_only_rules_that_withhold_three_frame_blips():
    every = candidates(max_blip=0)
    safe = candidates(max_blip=3)
    assert 0 < len(safe) < len(every)
    assert all(not alerts_on_blip(s, 3) for s in safe)
    assert {s for s in every if not alerts_on_blip(s, 3)} == set(safe)


def test_a_blip_limit_no_rule_can_meet_is_a_usage_error_before_any_clip_is_read(tmp_path, capsys):
    from engine.errors import UsageError
    from training.tune_tracker import main

    assert candidates(max_blip=6) == []  # every rule alerts once a blip lasts as long as the largest `hits`
    code = main(["--video", str(tmp_path / "no-such-folder"), "--max-blip", "6"])
    assert code == UsageError.exit_code
    assert "--max-blip 6" in capsys.readouterr().err


def test_the_choice_is_the_quietest_rule_meeting_sensitivity_and_delay():
    rows = [
        {"per_polyp_sensitivity": 0.99, "median_first_alert_frames": 2, "false_alerts_per_min": 1.0,
         "false_alarm_frames": 0.01, "frame_sensitivity": 0.9, "name": "noisy"},
        {"per_polyp_sensitivity": 0.96, "median_first_alert_frames": 3, "false_alerts_per_min": 0.0,
         "false_alarm_frames": 0.0, "frame_sensitivity": 0.8, "name": "quiet"},
        {"per_polyp_sensitivity": 0.90, "median_first_alert_frames": 1, "false_alerts_per_min": 0.0,
         "false_alarm_frames": 0.0, "frame_sensitivity": 0.9, "name": "misses"},
        {"per_polyp_sensitivity": 1.0, "median_first_alert_frames": 6, "false_alerts_per_min": 0.0,
         "false_alarm_frames": 0.0, "frame_sensitivity": 0.9, "name": "slow"},
    ]
    assert choose(rows, 0.95, 4.0)["name"] == "quiet"
    assert choose(rows, 0.995, 4.0) is None
