"""The assistant's own voice taken out of what the microphone hears, inside the app.

WebRTC's current echo canceller (AEC3, through `pywebrtc-audio`) is handed, beside each block from the
microphone, what the speaker plays a moment later: the speaking thread writes every stretch of sound into
`PlayedSound` with the time it will leave the speaker, and the listening thread reads it back. What is left
of the assistant's voice is then far under a person's, so a person starting to talk over it shows plainly
(`VoiceOnset`), which lets the speaker fall silent while the rest of their word is heard.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

# The reference is handed over this far ahead of its echo: AEC3 finds the delay itself, and tolerated
# references from 0.04 to 0.4 s ahead in an offline trial; a stream's reported latency is only an estimate.
REFERENCE_LEAD_SECONDS = 0.1
STRETCHES_KEPT = 64
RESTAMP_AFTER_SECONDS = 0.05
# With nothing played for this long, blocks pass untouched: an idle room costs no cancelling.
IDLE_AFTER_SECONDS = 2.0
# A voice: a 20 ms frame this loud, and this far above what is left of the assistant's voice.
ONSET_FLOOR_DBFS = -40.0
ONSET_ABOVE_RESIDUAL_DB = 20.0
ONSET_FRAME_SECONDS = 0.02
# A syllable, not a click: the canceller's brief slips (a stream starting, the room changing) last less.
ONSET_LOUD_FRAMES = 3
# When a stream starts, the canceller finds the sound's delay anew (each stream's differs). 1 s, and the chime's
# length on top, was needed while blocks were timed by their jittering capture stamps; with blocks timed by
# counting samples, 0.4 s from the first sound let no false pause through in the rig (bench/barge_in.py counts
# them), and a "stop" said during the alarm's chime is heard.
SETTLE_SECONDS = 0.4
# A resumed prompt's first words after its silence.
RESUME_SETTLE_SECONDS = 0.6


@dataclass
class Stretch:
    """Sound the speaker plays from ``begins`` (monotonic seconds); onsets are not looked for before ``heard_from``."""

    begins: float
    samples: np.ndarray
    rate: int
    heard_from: float
    at_rate: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def ends(self) -> float:
        return self.begins + len(self.samples) / self.rate

    def resampled(self, rate: int) -> np.ndarray:
        if rate not in self.at_rate:
            import soxr

            self.at_rate[rate] = (self.samples if rate == self.rate
                                  else soxr.resample(self.samples, self.rate, rate).astype(np.float32))
        return self.at_rate[rate]


class PlayedSound:
    """What the speaker plays and when: written by the speaking thread, read by the listening one."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._stretches: deque[Stretch] = deque(maxlen=STRETCHES_KEPT)
        self._playing = False

    def begin(self) -> None:
        """A stream opens: what it plays is told before it is played."""
        with self._changed:
            self._playing = True

    def will_play(self, samples: np.ndarray, rate: int, begins: float, settle_seconds: float = 0.0) -> None:
        with self._changed:
            self._stretches.append(Stretch(begins, samples, rate, begins + settle_seconds))
            self._changed.notify_all()

    def cut(self, at: float) -> None:
        """Nothing told is played after ``at`` (the stream was stopped)."""
        with self._changed:
            for stretch in self._stretches:
                if stretch.ends > at:
                    stretch.samples = stretch.samples[:max(0, int((at - stretch.begins) * stretch.rate))]
                    stretch.at_rate.clear()
            self._changed.notify_all()

    def end(self) -> None:
        """The stream closed: nothing more is coming until the next ``begin``."""
        with self._changed:
            self._playing = False
            self._changed.notify_all()

    def wait_until_known(self, until: float, deadline: float) -> None:
        """Wait (at most until ``deadline``) for what plays up to ``until`` to be told, while a stream is open."""
        with self._changed:
            while self._playing and self._known_until() < until:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def _known_until(self) -> float:
        return max((stretch.ends for stretch in self._stretches), default=float("-inf"))

    def idle_since(self, moment: float) -> bool:
        """Whether nothing has played since ``moment`` nor is about to."""
        with self._changed:
            return not self._playing and self._known_until() < moment

    def onsets_hidden(self, start: float, seconds: float) -> bool:
        """Whether any of this span falls in a stretch's settling time."""
        with self._changed:
            return any(stretch.begins < start + seconds and start < stretch.heard_from for stretch in self._stretches)

    def samples(self, start: float, frames: int, rate: int) -> np.ndarray:
        """What the speaker plays over ``frames`` samples at ``rate`` from ``start``; silence where nothing."""
        out = np.zeros(frames, np.float32)
        end = start + frames / rate
        with self._changed:
            stretches = [stretch for stretch in self._stretches if stretch.begins < end and stretch.ends > start]
        for stretch in stretches:
            sound = stretch.resampled(rate)
            offset = int(round((stretch.begins - start) * rate))
            first, last = max(0, offset), min(frames, offset + len(sound))
            if first < last:
                out[first:last] += sound[first - offset:last - offset]
        return out


class OwnVoiceCanceller:
    """AEC3 over the microphone's blocks, with what the speaker plays as its reference."""

    def __init__(self, played: PlayedSound, rate: int) -> None:
        from pywebrtc_audio import AudioProcessor

        self.played = played
        self.rate = rate
        self._processor = AudioProcessor(rate, 1, echo_cancellation=True)
        self.idle_after_seconds = IDLE_AFTER_SECONDS
        self._bypassing = True
        self._next_at = float("-inf")

    def clean(self, captured_at: float, block: bytes) -> bytes:
        """The block with the assistant's voice taken out (unchanged while nothing has played for a while)."""
        frames = len(block) // 2
        # The capture stamps jitter with the audio thread's wake-ups; AEC3 needs the reference as continuous as
        # the microphone's sound, so blocks are timed by counting samples, from a stamp taken afresh only
        # when they drift apart (blocks lost to an overflow).
        if abs(captured_at - self._next_at) > RESTAMP_AFTER_SECONDS:
            self._next_at = captured_at
        captured_at, self._next_at = self._next_at, self._next_at + frames / self.rate
        reference_from = captured_at + REFERENCE_LEAD_SECONDS
        reference_to = reference_from + frames / self.rate
        if self.played.idle_since(captured_at - self.idle_after_seconds):
            self._bypassing = True
            return block
        if self._bypassing:
            log.debug("cancelling the assistant's voice")
            self._bypassing = False
        # The speaker tells each stretch before playing it; by then it has told all that plays so soon.
        self.played.wait_until_known(reference_to, deadline=reference_to)
        far = self.played.samples(reference_from, frames, self.rate)
        far16 = np.clip(far * 32768.0, -32768, 32767).astype(np.int16)
        near = np.frombuffer(block, np.int16)
        return self._processor.process(near.copy(), far16).tobytes()


class VoiceOnset:
    """Whether a person's voice begins in cancelled sound: loud frames well above the canceller's residual."""

    def __init__(self, rate: int) -> None:
        self.frame = max(1, int(rate * ONSET_FRAME_SECONDS))
        self.residual_dbfs = -90.0

    def heard(self, block: bytes) -> bool:
        samples = np.frombuffer(block, np.int16).astype(np.float32) / 32768.0
        count = len(samples) // self.frame
        if count == 0:
            return False
        power = np.mean(samples[:count * self.frame].reshape(count, self.frame) ** 2, axis=1)
        levels = 10 * np.log10(power + 1e-12)
        loud = int(np.sum(levels > max(ONSET_FLOOR_DBFS, self.residual_dbfs + ONSET_ABOVE_RESIDUAL_DB)))
        if loud >= min(ONSET_LOUD_FRAMES, count):
            log.debug("a voice: %d loud frames, at most %.0f dBFS, over a residual of %.0f dBFS", loud,
                      float(levels.max()), self.residual_dbfs)
            return True
        # What the canceller leaves of the voice moves slowly with the room and the volume; follow its quieter half.
        self.residual_dbfs = 0.9 * self.residual_dbfs + 0.1 * float(np.median(levels))
        return False


def own_voice_cancelling() -> PlayedSound | None:
    """Where the speaker is to tell what it plays, when the app's canceller can load; else None, said once."""
    try:
        import pywebrtc_audio  # noqa: F401
    except ImportError as error:
        log.warning("The app's echo canceller cannot load (%s); reinstall with `./quickstart setup`. Trying the "
                    "sound server's.", error)
        return None
    return PlayedSound()


def cancelled_by(told: bool = True, rate: int = 16000, seconds: float = 4.0) -> float:
    """How many dB of a known echo the canceller takes out over its last two seconds (for tests and `doctor`-like
    checks on a new platform): noise played, heard 50 ms later at half its level; ``told``: whether the speaker
    told the canceller of it."""
    sound = (np.random.default_rng(27).standard_normal(int(rate * seconds)) * 0.1).astype(np.float32)
    played = PlayedSound()
    start = 1000.0
    if told:
        played.will_play(sound, rate, start)
    delay = int(0.05 * rate)
    heard = np.zeros(len(sound) + delay, np.float32)
    heard[delay:] = 0.5 * sound
    canceller = OwnVoiceCanceller(played, rate)
    canceller.idle_after_seconds = float("inf")
    block = rate // 10
    cleaned = np.concatenate([
        np.frombuffer(canceller.clean(start + at / rate, (heard[at:at + block] * 32767).astype(np.int16).tobytes()),
                      np.int16) for at in range(0, len(heard) - block + 1, block)]).astype(np.float32) / 32768
    tail = slice(len(cleaned) - 2 * rate, len(cleaned))

    def level(samples: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(samples ** 2) + 1e-12))

    return level(heard[tail]) - level(cleaned[tail])
