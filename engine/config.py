"""Load and validate config.yaml into frozen dataclasses, one per pipeline stage.

Why strict: a typo in a clinical tool must not silently fall back to a default. Unknown keys are
rejected with a close-match suggestion; wrong types and out-of-range values name the key and value.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigError

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config.yaml"


def _range(
    default: Any, lo: float | None = None, hi: float | None = None, choices: tuple[str, ...] = ()
) -> Any:
    """A field with a default and the bounds or choices that validation enforces."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "choices": choices})


@dataclass(frozen=True)
class CaptureConfig:
    source: str = "demo"
    realtime: bool = True
    loop: bool = False
    speed: float = _range(1.0, 0.25, 4.0)
    reconnect_initial_s: float = _range(0.5, 0.01, 60.0)
    reconnect_max_s: float = _range(8.0, 0.01, 600.0)
    camera_width: int = _range(0, 0, 8192)  # 0: the driver's default
    camera_height: int = _range(0, 0, 8192)
    camera_fps: float = _range(0.0, 0.0, 480.0)
    camera_fourcc: str = ""  # e.g. MJPG (most USB capture cards send 1080p60 only as MJPEG); "": default
    camera_buffer: int = _range(0, 0, 64)  # frames the driver may queue (1: always the newest); 0: default


@dataclass(frozen=True)
class SegmenterConfig:
    model: str = "assets/lgps_int8.tflite"
    input_mode: str = _range("stretch", choices=("stretch", "letterbox"))


@dataclass(frozen=True)
class ThreadsConfig:
    """The two-core budget, chosen together (docs/benchmarks.md measures the alternatives)."""

    decoder: int = _range(1, 0, 16)  # FFmpeg decoder threads for files and streams (0: FFmpeg's choice)
    opencv: int = _range(1, 0, 16)  # OpenCV's pool: resizes, colour conversion (0: one per core)
    inference: int = _range(1, 1, 64)  # LiteRT CPU threads (1: the engine thread only; see config.yaml)
    encoder: int = _range(1, 0, 16)  # x264 threads when recording or exporting (0: x264's choice)
    encoder_niceness: int = _range(19, 0, 19)  # live recorder's thread: served after capture and engine


@dataclass(frozen=True)
class CRFConfig:
    enabled: bool = True
    iterations: int = _range(5, 0, 50)
    kernel_size: int = _range(7, 3, 21)
    blur: int = _range(4, 1, 16)
    pos_sigma: float = _range(3.0, 0.1, 100.0)
    pos_weight: float = _range(0.06, 0.0, 100.0)
    app_pos_sigma: float = _range(20.0, 0.1, 1000.0)
    app_col_sigma: float = _range(30.0, 0.1, 255.0)
    app_weight: float = _range(0.2, 0.0, 100.0)
    unary_weight: float = _range(1.0, 0.01, 100.0)


@dataclass(frozen=True)
class PostprocessConfig:
    threshold: float = _range(0.5, 0.0, 1.0)
    min_area_frac: float = _range(0.0005, 0.0, 1.0)
    smoothing: bool = False
    smoothing_alpha: float = _range(0.5, 0.0, 0.99)
    image_area: bool = True
    image_area_recheck: int = _range(50, 1, 100000)


@dataclass(frozen=True)
class TrackingConfig:
    enabled: bool = True
    hits: int = _range(1, 1, 100)
    window: int = _range(8, 1, 100)
    on_confidence: float = _range(0.4, 0.0, 1.0)
    keep_confidence: float = _range(0.2, 0.0, 1.0)
    max_misses: int = _range(5, 0, 1000)


@dataclass(frozen=True)
class OverlayConfig:
    candidates: str = _range("faint", choices=("faint", "hidden"))
    blank_outside: bool = False
    contour: bool = True
    fill: bool = True
    opacity: float = _range(0.35, 0.0, 1.0)
    color: str = "#00ff66"
    thickness: int = _range(2, 1, 20)
    labels: bool = True
    readout: bool = True


@dataclass(frozen=True)
class RecorderConfig:
    folder: str = "recordings"
    codec: str = "libx264"
    crf: int = _range(20, 0, 51)
    preset: str = _range(
        "ultrafast",  # the one x264 preset that keeps up with 1080p60 beside the model (docs/benchmarks.md)
        choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower")
    )


@dataclass(frozen=True)
class AppConfig:
    remember_last: bool = True
    show_overlay: bool = True
    procedure_record: bool = True
    alert_sound: bool = False


@dataclass(frozen=True)
class TrainingConfig:
    data_root: str = "../shared/data"
    train_sets: list = field(default_factory=lambda: ["kvasir-seg", "cvc-clinicdb"])
    val_fraction: float = _range(0.1, 0.0, 0.5)
    input_size: int = _range(256, 64, 1024)
    batch_size: int = _range(8, 1, 1024)
    epochs: int = _range(48, 1, 10000)
    learning_rate: float = _range(1e-3, 0.0, 1.0)
    adversarial_weight: float = _range(0.0, 0.0, 100.0)
    encoder_weights: str = "../shared/weights/tf2_mobilenet_v2_1.0_224_ptq.tflite"
    freeze_encoder_bn: bool = True
    seed: int = _range(42, 0, 2**31 - 1)
    out_dir: str = "runs/lgps"
    cache_size: int = _range(320, 64, 2048)
    loader_workers: int = _range(4, 1, 64)
    negative_rate: float = _range(0.3, 0.0, 0.9)
    hard_negatives: float = _range(0.0, 0.0, 1.0)
    loss: str = _range("hybrid_boundary", choices=("hybrid", "hybrid_boundary"))
    empty_target_loss: str = _range("area", choices=("area", "per_image"))
    detection_weight: float = _range(0.0, 0.0, 100.0)
    select_max_false_alarms: float = _range(0.1, 0.0, 1.0)
    deep_supervision: bool = False
    augment: str = _range("standard", choices=("standard", "strong", "photometric", "fit_probe"))
    multi_scale: bool = False  # each training batch at 0.75, 1 or 1.25 x input_size (validation at 1)


@dataclass(frozen=True)
class Config:
    capture: CaptureConfig
    segmenter: SegmenterConfig
    threads: ThreadsConfig
    crf: CRFConfig
    postprocess: PostprocessConfig
    tracking: TrackingConfig
    overlay: OverlayConfig
    recorder: RecorderConfig
    app: AppConfig
    training: TrainingConfig
    path: str = ""
    # "section.key" of every value written in the file or set later (replace): these win over values
    # that travel with the model (the ConvCRF's learned parameters, engine/convcrf.py)
    explicit: frozenset = frozenset()

    def replace(self, section: str, **changes: Any) -> Config:
        """A copy with some keys of one section changed, validated like the file."""
        current = dataclasses.asdict(getattr(self, section))
        current.update(changes)
        cls = _SECTIONS[section]
        return dataclasses.replace(self, **{section: _build(cls, current, section)},
                                   explicit=self.explicit | {f"{section}.{key}" for key in changes})


_SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in dataclasses.fields(Config) if f.name not in ("path", "explicit")
}

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _suggest(key: str, options: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_value(where: str, f: dataclasses.Field, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint) or hint
    if origin is bool:
        ok = isinstance(value, bool)
    elif origin is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif origin is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(value):  # NaN compares false with every bound: it would pass them all
            raise ConfigError(f"config key '{where}' must be a finite number, got {value!r}")
        value = float(value) if ok else value
    elif origin is str:
        # A camera index written as a bare number is still a source string (true/false are not).
        ok = isinstance(value, str) or (where == "capture.source" and isinstance(value, int)
                                        and not isinstance(value, bool))
        value = str(value) if ok else value
    elif origin is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:  # pragma: no cover - a programming error, not a user error
        raise TypeError(f"unsupported config type {hint} for {where}")
    if not ok:
        name = getattr(origin, "__name__", str(origin))
        expected = "list of strings" if origin is list else name
        raise ConfigError(f"config key '{where}' must be {expected}, got {value!r}")
    lo, hi, choices = (f.metadata.get(k) for k in ("lo", "hi", "choices"))
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ConfigError(f"config key '{where}' must be between {lo} and {hi}, got {value!r}")
    if choices and value not in choices:
        raise ConfigError(f"config key '{where}' must be one of {', '.join(choices)}, got {value!r}")
    if where == "crf.kernel_size" and value % 2 == 0:
        raise ConfigError(f"config key '{where}' must be odd (the window is centred), got {value!r}")
    if where.endswith(".color") and not _HEX_COLOUR.match(value):
        raise ConfigError(f"config key '{where}' must be a colour like '#00ff66', got {value!r}")
    return value


MOVED_KEYS = {"segmenter.threads": "threads.inference"}  # older configs: say where a key went


def _build(cls: type, raw: Mapping[str, Any], section: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in raw if k not in fields]
    if unknown:
        key = unknown[0]
        moved = MOVED_KEYS.get(f"{section}.{key}")
        if moved:
            raise ConfigError(f"config key '{section}.{key}' is now '{moved}' (the thread budget is one section)")
        raise ConfigError(f"unknown config key '{section}.{key}'{_suggest(str(key), fields)}")
    values = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _check_value(f"{section}.{name}", f, hints[name], raw[name])
    built = cls(**values)
    _check_section(section, built)
    return built


def _check_section(section: str, values: Any) -> None:
    """Rules between keys of one section."""
    if section == "tracking" and values.hits > values.window:
        raise ConfigError(f"config key 'tracking.hits' ({values.hits}) must not exceed 'tracking.window' "
                          f"({values.window})")
    if section == "tracking" and values.keep_confidence > values.on_confidence:
        raise ConfigError(f"config key 'tracking.keep_confidence' ({values.keep_confidence}) must not exceed "
                          f"'tracking.on_confidence' ({values.on_confidence})")
    if section == "capture" and values.camera_fourcc and len(values.camera_fourcc) != 4:
        raise ConfigError(f"config key 'capture.camera_fourcc' must be four characters (e.g. MJPG), "
                          f"got {values.camera_fourcc!r}")
    if section == "capture" and values.reconnect_initial_s > values.reconnect_max_s:
        raise ConfigError(f"config key 'capture.reconnect_initial_s' ({values.reconnect_initial_s}) must not exceed "
                          f"'capture.reconnect_max_s' ({values.reconnect_max_s})")


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader that rejects a key written twice (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"config key '{key}' is written twice (lines {seen[key]} and "
                                  f"{key_node.start_mark.line + 1}); keep one")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


PATH_KEYS = (("segmenter", "model"), ("recorder", "folder"), ("training", "data_root"),
             ("training", "encoder_weights"), ("training", "out_dir"))


def _resolve_paths(config: Config, base: Path) -> Config:
    """Relative paths in a config file mean "beside this file", whatever the current directory.

    A source written as a relative path is resolved the same way when that file exists there;
    "demo", camera indices, devices and URLs are left as they are.
    """
    for section, key in PATH_KEYS:
        value = getattr(getattr(config, section), key)
        path = Path(value).expanduser()
        if not path.is_absolute():
            config = config.replace(section, **{key: os.path.normpath(base / path)})
    source = config.capture.source
    candidate = Path(source).expanduser()
    if (source != "demo" and not source.isdigit() and "://" not in source and not candidate.is_absolute()
            and (base / candidate).exists()):
        config = config.replace("capture", source=os.path.normpath(base / candidate))
    return config


def parse_config(raw: Any, path: str = "<memory>") -> Config:
    """Validate an already-parsed YAML mapping; missing sections and keys take the defaults."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config {path} must be a mapping of sections, got {type(raw).__name__}")
    unknown = [k for k in raw if k not in _SECTIONS]
    if unknown:
        key = unknown[0]
        raise ConfigError(f"unknown config section '{key}'{_suggest(str(key), _SECTIONS)}")
    sections = {}
    for name, cls in _SECTIONS.items():
        body = raw.get(name, {})
        if not isinstance(body, Mapping):
            raise ConfigError(f"config section '{name}' must be a mapping of keys, got {body!r} "
                              "(leave the section out to take its defaults)")
        sections[name] = _build(cls, body, name)
    explicit = frozenset(f"{name}.{key}" for name, body in raw.items() if isinstance(body, Mapping) for key in body)
    return Config(**sections, path=path, explicit=explicit)


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a config file (default: the project's config.yaml)."""
    path = Path(path) if path else DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}") from None
    return _resolve_paths(parse_config(raw, str(path)), path.resolve().parent)


