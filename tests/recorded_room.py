"""A recording streamed to the listener as the microphone would: 0.1 s blocks, in order."""

from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from voicerelief.recognizer import BLOCK_SECONDS


class RecordedRoom:
    """The listener's block source for 16-bit mono samples; ``seconds`` is how far it has played."""

    def __init__(self, samples: np.ndarray, rate: int = 16000) -> None:
        self.rate = rate
        self.seconds = 0.0
        self._samples = samples

    def timed_blocks(self) -> Iterator[tuple[float, bytes]]:
        """Each block with the time it is handed over, as the microphone stamps its capture."""
        size = int(self.rate * BLOCK_SECONDS)
        for start in range(0, len(self._samples), size):
            self.seconds = (start + size) / self.rate
            yield time.monotonic(), self._samples[start:start + size].tobytes()

    def blocks(self) -> Iterator[bytes]:
        """The blocks alone, as versions of the listener before capture times read them (the benches' baseline)."""
        for _, block in self.timed_blocks():
            yield block
