"""Clinical-resolution benchmark clips from real frames: `main.py bench --source <clip>`.

Real CVC-ColonDB sequences (in order, as recorded) upscaled to an HD or 4K endoscope's frame size
and encoded the way a capture device or a recorder stores them (x264 `medium`: B-frames, CABAC),
so the decoder does a realistic share of the work. The frames are 574x500 originals: upscaled,
they are smoother than a real HD image, which makes decoding somewhat cheaper than in a real clip.

    python -m training.bench_clips --data ../shared/data/cvc-colondb --out runs/clips
"""

from __future__ import annotations

import argparse
import csv
from fractions import Fraction
from pathlib import Path

import av
import cv2

from engine.errors import one_line_errors

CLIPS = {"colondb_1080p60.mp4": (1920, 1080, 60), "colondb_2160p30.mp4": (3840, 2160, 30)}


def sequence_order(dataset: Path, limit: int) -> list[Path]:
    """Frame paths sequence by sequence, each in its recorded order (sequences.csv)."""
    with open(dataset / "sequences.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows.sort(key=lambda r: (int(r["sequence"]), int(r["frame"])))
    return [dataset / "images" / f"{r['frame']}.jpg" for r in rows][:limit]


def write_clip(frames: list[Path], path: Path, width: int, height: int, fps: int, preset: str = "medium") -> Path:
    """Upscale every frame to width x height (cubic) and encode it as H.264 at `fps`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": preset, "crf": "18", "g": str(fps)}
        for frame_path in frames:
            image = cv2.imread(str(frame_path))
            if image is None:
                raise OSError(f"cannot read {frame_path}")
            big = cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(big, format="bgr24")))
        container.mux(stream.encode(None))
    return path


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.bench_clips", description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/data/cvc-colondb", help="CVC-ColonDB folder (sequences.csv)")
    p.add_argument("--out", default="runs/clips", help="folder for the clips")
    p.add_argument("--frames", type=int, default=300, help="frames per clip (the bench loops it)")
    args = p.parse_args(argv)
    frames = sequence_order(Path(args.data), args.frames)
    for name, (width, height, fps) in CLIPS.items():
        path = write_clip(frames, Path(args.out) / name, width, height, fps)
        print(f"wrote {path} ({len(frames)} frames, {width}x{height} @ {fps} fps, {path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
