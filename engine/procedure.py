"""The procedure record: every polyp found in a session or an export, for machines (JSON) and people (HTML).

Fed with each Result (``add``), it keeps per alerted track: id, first and last seen (source time
and frame), how long it was on screen as an alert, its peak confidence and the best thumbnail
(the frame of peak confidence, cropped around the polyp, kept as a small JPEG). Only alerts count:
a candidate that never persisted is not a finding. Memory stays bounded over hours: the timeline
is two flat arrays (8 bytes an alert frame) and thumbnails are kept for the `MAX_THUMBNAILS` findings
of highest peak confidence (a one-hour soak of a looped clip, 11,000 findings, had grown 50 MB
with one thumbnail per finding and a list of tuples).

The HTML page is self-contained (thumbnails and the timeline plot embedded as data URLs) so it
can be mailed or archived as one file. The timeline is drawn by matplotlib.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import html
import io
import json
import threading
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.results import Result

VERSION = "0.1.0"
THUMB_SIDE = 160
MAX_THUMBNAILS = 300  # findings of highest peak confidence that keep a thumbnail (~3.5 kB each)
PLOT_ROWS = 60  # the timeline plot draws the findings longest on screen


@dataclass
class Finding:
    """One polyp (an alerted track) of the procedure."""

    id: int
    first_frame: int
    first_s: float
    last_frame: int
    last_s: float
    alert_frames: int = 0
    peak_confidence: float = 0.0
    peak_frame: int = 0
    peak_s: float = 0.0
    thumbnail_jpeg: bytes = field(default=b"", repr=False)

    def to_json(self, fps: float) -> dict[str, Any]:
        return {
            "id": self.id, "first_seen": {"frame": self.first_frame, "time_s": round(self.first_s, 3)},
            "last_seen": {"frame": self.last_frame, "time_s": round(self.last_s, 3)},
            "duration_s": round(self.last_s - self.first_s + 1.0 / fps, 3),
            "alert_frames": self.alert_frames, "peak_confidence": round(self.peak_confidence, 4),
            "best_frame": {"frame": self.peak_frame, "time_s": round(self.peak_s, 3)},
        }


def _thumbnail(image: np.ndarray, box: tuple[int, int, int, int]) -> bytes:
    """The polyp with some context around it, as a small JPEG."""
    x, y, w, h = box
    side = int(max(w, h) * 1.6) + 8
    cx, cy = x + w // 2, y + h // 2
    height, width = image.shape[:2]
    x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
    piece = image[y0:min(height, y0 + side), x0:min(width, x0 + side)]
    scale = THUMB_SIDE / max(piece.shape[:2])
    piece = cv2.resize(piece, (max(1, round(piece.shape[1] * scale)), max(1, round(piece.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", piece, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return data.tobytes() if ok else b""


class ProcedureRecord:
    """Collects findings from results; writes ``<stem>.json`` and ``<stem>.html``."""

    def __init__(self, source: str, fps: float, model: str, settings: dict[str, Any]):
        self.source, self.fps, self.model, self.settings = source, fps or 25.0, model, settings
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self.findings: dict[int, Finding] = {}
        self.frames = 0
        self.last_s = 0.0
        self._times = array("f")  # source time of every alert frame...
        self._ids = array("i")  # ...and its finding's id
        self._thumbnailed: dict[int, Finding] = {}  # the findings that hold a thumbnail (<= MAX_THUMBNAILS)
        self._lock = threading.Lock()  # the engine thread adds, the GUI thread reads and writes

    def snapshot(self) -> list[Finding]:
        """The findings so far, in order of appearance (copies, safe to keep)."""
        with self._lock:
            return [dataclasses.replace(f) for f in sorted(self.findings.values(), key=lambda f: f.first_s)]

    def add(self, result: Result) -> None:
        """One processed frame (call in frame order)."""
        with self._lock:
            self._add(result)

    def _add(self, result: Result) -> None:
        if result.frame.reanalysis:
            return  # the same frame again after a settings change: not another frame of the procedure
        self.frames += 1
        t, index = result.frame.pts_s, result.frame.index
        self.last_s = max(self.last_s, t)
        for polyp in result.polyps:
            if not polyp.alert or not polyp.id:
                continue
            f = self.findings.get(polyp.id)
            if f is None:
                f = self.findings[polyp.id] = Finding(polyp.id, index, t, index, t)
            f.last_frame, f.last_s = index, t
            f.alert_frames += 1
            self._times.append(t)
            self._ids.append(polyp.id)
            if polyp.confidence > f.peak_confidence:
                f.peak_confidence, f.peak_frame, f.peak_s = polyp.confidence, index, t
                if self._room_for_thumbnail(f):
                    f.thumbnail_jpeg = _thumbnail(result.frame.image, polyp.box)

    def _room_for_thumbnail(self, finding: Finding) -> bool:
        """Keep at most MAX_THUMBNAILS: a new one displaces the lowest-peak one, if it is lower.

        Only the thumbnailed findings are searched, never all of them (thousands on a looped clip).
        """
        if finding.id in self._thumbnailed or len(self._thumbnailed) < MAX_THUMBNAILS:
            self._thumbnailed[finding.id] = finding
            return True
        lowest = min(self._thumbnailed.values(), key=lambda f: f.peak_confidence)
        if lowest.peak_confidence >= finding.peak_confidence:
            return False
        lowest.thumbnail_jpeg = b""
        del self._thumbnailed[lowest.id]
        self._thumbnailed[finding.id] = finding
        return True

    @property
    def timeline(self) -> list[tuple[float, int]]:
        """(time, finding id) of every alert frame."""
        with self._lock:
            return list(zip(self._times, self._ids, strict=True))

    def to_json(self) -> dict[str, Any]:
        return {
            "record": "LGPS Live procedure record", "version": VERSION,
            "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "started": self.started.isoformat(timespec="seconds"),
            "source": self.source, "model": self.model, "settings": self.settings,
            "frames_analysed": self.frames, "duration_s": round(self.last_s + 1.0 / self.fps, 3),
            "polyps": [f.to_json(self.fps) for f in sorted(self.findings.values(), key=lambda f: f.first_s)],
            "note": "research software, not a medical device",
        }

    def write(self, stem: str | Path) -> tuple[Path, Path]:
        """``stem``.json and ``stem``.html (a stem ending in .json or .html is used without it)."""
        stem = Path(stem)
        if stem.suffix.lower() in (".json", ".html"):
            stem = stem.with_suffix("")
        stem.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            data = self.to_json()
            page = self._html(data)
        json_path, html_path = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".html")
        json_path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        html_path.write_text(page, encoding="utf-8")
        return json_path, html_path

    def _timeline_png(self) -> bytes:
        import matplotlib

        matplotlib.use("Agg")  # no display; also safe beside Qt
        from matplotlib.figure import Figure

        duration = max(self.last_s, 1.0 / self.fps)
        longest = sorted(self.findings, key=lambda i: -self.findings[i].alert_frames)[:PLOT_ROWS]
        ids = sorted(longest, key=lambda i: self.findings[i].first_s)
        fig = Figure(figsize=(9, 0.6 + 0.35 * max(1, len(ids))), dpi=110)
        ax = fig.add_subplot()
        rows = {pid: n for n, pid in enumerate(ids)}
        times, which = np.array(self._times, np.float32), np.array(self._ids, np.intc)  # copies: the arrays grow
        for pid in ids:
            at = times[which == pid]
            ax.scatter(at, [rows[pid]] * len(at), marker="|", s=120, color="#0a8a4a")
        if len(ids) < len(self.findings):
            ax.set_title(f"the {len(ids)} of {len(self.findings)} polyps longest on screen", fontsize=9)
        ax.set_yticks(range(len(ids)), [f"polyp {pid}" for pid in ids])
        ax.set_xlim(0, duration)
        ax.set_ylim(-0.7, max(0, len(ids) - 1) + 0.7)
        ax.invert_yaxis()
        ax.set_xlabel("procedure time (s)")
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()

    def _html(self, data: dict[str, Any]) -> str:
        def url(kind: str, raw: bytes) -> str:
            return f"data:{kind};base64,{base64.b64encode(raw).decode('ascii')}"

        rows = []
        for p in data["polyps"]:
            f = self.findings[p["id"]]
            thumb = (f'<img src="{url("image/jpeg", f.thumbnail_jpeg)}" alt="polyp {p["id"]}">'
                     if f.thumbnail_jpeg else "")
            rows.append(
                f"<tr><td>{thumb}</td><td>polyp {p['id']}</td><td>{clock(p['first_seen']['time_s'])} "
                f"(frame {p['first_seen']['frame']})</td><td>{clock(p['last_seen']['time_s'])} "
                f"(frame {p['last_seen']['frame']})</td><td>{p['duration_s']:.1f} s</td>"
                f"<td>{round(100 * p['peak_confidence'])}%</td></tr>")
        settings = html.escape(json.dumps(data["settings"], indent=1))
        table = "\n".join(rows) or '<tr><td colspan="6">No polyp was alerted.</td></tr>'
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LGPS Live procedure record</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1000px; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 6px; text-align: left; }}
img {{ border-radius: 4px; }} .meta td {{ border: none; padding: 2px 12px 2px 0; }} .note {{ color: #a33; }}
</style></head><body>
<h1>Procedure record</h1>
<table class="meta">
<tr><td>Source</td><td>{html.escape(data["source"])}</td></tr>
<tr><td>Analysed</td><td>{data["frames_analysed"]} frames, {clock(data["duration_s"])}</td></tr>
<tr><td>Polyps alerted</td><td>{len(data["polyps"])}</td></tr>
<tr><td>Model</td><td>{html.escape(data["model"])}</td></tr>
<tr><td>Written</td><td>{data["written"]} (LGPS Live {data["version"]})</td></tr>
</table>
<p class="note">Research software, not a medical device.</p>
<h2>Timeline</h2>
<img src="{url("image/png", self._timeline_png())}" alt="detections over the procedure" style="width:100%">
<h2>Polyps</h2>
<table><tr><th>best view</th><th>id</th><th>first seen</th><th>last seen</th><th>duration</th>
<th>peak confidence</th></tr>
{table}
</table>
<h2>Settings</h2><pre>{settings}</pre>
</body></html>
"""


def clock(seconds: float) -> str:
    """mm:ss.s, the record's and the findings list's way of saying when."""
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:04.1f}"


def settings_of(config: Any) -> dict[str, Any]:
    """The analysis settings worth recording (the sections that change what is found)."""
    return {name: dataclasses.asdict(getattr(config, name)) for name in ("segmenter", "crf", "postprocess", "tracking")}
