"""A recording streamed to the listener as the microphone would: 0.1 s blocks, in order."""

from __future__ import annotations

import time
from typing import Callable, Iterator

import numpy as np

from voicerelief.recognizer import BLOCK_SECONDS


class RecordedRoom:
    """The listener's block source for 16-bit mono samples; ``seconds`` is how far it has played.

    Blocks are stamped when handed over, or, from ``start`` on, one block apart, as the microphone stamps their
    capture. ``call_at``: a stamp, and what to call once, just before the first block stamped at or after it.
    """

    def __init__(self, samples: np.ndarray, rate: int = 16000, start: float | None = None,
                 call_at: tuple[float, Callable[[], None]] | None = None) -> None:
        self.rate = rate
        self.seconds = 0.0
        self._samples = samples
        self._start = start
        self._call_at = call_at

    def timed_blocks(self) -> Iterator[tuple[float, bytes]]:
        """Each block with the time the microphone would have stamped it."""
        size = int(self.rate * BLOCK_SECONDS)
        due = self._call_at
        for index, first in enumerate(range(0, len(self._samples), size)):
            self.seconds = (first + size) / self.rate
            captured_at = time.monotonic() if self._start is None else self._start + index * BLOCK_SECONDS
            if due is not None and captured_at >= due[0]:
                due[1]()
                due = None
            yield captured_at, self._samples[first:first + size].tobytes()

    def blocks(self) -> Iterator[bytes]:
        """The blocks alone, as versions of the listener before capture times read them (the benches' baseline)."""
        for _, block in self.timed_blocks():
            yield block
