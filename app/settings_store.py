"""Remember the last source and the live settings between runs (QSettings, organisation "LGPS Live").

Values are stored as one JSON object per config section and re-validated through
`Config.replace` on load, so a stale or hand-edited settings file can never put an invalid value
into the engine: a bad entry is skipped, the rest still apply.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings

from engine.config import Config
from engine.errors import ConfigError

log = logging.getLogger(__name__)
ORGANISATION = "LGPS Live"
APPLICATION = "lgps-live"
REMEMBERED = {
    "postprocess": ("threshold",),
    "crf": ("enabled", "iterations"),
    "overlay": ("opacity", "contour", "fill", "color"),
    "capture": ("speed", "loop"),
}


class SettingsStore:
    def __init__(self, path: str | Path | None = None):
        if path is None:
            self._qs = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)
        else:
            self._qs = QSettings(str(path), QSettings.Format.IniFormat)

    @property
    def path(self) -> str:
        return self._qs.fileName()

    def last_source(self) -> str | None:
        value = self._qs.value("source")
        return str(value) if value else None

    def set_last_source(self, spec: str) -> None:
        self._qs.setValue("source", spec)

    def show_overlay(self, default: bool) -> bool:
        value = self._qs.value("show_overlay")
        return default if value is None else str(value).lower() == "true"

    def set_show_overlay(self, on: bool) -> None:
        self._qs.setValue("show_overlay", "true" if on else "false")

    def apply(self, config: Config) -> Config:
        """`config` with the remembered values that still validate."""
        for section, keys in REMEMBERED.items():
            raw = self._qs.value(f"settings/{section}")
            try:
                values = json.loads(raw) if raw else {}
            except (TypeError, ValueError):
                continue
            for key in keys:
                if key in values:
                    try:
                        config = config.replace(section, **{key: values[key]})
                    except ConfigError as exc:
                        log.warning("ignoring remembered setting: %s", exc)
        return config

    def remember(self, config: Config) -> None:
        for section, keys in REMEMBERED.items():
            body = getattr(config, section)
            self._qs.setValue(f"settings/{section}", json.dumps({key: getattr(body, key) for key in keys}))

    def forget_settings(self) -> None:
        self._qs.remove("settings")
        self._qs.remove("show_overlay")

    def geometry(self) -> QByteArray | None:
        value = self._qs.value("geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self._qs.setValue("geometry", geometry)

    def sync(self) -> None:
        self._qs.sync()
