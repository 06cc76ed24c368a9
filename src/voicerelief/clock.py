"""Time for the session: the real clock, a scaled one for the demo, and a fake one for tests."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def real_seconds_until(self, moment: datetime) -> float:
        """How long to wait, in real seconds, until the clock shows ``moment``."""


class SystemClock:
    def now(self) -> datetime:
        # Not cut to the second: a deadline set from a truncated time would fire up to a second early.
        return datetime.now()

    def real_seconds_until(self, moment: datetime) -> float:
        return max(0.0, (moment - datetime.now()).total_seconds())


class ScaledClock:
    """Runs ``speed`` times faster than real time, from the real time it was made; it can be held still."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        self.speed = speed
        self._start = start or datetime.now().replace(microsecond=0)
        self._began = time.monotonic()
        self._held_since: float | None = None

    def now(self) -> datetime:
        running = (self._held_since or time.monotonic()) - self._began
        return self._start + timedelta(seconds=running * self.speed)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Stop time while something outside the story happens (the demo computing a line)."""
        self._held_since = time.monotonic()
        try:
            yield
        finally:
            self._began += time.monotonic() - self._held_since
            self._held_since = None

    def real_seconds_until(self, moment: datetime) -> float:
        return max(0.0, (moment - self.now()).total_seconds() / self.speed)


class FakeClock:
    """Moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = max(self._now, moment)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def real_seconds_until(self, moment: datetime) -> float:
        return 0.0
