"""``main.py evaluate --video``: clips through the live per-frame path, temporal state included.

A clip is either a sequence of a dataset folder (images/ + masks/ + sequences.csv: CVC-ClinicDB,
CVC-ColonDB, the pans of training/pans.py) or a video file with a mask folder beside it
(``clip.mp4`` + ``clip_masks/000000.png ...``, one mask per frame). Each clip runs through the
engine's own ``FrameProcessor`` (segment, ConvCRF, optional pixel EMA, regions, tracker) from a
fresh state, frame by frame, as the window runs it; what is scored is what the window shows as
an alert (candidates are not findings).

Two phases, so that the tracker's rule can be tuned without re-running the model: ``analyse``
keeps each frame's regions (the expensive part: model + CRF), ``score`` replays any tracker
settings over them.

Metrics (per clip and overall, at the clip's frame rate, 25 fps for frame folders):
- per-frame Dice: mean over frames (a polyp-free frame scores 1 when nothing is shown, else 0);
- Dice where shown: the mean over frames on which an alert is outlined;
- frame sensitivity: share of frames with a polyp on which an alert overlaps it;
- per-polyp sensitivity: share of clips with a polyp where an alert overlapped it at some point;
- first alert: frames (and ms) from the polyp's first frame to the first alert overlapping it;
- false-alarm frame share and false alerts per minute: on polyp-free clips, frames with an alert
  and alert onsets (a track turning into an alert) per minute;
- mean alert duration (s): how long an alert stays on, over all clips;
- flicker: mean 1 - IoU of consecutive shown masks, minus the same for the ground truth.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.config import Config
from engine.errors import DataError
from engine.results import Frame, Polyp
from engine.tracking import PolypTracker, TrackerSettings

FOLDER_FPS = 25.0


@dataclass
class Clip:
    """Frames (BGR) and masks (bool) of one clip, loaded lazily."""

    name: str
    fps: float
    frames: list[Path] | Path  # image files, or a video file
    masks: list[Path]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        images = _video_frames(self.frames) if isinstance(self.frames, Path) else (
            cv2.imread(str(p), cv2.IMREAD_COLOR) for p in self.frames)
        for image, mask_path in zip(images, self.masks, strict=False):
            mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
            if image is None or mask is None:
                raise DataError(f"{self.name}: cannot read a frame or {mask_path}")
            if mask.shape != image.shape[:2]:
                mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
            yield image, mask > 127


def _video_frames(path: Path) -> Iterator[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="bgr24")


def find_clips(folder: str | Path) -> list[Clip]:
    """The clips of a folder: sequences (sequences.csv) or video files with ``<stem>_masks/``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"video folder not found: {folder}")
    seq_file = folder / "sequences.csv"
    if seq_file.is_file():
        from training.data import IMAGE_EXTS

        with seq_file.open(newline="") as f:
            rows = list(csv.DictReader(f))
        images = {p.stem: p for p in (folder / "images").iterdir() if p.suffix.lower() in IMAGE_EXTS}
        masks = {p.stem: p for p in (folder / "masks").iterdir() if p.suffix.lower() in IMAGE_EXTS}
        order: dict[str, list[str]] = {}
        for row in rows:
            if row["frame"] not in images or row["frame"] not in masks:
                raise DataError(f"{seq_file}: frame {row['frame']} has no image or mask")
            order.setdefault(row["sequence"], []).append(row["frame"])
        return [Clip(f"{folder.name}/{seq}", FOLDER_FPS, [images[s] for s in stems], [masks[s] for s in stems])
                for seq, stems in order.items()]
    clips = []
    for video in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mp4", ".mkv", ".avi", ".mov")):
        mask_dir = folder / f"{video.stem}_masks"
        if not mask_dir.is_dir():
            raise DataError(f"{video}: no mask folder {mask_dir.name} beside it")
        import av

        with av.open(str(video)) as container:
            rate = container.streams.video[0].average_rate
        clips.append(Clip(f"{folder.name}/{video.stem}", float(rate or FOLDER_FPS), video,
                          sorted(mask_dir.glob("*.png"))))
    if not clips:
        raise DataError(f"{folder}: no sequences.csv and no video files with mask folders")
    return clips


@dataclass
class FrameFacts:
    """What scoring needs of one frame, computed once: pixel counts, no masks.

    Regions are disjoint (connected components), so the Dice and IoU of any subset of them against
    the ground truth or the previous frame's subset follow from these sums alone; the tracker's
    rule can then be replayed thousands of times over a clip at no pixel cost.
    """

    regions: tuple[Polyp, ...]
    truth_area: int
    region_area: np.ndarray  # (R,) pixels of each region (its filled outline)
    region_truth: np.ndarray  # (R,) pixels of each region inside the ground truth
    region_previous: np.ndarray  # (R, R_prev) pixels shared with each region of the previous frame
    truth_previous_iou: float  # IoU of this frame's ground truth with the previous frame's


@dataclass
class AnalysedClip:
    """Per frame: the regions the engine found (before tracking) and their pixel facts."""

    name: str
    fps: float
    frames: list[FrameFacts] = field(default_factory=list)

    @property
    def regions(self) -> list[tuple[Polyp, ...]]:
        return [f.regions for f in self.frames]


def _region_masks(regions: tuple[Polyp, ...], shape: tuple[int, ...]) -> list[np.ndarray]:
    masks = []
    for r in regions:
        m = np.zeros(shape[:2], np.uint8)
        cv2.fillPoly(m, [r.contour.reshape(-1, 1, 2)], 1)
        masks.append(m.astype(bool))
    return masks


def analyse(clips: list[Clip], config: Config, processor: Any = None, limit: int | None = None) -> list[AnalysedClip]:
    """Run every clip through the engine from a fresh state; keep each frame's regions and pixel facts."""
    from engine.pipeline import FrameProcessor

    processor = processor or FrameProcessor(config)
    out = []
    for clip in clips[:limit]:
        processor.reset()
        analysed = AnalysedClip(clip.name, clip.fps)
        previous_masks: list[np.ndarray] = []
        previous_truth = None
        for i, (image, truth) in enumerate(clip):
            result = processor.process(Frame(i, time.monotonic(), image, i / clip.fps), config, draw=False)
            regions = tuple(_untracked(p) for p in result.polyps)  # the tracker's verdict is replayed by `score`
            masks = _region_masks(regions, truth.shape)
            facts = FrameFacts(
                regions, int(truth.sum()),
                np.array([m.sum() for m in masks], np.int64),
                np.array([(m & truth).sum() for m in masks], np.int64),
                np.array([[(m & p).sum() for p in previous_masks] for m in masks], np.int64).reshape(
                    len(masks), len(previous_masks)),
                1.0 if previous_truth is None else _iou(previous_truth, truth))
            analysed.frames.append(facts)
            previous_masks, previous_truth = masks, truth
        if analysed.frames:
            out.append(analysed)
    return out


def _untracked(p: Polyp) -> Polyp:
    from dataclasses import replace

    return replace(p, id=0, alert=True, track_confidence=None)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return 1.0 if union == 0 else int((a & b).sum()) / union


def score_clip(clip: AnalysedClip, settings: TrackerSettings) -> dict[str, Any]:
    """Replay the tracker over the clip's regions and score what would be shown."""
    tracker = PolypTracker(settings)
    dice, dice_shown, hits, positives = [], [], 0, 0
    first_truth = first_alert = None
    alerting: set[int] = set()
    onsets, durations, running = 0, [], {}
    flicker_pred, flicker_truth = [], []
    previous_shown = np.zeros(0, bool)
    for i, facts in enumerate(clip.frames):
        polyps = tracker.update(facts.regions, i)
        # the tracker returns this frame's regions (sorted); map them back to their index in `facts`
        shown = np.zeros(len(facts.regions), bool)
        for p in polyps:
            if p.alert:
                shown[next(k for k, r in enumerate(facts.regions) if r.contour is p.contour)] = True
        shown_area = int(facts.region_area[shown].sum())
        inter = int(facts.region_truth[shown].sum())
        total = facts.truth_area + shown_area
        dice.append(1.0 if total == 0 else 2.0 * inter / total)
        if shown_area:
            dice_shown.append(dice[-1])
        if facts.truth_area:
            positives += 1
            first_truth = i if first_truth is None else first_truth
            if inter:
                hits += 1
                first_alert = i if first_alert is None else first_alert
        now = {p.id for p in polyps if p.alert} | {t.id for t in tracker.tracks if t.alert}
        for track_id in now - alerting:
            onsets += 1
            running[track_id] = i
        for track_id in alerting - now:
            durations.append(i - running.pop(track_id))
        alerting = now
        if i:
            shared = int(facts.region_previous[np.ix_(shown, previous_shown)].sum())
            before = int(clip.frames[i - 1].region_area[previous_shown].sum())
            union = shown_area + before - shared
            flicker_pred.append(0.0 if union == 0 else 1.0 - shared / union)
            flicker_truth.append(1.0 - facts.truth_previous_iou)
        previous_shown = shown
    durations += [len(clip.frames) - start for start in running.values()]
    n, minutes = len(clip.frames), len(clip.frames) / clip.fps / 60.0
    delay = None if first_alert is None or first_truth is None else first_alert - first_truth
    return {
        "clip": clip.name, "frames": n, "minutes": minutes, "polyp_frames": positives, "has_polyp": positives > 0,
        "mean_dice": float(np.mean(dice)), "dice_where_shown": float(np.mean(dice_shown)) if dice_shown else None,
        "frames_shown": len(dice_shown),
        "frame_sensitivity": hits / positives if positives else None,
        "polyp_found": first_alert is not None if positives else None,
        "first_alert_frames": delay, "first_alert_ms": None if delay is None else 1000.0 * delay / clip.fps,
        "false_alarm_frames": None if positives else len(dice_shown) / n,
        "false_alerts_per_min": None if positives else onsets / minutes,
        "alert_onsets": onsets, "alert_durations_s": [d / clip.fps for d in durations],
        "flicker": float(np.mean(flicker_pred) - np.mean(flicker_truth)) if flicker_pred else 0.0,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall numbers: frame-weighted where per frame, clip-counted where per polyp or per clip."""
    def mean(values: list) -> float | None:
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    pos, free = [r for r in rows if r["has_polyp"]], [r for r in rows if not r["has_polyp"]]
    frames = sum(r["frames"] for r in rows)
    shown = sum(r["frames_shown"] for r in pos)
    durations = [d for r in rows for d in r["alert_durations_s"]]
    delays = [r["first_alert_frames"] for r in pos if r["first_alert_frames"] is not None]
    free_minutes = sum(r["minutes"] for r in free)
    return {
        "clips": len(rows), "frames": frames, "polyp_clips": len(pos), "polyp_free_clips": len(free),
        "mean_dice": sum(r["mean_dice"] * r["frames"] for r in rows) / frames if frames else None,
        "dice_where_shown": (sum((r["dice_where_shown"] or 0.0) * r["frames_shown"] for r in pos) / shown
                             if shown else None),
        "frame_sensitivity": (sum(r["frame_sensitivity"] * r["polyp_frames"] for r in pos)
                              / sum(r["polyp_frames"] for r in pos) if pos else None),
        "per_polyp_sensitivity": sum(bool(r["polyp_found"]) for r in pos) / len(pos) if pos else None,
        "polyps_missed": sorted(r["clip"] for r in pos if not r["polyp_found"]),  # pairs two models' misses
        "median_first_alert_frames": float(np.median(delays)) if delays else None,
        "false_alarm_frames": (sum(r["false_alarm_frames"] * r["frames"] for r in free) / sum(r["frames"] for r in free)
                               if free else None),
        "false_alerts_per_min": sum(r["alert_onsets"] for r in free) / free_minutes if free else None,
        "mean_alert_duration_s": mean(durations),
        "flicker": mean([r["flicker"] for r in rows]),
    }


def settings_of(config: Config, tracking: bool | None = None) -> TrackerSettings:
    """The tracker rule the app would use (``tracking=False``: frame by frame)."""
    from engine.pipeline import tracker_settings

    if tracking is not None:
        config = config.replace("tracking", enabled=tracking)
    return tracker_settings(config)


COLUMNS = [("clips", "clips", "{}"), ("frames", "frames", "{}"), ("mean_dice", "per-frame Dice", "{:.3f}"),
           ("dice_where_shown", "Dice where shown", "{:.3f}"), ("frame_sensitivity", "frame sens.", "{:.3f}"),
           ("per_polyp_sensitivity", "per-polyp sens.", "{:.3f}"),
           ("median_first_alert_frames", "first alert (frames, median)", "{:.1f}"),
           ("false_alarm_frames", "false-alarm frames", "{:.3f}"),
           ("false_alerts_per_min", "false alerts/min", "{:.1f}"),
           ("mean_alert_duration_s", "alert duration (s)", "{:.2f}"), ("flicker", "flicker", "{:+.3f}")]


def markdown(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| clips | " + " | ".join(h for _, h, _ in COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for name, r in results.items():
        cells = ["–" if r.get(k) is None else fmt.format(r[k]) for k, _, fmt in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_video(args: Any, cfg: Config) -> int:
    """``evaluate --video``: analyse each folder, score with the config's tracker rule, print and --json."""
    from engine.pipeline import FrameProcessor

    if args.crf is not None:
        cfg = cfg.replace("crf", enabled=args.crf == "on")
    if args.threshold is not None:
        cfg = cfg.replace("postprocess", threshold=args.threshold)
    if getattr(args, "smoothing", None) is not None:
        cfg = cfg.replace("postprocess", smoothing=args.smoothing == "on")
    tracking = None if getattr(args, "tracking", None) is None else args.tracking == "on"
    settings = settings_of(cfg, tracking)
    processor = FrameProcessor(cfg)
    results, per_clip = {}, {}
    for folder in args.video:
        analysed = analyse(find_clips(folder), cfg, processor, args.limit)
        rows = [score_clip(c, settings) for c in analysed]
        name = "/".join(Path(folder).parts[-2:])  # e.g. test/cvc-clinicdb vs test_free/cvc-clinicdb
        results[name] = summarise(rows)
        per_clip[name] = rows
    print(f"model {cfg.segmenter.model}, ConvCRF {'on' if cfg.crf.enabled else 'off'}, threshold "
          f"{cfg.postprocess.threshold}, pixel EMA {'on' if cfg.postprocess.smoothing else 'off'}, tracker "
          f"{settings}; what is scored is what the window shows as an alert")
    print(markdown(results))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        payload = {"settings": {"tracker": settings.__dict__, "crf": cfg.crf.enabled,
                                "threshold": cfg.postprocess.threshold, "smoothing": cfg.postprocess.smoothing,
                                "model": cfg.segmenter.model},
                   "overall": results, "clips": per_clip}
        Path(args.json).write_text(json.dumps(payload, indent=1, default=float) + "\n")
    return 0
