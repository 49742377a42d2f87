"""Play/pause, frame step and seek (a MainWindow mixin).

A file that reached its end has no capture thread any more; play, step and seek then reopen it at
the wanted frame, so the controls keep working after the end instead of silently doing nothing.
Live sources (camera, stream) have no seek or step.
"""

from __future__ import annotations


class ReplayActions:
    """Needs from the window: session, shown, open_source, retry and the current source spec."""

    def _replay(self):
        """The capture thread when the source can be replayed and is still running, else None."""
        session = self.session
        if session is None or session.info.is_live:
            return None
        return session.pipeline.capture

    def toggle_play(self) -> None:
        session = self.session
        if session is None:
            if self._spec is not None:
                self.retry()
            return
        capture = session.pipeline.capture
        if not capture.is_alive():  # ended: play again from the start
            self.open_source(self._spec, start_at=0)
        elif capture.paused:
            capture.resume()
        else:
            capture.pause()

    def step(self, count: int) -> None:
        capture = self._replay()
        if capture is None:
            return
        current = self.shown.frame.index if self.shown else 0
        if not capture.is_alive():
            self.open_source(self._spec, start_at=max(0, current + count), paused=True)
            return
        if not capture.paused:
            capture.pause()
        capture.step(count)

    def seek(self, index: int) -> None:
        capture = self._replay()
        if capture is None:
            return
        if not capture.is_alive():
            self.open_source(self._spec, start_at=index, paused=True)
        else:
            capture.seek(index)
