"""argparse value types that refuse what would silently misbehave (NaN, negatives, out of range).

argparse turns an ``ArgumentTypeError`` into its usage line and exit code 2, before any work starts.
"""

from __future__ import annotations

import argparse
import math


def _number(text: str, kind: type) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a {'whole ' if kind is int else ''}number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def probability(text: str) -> float:
    """A number strictly between 0 and 1."""
    value = _number(text, float)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def share(text: str) -> float:
    """A number from 0 to 1 inclusive (a share that may be switched off or made total)."""
    value = _number(text, float)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def non_negative(text: str) -> float:
    """A finite number of at least 0 (a weight that 0 switches off)."""
    value = _number(text, float)
    if value < 0.0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number of at least 0 (a count that 0 switches off)."""
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0 (a duration, a rate)."""
    value = _number(text, float)
    if value <= 0.0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value
