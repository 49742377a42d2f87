"""What the whole process holds and where its CPU goes, read from Linux's /proc (bench, soak).

Per-thread CPU maps each OS thread to its Python thread's name; threads Python does not know
(LiteRT's XNNPACK pool, FFmpeg's and x264's workers) are summed as "native pools". Elsewhere than
Linux these readings are empty rather than wrong.
"""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Resident memory now (MB); the peak where /proc is absent."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * _PAGE / 1e6
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def thread_cpu_seconds() -> dict[int, tuple[str, float]]:
    """OS thread id -> (name, user + system CPU seconds so far)."""
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    out: dict[int, tuple[str, float]] = {}
    for task in Path("/proc/self/task").glob("*") if Path("/proc/self/task").exists() else ():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended while we looked
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        tid = int(task.name)
        out[tid] = (names.get(tid, "native pools"), (int(fields[11]) + int(fields[12])) / _TICKS)
    return out


def cpu_by_thread(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
                  seconds: float) -> dict[str, float]:
    """Percent of one core per thread name between two readings (threads born in between count from 0)."""
    totals: dict[str, float] = {}
    for tid, (name, cpu) in after.items():
        spent = cpu - before.get(tid, (name, 0.0))[1]
        totals[name] = totals.get(name, 0.0) + spent
    return {name: round(100.0 * spent / seconds, 1) for name, spent in sorted(totals.items()) if seconds > 0}
