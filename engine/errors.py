"""One small exception family; each maps to a distinct exit code in main.py."""

import functools
import sys
from collections.abc import Callable


class LGPSError(Exception):
    """Base class for errors that are the user's to fix (bad input), shown as one line."""

    exit_code = 1


class ConfigError(LGPSError):
    exit_code = 2


class UsageError(LGPSError):
    """A command-line argument that cannot be right (e.g. an output that would overwrite the input)."""

    exit_code = 2


class Interrupted(LGPSError):
    """Ctrl-C or SIGTERM ended a job; what it had written is kept (the message says where)."""

    exit_code = 130

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


class SourceError(LGPSError):
    """A video source is missing, unreadable, not video, or unreachable."""

    exit_code = 3


class ModelError(LGPSError):
    """The model file is missing, malformed, or not an LGPS segmentation model."""

    exit_code = 4


class RecorderError(LGPSError):
    """The annotated clip cannot be written (codec missing, disk full, folder not writable)."""

    exit_code = 5


class DataError(LGPSError):
    """A dataset folder is missing or malformed."""

    exit_code = 6


class SourceInvalidError(SourceError):
    """The source exists but is not decodable video (wrong format, corrupt header)."""

    exit_code = 7


class SourceTruncatedError(SourceError):
    """The source ended before its declared length; what could be read was processed."""

    exit_code = 8


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that every job unwinds and keeps its files."""


def one_line_errors(entry_point: Callable[..., int]) -> Callable[..., int]:
    """For command-line entry points: a user error is one line on stderr and its exit code, no traceback."""

    @functools.wraps(entry_point)
    def wrapper(*args, **kwargs) -> int:
        try:
            return entry_point(*args, **kwargs)
        except LGPSError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper
