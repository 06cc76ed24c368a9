"""Deciding which microphone audio is worth decoding: an energy gate with a pre-roll.

Decoding costs CPU for every block, speech or not, and the assistant spends
most of its weeks listening to an empty room. The gate passes audio on only
while someone may be speaking:

- levels are taken after a pre-emphasis filter, which removes the rumble of
  traffic and fans (steady but strongly fluctuating below a few hundred hertz)
  and keeps the consonants that start many words;
- the room's noise floor is followed continuously: it drops at once to a
  quieter block and rises slowly, so a fan switched on is learnt within
  seconds while a voice does not raise it;
- the gate opens when any 20 ms frame is ``margin_db`` above that floor (and
  above an absolute minimum, for digitally silent inputs);
- on opening, the last ``pre_roll_seconds`` are passed on first, so the quiet
  start of a word ("f" in "five") reaches the decoder;
- it closes after ``hangover_seconds`` without a loud frame, which tells the
  caller the utterance is over.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

FRAME_SECONDS = 0.02
FULL_SCALE = 32768.0
PRE_EMPHASIS = 0.97


@dataclass(frozen=True)
class GateSettings:
    """How the gate decides; the defaults are the ones measured in bench/gate.py."""

    # In steady noise 10 dB below the voice, 9 dB let through 33 of 60 generated phrases and 6 dB 51 (ungated 55):
    # a voice's consonants rise little above such noise once both are pre-emphasised.
    margin_db: float = 6.0
    # Low enough for a voice from across a room (bench/far_field.py), above a silent input's hiss.
    min_threshold_dbfs: float = -64.0
    floor_rise_db_per_second: float = 1.0
    pre_roll_seconds: float = 0.5
    hangover_seconds: float = 0.7


@dataclass(frozen=True)
class Passage:
    """What one microphone block lets through: audio to decode now, and whether the voice just ended."""

    blocks: tuple[bytes, ...]
    closed: bool = False


class VoiceGate:
    """Feed it every 16-bit mono block in order; decode only what it passes."""

    def __init__(self, rate: int, settings: GateSettings = GateSettings()) -> None:
        self.rate = rate
        self.settings = settings
        self.frame_length = max(1, int(rate * FRAME_SECONDS))
        self.floor_dbfs: float | None = None
        self.is_open = False
        # Since the first loud frame of the current (or last) opening: how long the voice has gone on.
        self.open_seconds = 0.0
        self.blocks_seen = 0
        self.blocks_passed = 0
        self._pre_roll: collections.deque[bytes] = collections.deque()
        self._pre_roll_bytes = 0
        self._pre_roll_limit = 2 * int(rate * settings.pre_roll_seconds)
        self._quiet_seconds = 0.0
        self._last_sample = 0.0

    @property
    def threshold_dbfs(self) -> float:
        floor = self.floor_dbfs if self.floor_dbfs is not None else -np.inf
        return max(floor + self.settings.margin_db, self.settings.min_threshold_dbfs)

    def admit(self, block: bytes) -> Passage:
        seconds = len(block) / 2 / self.rate
        self.blocks_seen += 1
        if seconds == 0:
            return Passage(())
        levels = frame_levels_dbfs(self._emphasized(block), self.frame_length)
        self._follow_floor(float(levels.min()), seconds)
        loud_frames = np.flatnonzero(levels > self.threshold_dbfs)
        loud = len(loud_frames) > 0
        if self.is_open:
            self.open_seconds += seconds
            if loud:
                self._quiet_seconds = (len(levels) - 1 - int(loud_frames[-1])) * FRAME_SECONDS
            else:
                self._quiet_seconds += seconds
            self.blocks_passed += 1
            if self._quiet_seconds >= self.settings.hangover_seconds:
                self.is_open = False
                return Passage((block,), closed=True)
            return Passage((block,))
        if loud:
            self.is_open = True
            self._quiet_seconds = (len(levels) - 1 - int(loud_frames[-1])) * FRAME_SECONDS
            self.open_seconds = (len(levels) - int(loud_frames[0])) * FRAME_SECONDS
            passed = tuple(self._pre_roll) + (block,)
            self._clear_pre_roll()
            self.blocks_passed += len(passed)
            return Passage(passed)
        self._keep_for_pre_roll(block)
        return Passage(())

    @property
    def quiet_seconds(self) -> float:
        """How long the open gate has heard nothing loud: the silence after the last sound of a voice."""
        return self._quiet_seconds

    def clear(self) -> None:
        """Forget the audio heard so far (the noise floor stays learnt)."""
        self.is_open = False
        self.open_seconds = 0.0
        self._quiet_seconds = 0.0
        self._clear_pre_roll()

    def _clear_pre_roll(self) -> None:
        self._pre_roll.clear()
        self._pre_roll_bytes = 0

    def _emphasized(self, block: bytes) -> np.ndarray:
        samples = np.frombuffer(block, dtype=np.int16).astype(np.float64)
        previous = np.concatenate([[self._last_sample], samples[:-1]])
        self._last_sample = float(samples[-1])
        return samples - PRE_EMPHASIS * previous

    def _keep_for_pre_roll(self, block: bytes) -> None:
        self._pre_roll.append(block)
        self._pre_roll_bytes += len(block)
        while self._pre_roll_bytes > self._pre_roll_limit:
            self._pre_roll_bytes -= len(self._pre_roll.popleft())

    def _follow_floor(self, quietest_dbfs: float, seconds: float) -> None:
        if self.floor_dbfs is None or quietest_dbfs < self.floor_dbfs:
            self.floor_dbfs = quietest_dbfs
        else:
            rise = self.settings.floor_rise_db_per_second * seconds
            self.floor_dbfs = min(quietest_dbfs, self.floor_dbfs + rise)


def frame_levels_dbfs(pcm: np.ndarray, frame_length: int) -> np.ndarray:
    """The level of each whole frame of 16-bit-scaled samples (of all of them if shorter than a frame)."""
    samples = pcm.astype(np.float64) / FULL_SCALE
    frames = len(samples) // frame_length
    shaped = samples[:frames * frame_length].reshape(frames, frame_length) if frames else samples[None, :]
    power = np.mean(shaped * shaped, axis=1)
    return 10 * np.log10(power + 1e-12)
