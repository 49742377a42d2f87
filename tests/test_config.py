"""Config loading: defaults, live replacement, and one clear error per bad key."""

from __future__ import annotations

import pytest

from engine.config import Config, load_config, parse_config
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
        ({"segmenter": {"threads": 2.5}}, "config key 'segmenter.threads' must be int"),
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
    assert load_config() == parse_config({}, path=str(load_config().path))
