"""The ``docstore`` CLI's progress line: ``label [####----] done/total  pct  docs/s  ETA``.

Pure: :func:`render_progress` formats one line, :class:`ProgressBar` redraws it
in place on a stream at most every ``interval`` seconds (with an injectable
clock, so it is unit-tested without waiting).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO

__all__ = ["ProgressBar", "render_progress"]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_progress(
    done: int, total: int | None, elapsed: float, *, label: str = "", width: int = 24
) -> str:
    """One line of progress: ``label [####----] done/total  pct  docs/s  ETA``.

    Without a ``total`` (still counting), just the count and the rate.
    """
    rate = done / elapsed if elapsed > 0 else 0.0
    speed = f"{rate:,.1f} docs/s" if rate < 10 else f"{rate:,.0f} docs/s"
    head = f"{label} " if label else ""
    if total is None:
        return f"{head}{done:,} docs  {speed}"
    fraction = min(done / total, 1.0) if total > 0 else 1.0
    filled = int(fraction * width)
    left = total - done
    eta = _duration(left / rate) if rate > 0 and left > 0 else "0:00" if left <= 0 else "--:--"
    bar = "#" * filled + "-" * (width - filled)
    return f"{head}[{bar}] {done:,}/{total:,} {fraction:4.0%}  {speed}  ETA {eta}"


class ProgressBar:
    """A progress line redrawn in place (``\\r``), at most every ``interval`` seconds."""

    def __init__(
        self,
        stream: IO[str],
        total: int | None,
        *,
        label: str = "",
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.total, self.label = stream, total, label
        self.interval, self.clock = interval, clock
        self.done = 0
        self.started = clock()
        self._drawn_at: float | None = None
        self._width = 0

    def advance(self, n: int) -> None:
        """Count ``n`` more documents; redraw unless the last redraw was too recent."""
        self.done += n
        now = self.clock()
        if self._drawn_at is None or now - self._drawn_at >= self.interval:
            self._draw(now)

    def _draw(self, now: float) -> None:
        line = render_progress(self.done, self.total, now - self.started, label=self.label)
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(line))
        self._drawn_at = now

    def close(self) -> None:
        """Draw the final state and end the line."""
        self._draw(self.clock())
        self.stream.write("\n")
        self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
