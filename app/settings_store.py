"""Remember the last source and the live settings between runs (QSettings, organisation "LGPS Live").

Values are stored as one JSON object per config section and re-validated through
`Config.replace` on load, so a stale or hand-edited settings file can never put an invalid value
into the engine: a bad entry is skipped, the rest still apply.
"""

from __future__ import annotations

import hashlib
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


def _fingerprint(config: Config) -> str:
    """The config file's path and a hash of its content: remembered changes belong to that file."""
    path = Path(config.path) if config.path else None
    try:
        digest = hashlib.sha1(path.read_bytes()).hexdigest() if path else "defaults"
    except OSError:
        digest = "unreadable"
    return f"{path}:{digest}"


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

    def apply(self, config: Config, *, explicit_file: bool = False) -> tuple[Config, list[str]]:
        """`config` with the remembered changes that still apply, and their names ("crf.enabled").

        The file wins when it was named on the command line (``--config``) or has changed since
        the changes were remembered: what the user edited on purpose is never silently overridden.
        Only values the user changed in the window are remembered (``remember``), not the whole set.
        """
        if explicit_file or self._qs.value("settings/origin") != _fingerprint(config):
            return config, []
        applied = []
        for section, keys in REMEMBERED.items():
            raw = self._qs.value(f"settings/{section}")
            try:
                values = json.loads(raw) if raw else {}
            except (TypeError, ValueError):
                continue
            for key in keys:
                if key in values and values[key] != getattr(getattr(config, section), key):
                    try:
                        config = config.replace(section, **{key: values[key]})
                        applied.append(f"{section}.{key}")
                    except ConfigError as exc:
                        log.warning("ignoring remembered setting: %s", exc)
        return config, applied

    def remember(self, config: Config, base: Config | None = None) -> None:
        """Keep the values that differ from `base` (the file's), tied to the file's current content."""
        for section, keys in REMEMBERED.items():
            body, start = getattr(config, section), getattr(base, section) if base is not None else None
            changed = {key: getattr(body, key) for key in keys
                       if start is None or getattr(body, key) != getattr(start, key)}
            self._qs.setValue(f"settings/{section}", json.dumps(changed))
        self._qs.setValue("settings/origin", _fingerprint(base or config))

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
