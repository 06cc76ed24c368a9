"""What the decoder hears: each utterance brought to the level the speech model expects.

The model reads raw filterbank energies, so a voice two metres away (or a
quiet microphone) reaches it 20 to 40 dB below the speech it was trained on,
and it decodes silence. Before decoding, each utterance the voice gate passes
that is quieter than ``target_peak_dbfs`` (its loudest 20 ms frame) is raised to it:

- the gain is set once the voice has gone on for ``lookahead_seconds`` (or
  ended sooner), from the loudest frame of the audio held until then, so the
  whole utterance gets one gain and its start is not pumped;
- a later, louder frame only lowers the gain from that block on (never
  below none), so nothing clips;
- the gain is never above ``max_gain_db``, so a room's noise is not raised
  into a voice.

It only ever sees audio the gate passes: idle listening costs nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicerelief.voice_gate import FRAME_SECONDS, frame_levels_dbfs


@dataclass(frozen=True)
class LevelSettings:
    """The defaults are the ones measured in bench/far_field.py."""

    target_peak_dbfs: float = -17.0
    max_gain_db: float = 30.0
    # Never quieter: a voice close by already decodes well, and lowering it cost accuracy there.
    min_gain_db: float = 0.0
    lookahead_seconds: float = 0.5


class LevelNormalizer:
    """Feed it an utterance's blocks in order; ``end`` it when the utterance is over."""

    def __init__(self, rate: int, settings: LevelSettings = LevelSettings()) -> None:
        self.rate = rate
        self.settings = settings
        self.frame_length = max(1, int(rate * FRAME_SECONDS))
        self.gain_db: float | None = None
        self._held: list[bytes] = []

    def feed(self, blocks: tuple[bytes, ...], voice_seconds: float, ending: bool) -> list[bytes]:
        """The blocks to decode now: none while the gain is still being found, then all held ones, scaled."""
        if self.gain_db is None:
            self._held.extend(blocks)
            # No audio, no gain: one found from nothing would be the largest, and the next voice's start blown up.
            if not self._held or (voice_seconds < self.settings.lookahead_seconds and not ending):
                return []
            blocks, self._held = tuple(self._held), []
            self.gain_db = self._gain_for(blocks)
        else:
            self.gain_db = min(self.gain_db, self._gain_for(blocks))
        return [self._scaled(block) for block in blocks]

    def end(self) -> None:
        """The utterance is over (or abandoned): the next one finds its own gain."""
        self.gain_db = None
        self._held = []

    def normalize(self, samples: np.ndarray) -> np.ndarray:
        """A whole recording as one utterance."""
        gain_db = self._gain_for((samples.tobytes(),))
        return _scaled(samples, gain_db)

    def _gain_for(self, blocks: tuple[bytes, ...]) -> float:
        samples = np.frombuffer(b"".join(blocks), dtype=np.int16)
        if len(samples) == 0:
            return self.settings.max_gain_db
        loudest = float(frame_levels_dbfs(samples, self.frame_length).max())
        wanted = self.settings.target_peak_dbfs - loudest
        return float(np.clip(wanted, self.settings.min_gain_db, self.settings.max_gain_db))

    def _scaled(self, block: bytes) -> bytes:
        assert self.gain_db is not None
        return _scaled(np.frombuffer(block, dtype=np.int16), self.gain_db).tobytes()


def _scaled(samples: np.ndarray, gain_db: float) -> np.ndarray:
    louder = samples.astype(np.float64) * 10 ** (gain_db / 20)
    return np.clip(np.round(louder), -32768, 32767).astype(np.int16)
