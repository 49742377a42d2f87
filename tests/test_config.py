"""Config loading: defaults, live replacement, and one clear error per bad key."""

from __future__ import annotations

import pytest

from engine.config import DEFAULT_CONFIG_PATH, Config, load_config, parse_config
from engine.errors import ConfigError


def test_shipped_config_loads_with_every_section():
    config = load_config()
    assert isinstance(config, Config)
    assert config.crf.kernel_size == 7 and config.crf.blur == 4 and config.crf.iterations == 5
    assert config.segmenter.model.endswith(".tflite")


def test_missing_keys_take_defaults():
    config = parse_config({"postprocess": {"threshold": 0.7}})
    assert config.postprocess.threshold == 0.7
    assert config.postprocess.min_area_frac == pytest.approx(0.0005)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"crf": {"iteratons": 3}}, "unknown config key 'crf.iteratons' (did you mean 'iterations'?)"),
        ({"cfr": {}}, "unknown config section 'cfr' (did you mean 'crf'?)"),
        ({"crf": {"iterations": "five"}}, "config key 'crf.iterations' must be int, got 'five'"),
        ({"crf": {"enabled": "yes"}}, "config key 'crf.enabled' must be bool, got 'yes'"),
        ({"postprocess": {"threshold": 1.5}}, "config key 'postprocess.threshold' must be between 0.0 and 1.0"),
        ({"segmenter": {"input_mode": "crop"}}, "must be one of stretch, letterbox, got 'crop'"),
        ({"overlay": {"color": "green"}}, "config key 'overlay.color' must be a colour"),
        ({"threads": {"inference": 2.5}}, "config key 'threads.inference' must be int"),
        ({"segmenter": {"threads": 2}}, "config key 'segmenter.threads' is now 'threads.inference'"),
        ({"threads": {"decoder": -1}}, "config key 'threads.decoder' must be between 0 and 16"),
        ({"crf": [1, 2]}, "config section 'crf' must be a mapping"),
        ({"crf": {"kernel_size": 6}}, "config key 'crf.kernel_size' must be odd"),
    ],
)
def test_bad_values_name_the_key(raw, message):
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_camera_index_as_number_is_a_source_string():
    assert parse_config({"capture": {"source": 0}}).capture.source == "0"


def test_replace_validates(tmp_path):
    config = load_config()
    assert config.replace("crf", iterations=2).crf.iterations == 2
    with pytest.raises(ConfigError, match="crf.iterations"):
        config.replace("crf", iterations=-1)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("crf:\n  iterations: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad)


def test_shipped_file_matches_the_code_defaults():
    """config.yaml documents the defaults; a drift between the two would surprise whoever edits one."""
    import yaml

    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    shipped, defaults = parse_config(raw), parse_config({})
    for section in ("capture", "segmenter", "crf", "postprocess", "tracking", "overlay", "recorder", "app", "training"):
        assert getattr(shipped, section) == getattr(defaults, section), section


def test_relative_paths_mean_beside_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(b"x")
    path = folder / "lgps.yaml"
    path.write_text("segmenter:\n  model: models/m.tflite\nrecorder:\n  folder: out\ncapture:\n  source: clip.mp4\n"
                    "training:\n  data_root: ../data\n")
    monkeypatch.chdir(tmp_path)  # anywhere but the config's folder
    cfg = load_config(path)
    assert cfg.segmenter.model == str(folder / "models" / "m.tflite")
    assert cfg.recorder.folder == str(folder / "out")
    assert cfg.capture.source == str(folder / "clip.mp4")
    assert cfg.training.data_root == str(tmp_path / "data")
    assert load_config().segmenter.model == str(DEFAULT_CONFIG_PATH.parent / "assets" / "lgps_int8.tflite")
    for source in ("demo", "0", "/dev/video2", "rtsp://h/x", "missing.mp4"):
        path.write_text(f"capture:\n  source: '{source}'\n")
        assert load_config(path).capture.source == source


@pytest.mark.parametrize("text, message", [
    ("postprocess:\n  threshold: .nan\n", "postprocess.threshold' must be a finite number"),
    ("crf:\n  pos_weight: .inf\n", "crf.pos_weight' must be a finite number"),
    ("capture:\n  source: true\n", "capture.source' must be str"),
    ("capture: []\n", "section 'capture' must be a mapping"),
    ("overlay: null\n", "section 'overlay' must be a mapping"),
    ("crf:\n  iterations: 3\n  iterations: 4\n", "'iterations' is written twice \\(lines 2 and 3\\)"),
    ("capture:\n  reconnect_initial_s: 10\n  reconnect_max_s: 2\n", "reconnect_initial_s' \\(10.0\\) must not exceed"),
])
def test_values_that_would_silently_misbehave_are_rejected(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
