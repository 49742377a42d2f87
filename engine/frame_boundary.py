"""Ctrl-C and SIGTERM between frames, not inside one: an export's outputs always hold the same frames.

Why: an interrupt that lands while one frame's video, events line, record entry and mask are being
written leaves some of them one frame ahead of the others (seen as an events file with 26 lines
beside 25 masks). Inside ``writing()`` such a signal is held and acted on, with the handler that
was installed, as soon as the block ends. Only the main thread receives signals; elsewhere (the
window's export worker) the block runs as it is.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Hold SIGINT/SIGTERM for the duration; deliver a held one when the block completes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous: dict[int, object] = {}
    try:  # installing inside the try: a signal during set-up still restores what was installed
        for sig in _HELD:
            previous[sig] = signal.signal(sig, lambda signum, _frame: pending.append(signum))
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if pending:
        _deliver(pending[0], previous[pending[0]])


def _deliver(signum: int, handler: object) -> None:
    if callable(handler):  # Python's KeyboardInterrupt raiser, or main.py's Terminated raiser
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)  # the default action, now that the frame is complete
