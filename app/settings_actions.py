"""Live settings from the panel to the running engine (a MainWindow mixin).

Every change goes through `Config.replace` (the same validation as config.yaml) and
`LiveSettings.update`, which the engine reads once per frame. While paused, the still frame is
re-analysed or re-drawn at once, so a change is visible without pressing play.
"""

from __future__ import annotations

from app.settings_store import REMEMBERED
from engine.errors import ConfigError


class SettingsActions:
    """Needs from the window: config, base_config, session, shown, store, controls, banner, redraw."""

    def apply_setting(self, section: str, key: str, value: object) -> None:
        if getattr(getattr(self.config, section), key, object()) == value:
            return  # widgets echo values they were given: not a change
        try:
            self.config = self.config.replace(section, **{key: value})
            if self.session is not None:
                self.session.pipeline.settings.update(section, **{key: value})
        except ConfigError as exc:
            self.banner.show_message("warning", f"Setting not applied: {exc}", key="setting")
            return
        self.settings_changed = True
        if self.remember:
            self.store.remember(self.config, self.base_config)
        changed = [f"{sec}.{k}" for sec, keys in REMEMBERED.items() for k in keys
                   if getattr(getattr(self.config, sec), k) != getattr(getattr(self.base_config, sec), k)]
        remembered = [name for name in self.remembered if name in changed]
        self.controls.set_origin(self.base_config.path, changed, remembered=bool(remembered) and
                                 len(remembered) == len(changed))
        session = self.session
        if session is None:
            return
        capture = session.pipeline.capture
        if section == "capture":
            capture.set_speed(self.config.capture.speed) if key == "speed" else capture.set_loop(bool(value))
        elif (capture.paused or not capture.is_alive()) and self.shown is not None:  # a still frame
            if section in ("postprocess", "crf") and session.pipeline.running:
                session.pipeline.slot.put(self.shown.frame)  # re-run the engine on the still frame
            self.redraw()

    def set_show_overlay(self, on: bool) -> None:
        self.show_overlay = bool(on)
        self.actions_by_name["overlay"].setChecked(self.show_overlay)
        self.controls.set_config(self.config, self.show_overlay)
        if self.session is not None:
            self.session.compositor.show_overlay = self.show_overlay
        if self.remember:
            self.store.set_show_overlay(self.show_overlay)
        self.redraw()

    def reset_settings(self) -> None:
        """Back to config.yaml's values for everything the window remembers."""
        self.store.forget_settings()
        self.remembered = []
        for section, keys in REMEMBERED.items():
            for key in keys:
                value = getattr(getattr(self.base_config, section), key)
                if getattr(getattr(self.config, section), key) != value:
                    self.apply_setting(section, key, value)
        self.controls.set_config(self.config, self.show_overlay)
        self.transport.set_replay_settings(self.config.capture.speed, self.config.capture.loop)
        self.set_show_overlay(self.base_config.app.show_overlay)
