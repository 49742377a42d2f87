"""Evaluator: metrics on hand-made masks (empty-mask frames included) and a real end-to-end run."""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import pytest

from engine.errors import DataError
from training.metrics import Counts, DatasetScores, image_scores


def _mask(cells: list[tuple[int, int]], shape=(4, 4)) -> np.ndarray:
    m = np.zeros(shape, bool)
    for r, c in cells:
        m[r, c] = True
    return m


def test_image_scores_hand_computed():
    gt = _mask([(0, 0), (0, 1), (1, 0), (1, 1)])  # 4 px
    pred = _mask([(0, 0), (0, 1), (2, 2)])  # tp 2, fp 1, fn 2
    c = Counts.of(gt, pred)
    assert (c.tp, c.fp, c.fn, c.tn) == (2, 1, 2, 11)
    s = image_scores(c)
    assert s["dice"] == pytest.approx(4 / 7)
    assert s["iou"] == pytest.approx(2 / 5)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(1 / 2)
    assert s["f2"] == pytest.approx(5 * (2 / 3) * 0.5 / (4 * (2 / 3) + 0.5))


def test_empty_mask_frames_count_only_when_nothing_is_predicted():
    empty = _mask([])
    assert image_scores(Counts.of(empty, empty)) == dict.fromkeys(("dice", "iou", "precision", "recall", "f2"), 1.0)
    assert set(image_scores(Counts.of(empty, _mask([(3, 3)]))).values()) == {0.0}
    missed = image_scores(Counts.of(_mask([(1, 1)]), empty))
    assert missed["dice"] == 0.0 and missed["precision"] == 0.0 and missed["recall"] == 0.0


def test_dataset_summary_per_image_vs_pooled():
    scores = DatasetScores()
    big = np.ones((4, 4), bool)
    scores.add(big, big)  # perfect, 16 px
    scores.add(_mask([(0, 0)]), _mask([(3, 3)]))  # small polyp missed, one false pixel
    scores.add(_mask([]), _mask([]))  # polyp-free, clean
    scores.add(_mask([]), _mask([(2, 2)]))  # polyp-free, false alarm
    s = scores.summary()
    assert s["n"] == 4 and s["empty_frames"] == 2
    assert s["mean_dice"] == pytest.approx((1 + 0 + 1 + 0) / 4)
    assert s["pooled_dice"] == pytest.approx(2 * 16 / (2 * 16 + 2 + 1))  # the seed's number: flattering
    assert s["false_alarm_rate"] == pytest.approx(0.5)
    fg = 16 / (16 + 2 + 1)
    bg = (14 + 16 + 15) / (14 + 16 + 15 + 2 + 1)  # tn of frames 2-4 (frame 1 has none); fp 2, fn 1
    assert s["two_class_miou"] == pytest.approx((fg + bg) / 2)


def test_false_alarms_count_what_the_app_would_outline_not_stray_pixels():
    from training.evaluate import app_reports_polyp

    prob = np.zeros((100, 100), np.float32)
    speck = prob.copy()
    speck[10:12, 10:12] = 0.9  # 4 px < 0.0005 * 10,000 = 5 px: removed by the app
    blob = prob.copy()
    blob[40:60, 40:60] = 0.9
    at_threshold = prob.copy()
    at_threshold[40:60, 40:60] = 0.5  # "strictly above" the threshold counts
    assert not app_reports_polyp(prob, 0.5, 0.0005)
    assert not app_reports_polyp(speck, 0.5, 0.0005) and app_reports_polyp(speck, 0.5, 0.0)
    assert app_reports_polyp(blob, 0.5, 0.0005) and not app_reports_polyp(blob, 0.95, 0.0005)
    assert not app_reports_polyp(at_threshold, 0.5, 0.0005)
    scores = DatasetScores()
    empty = np.zeros((100, 100), bool)
    scores.add(empty, speck > 0.5, reported=app_reports_polyp(speck, 0.5, 0.0005))
    scores.add(empty, blob > 0.5, reported=app_reports_polyp(blob, 0.5, 0.0005))
    scores.add(empty, prob > 0.5, reported=False)
    s = scores.summary()
    assert s["false_alarm_rate"] == pytest.approx(1 / 3) and s["pixel_false_alarm_rate"] == pytest.approx(2 / 3)


def test_no_polyp_free_frames_gives_no_false_alarm_rate():
    scores = DatasetScores()
    scores.add(_mask([(0, 0)]), _mask([(0, 0)]))
    assert scores.summary()["false_alarm_rate"] is None


def _dataset(root, with_split: bool, prefix: str = ""):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        h, w = 90 + 10 * i, 120
        cv2.imwrite(str(root / "images" / f"{prefix}{i}.jpg"), rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        mask = np.zeros((h, w), np.uint8)
        if i:
            mask[20:50, 30:70] = 255
        cv2.imwrite(str(root / "masks" / f"{prefix}{i}.png"), mask)
    if with_split:
        (root / "test.txt").write_text("0\n2\n")
    return root


def _args(**kw) -> argparse.Namespace:
    from training.evaluate import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = []
    for key, value in kw.items():
        for v in value if isinstance(value, list) else [value]:
            argv += [f"--{key}", str(v)]
    return parser.parse_args(argv)


def test_missing_dataset_is_a_data_error(tmp_path, model_path):
    from training.evaluate import run

    with pytest.raises(DataError, match="not found"):
        run(_args(data=[tmp_path / "nope"], model=model_path))


def test_evaluate_end_to_end_through_the_engine(tmp_path, model_path, capsys):
    from training.evaluate import run

    a = _dataset(tmp_path / "with-split", True)
    b = _dataset(tmp_path / "all-frames", False)
    out = tmp_path / "res.json"
    for crf in ("off", "on"):
        assert run(_args(data=[a, b], model=model_path, crf=crf, json=out)) == 0
        results = json.loads(out.read_text())
        assert set(results) == {"with-split", "all-frames"}
        assert results["with-split"]["n"] == 2 and results["all-frames"]["n"] == 3
        for r in results.values():
            assert {"n", "mean_dice", "mean_iou", "pooled_dice", "false_alarm_rate"} <= set(r)
            assert r["empty_frames"] == 1 and r["false_alarm_rate"] <= r["pixel_false_alarm_rate"]
            assert r["threshold"] == 0.5 and r["min_area_frac"] == pytest.approx(0.0005)
    text = capsys.readouterr().out
    assert "| dataset |" in text and "pooled Dice (seed)" in text


def test_per_frame_records_name_each_frame_and_average_to_the_summary():
    scores = DatasetScores()
    scores.add(np.ones((4, 4), bool), np.ones((4, 4), bool), name="perfect")
    scores.add(_mask([(0, 0), (0, 1)]), _mask([(0, 0)]), name="half")  # Dice 2/3
    scores.add(_mask([]), _mask([(2, 2)]), reported=False, name="speck")
    frames = scores.per_frame()
    assert [f["frame"] for f in frames] == ["perfect", "half", "speck"]
    assert [f["dice"] for f in frames] == pytest.approx([1.0, 2 / 3, 0.0])
    assert [f["empty"] for f in frames] == [False, False, True]
    assert [f["reported"] for f in frames] == [True, True, False]
    assert np.mean([f["dice"] for f in frames]) == pytest.approx(scores.summary()["mean_dice"])


def test_evaluate_per_frame_json_lists_every_scored_frame(tmp_path, model_path):
    from training.evaluate import run

    data = _dataset(tmp_path / "set", False, prefix="img")
    out = tmp_path / "res.json"
    args = _args(data=[data], model=model_path, crf="off", json=out)
    args.per_frame = True
    assert run(args) == 0
    r = json.loads(out.read_text())["set"]
    assert sorted(f["frame"] for f in r["frames"]) == ["img0", "img1", "img2"]  # the frames' own names
    assert np.mean([f["dice"] for f in r["frames"]]) == pytest.approx(r["mean_dice"])
    assert sum(f["empty"] for f in r["frames"]) == r["empty_frames"] == 1
    assert run(_args(data=[data], model=model_path, crf="off", json=out)) == 0
    assert "frames" not in json.loads(out.read_text())["set"]  # only when asked: the files stay small


def _result(dice: list[float], reported: list[bool] | None = None, empty: bool = False,
            reverse: bool = False) -> dict:
    reported = reported or [True] * len(dice)
    frames = [{"frame": f"f{i}", "dice": d, "empty": empty, "reported": r}
              for i, (d, r) in enumerate(zip(dice, reported, strict=True))]
    return {"frames": frames[::-1] if reverse else frames}


def test_compare_pairs_frames_by_name_not_by_position():
    from training.compare import compare

    a = {"val": _result([0.1, 0.9])}
    same = compare(a, {"val": _result([0.1, 0.9], reverse=True)})["val"]  # listed in the other order
    assert same["difference"] == 0.0 and same["ci_low"] == 0.0 and same["ci_high"] == 0.0
    shifted = compare({"val": _result([0.5, 0.6, 0.7, 0.8])}, {"val": _result([0.6, 0.7, 0.8, 0.9], reverse=True)})
    assert shifted["val"]["difference"] == pytest.approx(0.1)
    assert shifted["val"]["ci_low"] == pytest.approx(0.1) and shifted["val"]["ci_high"] == pytest.approx(0.1)


def test_compare_interval_is_the_95_percent_spread_of_the_mean_difference():
    from training.compare import compare

    rng = np.random.default_rng(5)
    base = rng.uniform(0.5, 0.9, 200)
    diff = rng.normal(0.02, 0.05, 200)
    r = compare({"val": _result(list(base))}, {"val": _result(list(base + diff))}, resamples=20000)["val"]
    half = 1.96 * diff.std() / np.sqrt(diff.size)  # the bootstrap of a mean of 200 is close to normal
    assert r["difference"] == pytest.approx(diff.mean())
    assert r["ci_low"] == pytest.approx(diff.mean() - half, abs=0.1 * half)
    assert r["ci_high"] == pytest.approx(diff.mean() + half, abs=0.1 * half)  # a 90 % interval would miss


def test_compare_counts_discordant_alarms_on_polyp_free_frames():
    from training.compare import compare, mcnemar_p

    a = {"free": _result([1.0] * 6, [False] * 6, empty=True)}
    b = {"free": _result([0.0] * 5 + [1.0], [True] * 5 + [False], empty=True)}
    r = compare(a, b)["free"]
    assert (r["alarms_a"], r["alarms_b"], r["only_a"], r["only_b"]) == (0, 5, 0, 5)
    assert r["mcnemar_p"] == pytest.approx(2 / 32)  # five of five discordant frames one way
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(3, 3) == 1.0
    assert mcnemar_p(1, 4) == pytest.approx(2 * (1 + 5) / 32)


def test_compare_refuses_results_it_cannot_pair(tmp_path, capsys):
    from training.compare import compare, main

    with pytest.raises(DataError, match="different frames"):
        compare({"val": _result([0.5, 0.6])}, {"val": _result([0.5])})
    with pytest.raises(DataError, match="--per-frame"):
        compare({"val": {"n": 2}}, {"val": _result([0.5])})
    with pytest.raises(DataError, match="share no dataset"):
        compare({"val": _result([0.5])}, {"other": _result([0.5])})
    twice = _result([0.5, 0.6])
    twice["frames"][1]["frame"] = "f0"
    with pytest.raises(DataError, match="occurs twice"):
        compare({"val": twice}, {"val": twice})
    with pytest.raises(DataError, match="each frame needs"):
        compare({"val": {"frames": [{"frame": "f0"}]}}, {"val": _result([0.5])})
    good = tmp_path / "a.json"
    good.write_text(json.dumps({"val": _result([0.5, 0.7]), "extra": _result([1.0])}))
    other = tmp_path / "b.json"
    other.write_text(json.dumps({"val": _result([0.5, 0.7])}))
    assert main([str(good), str(other)]) == 0
    out = capsys.readouterr().out
    assert "+0.0000" in out and "extra: not compared" in out
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    for bad in (tmp_path / "missing.json", tmp_path, listed):
        assert main([str(good), str(bad)]) == DataError.exit_code
        assert capsys.readouterr().err.count("\n") == 1
