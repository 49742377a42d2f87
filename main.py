"""LGPS Live command line: the window (default), headless export, benchmark, evaluation.

Exit codes: 0 ok, 1 unexpected error, 2 usage or config error, 3 source unavailable, 4 model error,
5 recording error, 6 dataset error, 7 source is not readable video, 8 source truncated, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM). An interrupted export keeps what it wrote.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from engine.cli_args import positive_float
from engine.config import load_config
from engine.errors import Interrupted, LGPSError, Terminated

EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="LGPS Live: live polyp segmentation.")
    # Distinct dests: `evaluate` has its own --config/--model, whose defaults must not erase these.
    parser.add_argument("--config", dest="global_config", help="config file (default: config.yaml beside main.py)")
    parser.add_argument("--model", dest="global_model", help="override segmenter.model")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    parser.add_argument("--source", help="window: open this file, camera index/device, URL or folder")
    parser.add_argument("--screenshot", help="window: save a screenshot to this PNG, then quit")
    parser.add_argument("--quit-after", type=float, help="window: quit after this many seconds")
    sub = parser.add_subparsers(dest="command")

    export = sub.add_parser("export", help="annotate a whole clip headless, frame by frame")
    export.add_argument("input", help="video file, image folder, or 'demo'")
    export.add_argument("-o", "--output", required=True, help="annotated MP4 to write")
    export.add_argument("--events", help="write one JSON line per frame here")
    export.add_argument("--masks", help="write binary mask PNGs into this folder")
    export.add_argument("--record", metavar="STEM",
                        help="write the procedure record: STEM.json (machines) and STEM.html (people)")
    export.add_argument("--no-crf", action="store_true", help="disable the ConvCRF stage")

    bench = sub.add_parser("bench", help="measure inference and the live pipeline")
    bench.add_argument("--source", dest="bench_source", help="clip to run (default: a generated 720p clip)")
    bench.add_argument("--seconds", type=positive_float, default=15.0, help="pipeline run length")
    bench.add_argument("--realtime", action="store_true", help="pace the clip at its fps instead of max speed")
    bench.add_argument("--no-crf", action="store_true", help="disable the ConvCRF stage")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--record", metavar="OUT.mp4", help="also record while measuring (the window's recorder)")
    bench.add_argument("--timeline", metavar="SECONDS", type=positive_float,
                       help="interval of the over-time figures (memory, analysed share, latency; "
                            "default: a sixtieth of the run, at least 5 s)")
    bench.add_argument("--keras", action="store_true",
                       help="also time the Keras float model (imports TensorFlow; training installs only)")

    evaluate = sub.add_parser("evaluate", help="accuracy on images/ + masks/ folders")
    try:
        from training.evaluate import add_arguments
    except ImportError:  # pragma: no cover - the evaluator ships with the repository
        add_arguments = None
    if add_arguments:
        add_arguments(evaluate)
    return parser


def _run(args: argparse.Namespace) -> int:
    args.config = getattr(args, "config", None) or args.global_config
    args.model = getattr(args, "model", None) or args.global_model
    config = load_config(args.config)
    if args.model:
        config = config.replace("segmenter", model=args.model)
    if getattr(args, "no_crf", False):
        config = config.replace("crf", enabled=False)
    if args.command == "export":
        from engine.export_job import export_clip

        summary = export_clip(config, args.input, args.output, events_path=args.events, masks_dir=args.masks,
                              record_path=args.record)
        print(f"wrote {summary.frames_written} frames to {summary.output}")
        return 0
    if args.command == "bench":
        from engine.bench import format_report, run_bench

        keras_timer = None
        if args.keras:  # TensorFlow costs ~600 MB and start-up noise: only when asked for
            from training.bench_keras import keras_inference_fps as keras_timer
        report = run_bench(config, args.bench_source, args.seconds, args.realtime, keras_timer, args.record,
                           args.timeline)
        print(json.dumps(report, indent=None) if args.json else format_report(report))
        if report["engine_error"]:
            print(f"error: {report['engine_error']}", file=sys.stderr)
            return EXIT_UNEXPECTED
        return 0
    if args.command == "evaluate":
        from training.evaluate import run

        return run(args, config)
    if not _display_available():
        print("error: no display to open the window on (set DISPLAY or WAYLAND_DISPLAY; for automation use "
              "QT_QPA_PLATFORM=offscreen; headless work: main.py export / bench)", file=sys.stderr)
        return EXIT_USAGE
    try:
        from app.main_window import run_app
    except ImportError as exc:
        print(f"error: the window cannot start: {exc}", file=sys.stderr)
        return EXIT_UNEXPECTED
    return run_app(config, source=args.source, screenshot=args.screenshot, quit_after=args.quit_after,
                   explicit_config=bool(args.global_config))


def _display_available() -> bool:
    """Qt aborts the process without a display; say so in one line instead."""
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs"):
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage line
        return int(exc.code or 0) and EXIT_USAGE
    # Headless jobs: SIGTERM (a service manager, `kill`) unwinds like Ctrl-C, so they finish their
    # files and say where. (The window keeps Qt's own handling: an exception inside the event loop aborts.)
    headless = args.command is not None and threading.current_thread() is threading.main_thread()
    previous_term = signal.signal(signal.SIGTERM, _raise_terminated) if headless else None
    try:
        return _run(args)
    except Interrupted as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except LGPSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print("terminated" if isinstance(exc, Terminated) else "interrupted", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug or os.environ.get("LGPS_DEBUG"):
            raise
        print(f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_UNEXPECTED
    finally:
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)


if __name__ == "__main__":
    sys.exit(main())
