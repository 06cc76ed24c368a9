"""The assistant's own voice taken out of what the microphone hears, inside the app.

WebRTC's current echo canceller (AEC3, through `pywebrtc-audio`) is handed, beside each block from the
microphone, what the speaker plays a moment later: the speaking thread writes every stretch of sound into
`PlayedSound` with the time it will leave the speaker, and the listening thread reads it back. What is left
of the assistant's voice is then far under a person's, so a person starting to talk over it shows plainly
(`VoiceOnset`), which lets the speaker fall silent while the rest of their word is heard.

AEC3's suppressor also takes out the start of a word said over the voice. Speex's adaptive filter
(`libspeexdsp`, the filter of PulseAudio's speex canceller) runs beside it on the same sound: it only
subtracts its estimate of the echo, so it leaves more of the voice but all of the word.
"""

from __future__ import annotations

import ctypes
import ctypes.util
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
# The linear filter's reach: a room's first echoes, and the echo's delay misjudged by up to the margin either way.
LINEAR_FILTER_SECONDS = 0.128
DELAY_MARGIN_SECONDS = 0.04
# The echo's delay behind the reference, found by correlating the two over the last 1.5 s, every 0.5 s while
# the assistant is heard; a stream's latency is only an estimate, and each stream's errs differently.
DELAY_WINDOW_SECONDS = 1.5
DELAY_EVERY_SECONDS = 0.5
LONGEST_DELAY_SECONDS = 0.8
# A correlation peak this many standard deviations above the rest: the echo, not chance.
DELAY_PEAK_CLARITY = 8.0
# The reference's level (int16 RMS, about -50 dBFS) below which there is too little sound to correlate.
DELAY_REFERENCE_FLOOR_RMS = 100
LINEAR_FRAME_SECONDS = 0.01
SPEEX_ECHO_SET_SAMPLING_RATE = 24


@dataclass(frozen=True)
class CleanedBlock:
    """A block from the microphone with the assistant's voice taken out two ways: by AEC3 (the least of the voice
    left, but a word begun over it loses its start) and by the linear filter alone (more of the voice left, all of
    the word)."""

    cancelled: bytes
    linear: bytes


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


def speexdsp() -> ctypes.CDLL:
    """The system's libspeexdsp, its echo functions typed; OSError when it is not installed."""
    path = ctypes.util.find_library("speexdsp")
    if path is None:
        raise OSError("libspeexdsp is not installed")
    library = ctypes.CDLL(path)
    library.speex_echo_state_init.restype = ctypes.c_void_p
    library.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    library.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    library.speex_echo_cancellation.argtypes = [ctypes.c_void_p] * 4
    library.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
    return library


class LinearEchoFilter:
    """Speex's adaptive echo filter: the echo of the reference estimated and subtracted, nothing suppressed."""

    def __init__(self, rate: int) -> None:
        self._library = speexdsp()
        self.frame = int(rate * LINEAR_FRAME_SECONDS)
        self._state = ctypes.c_void_p(self._library.speex_echo_state_init(self.frame,
                                                                           int(rate * LINEAR_FILTER_SECONDS)))
        sampling_rate = ctypes.c_int(rate)
        self._library.speex_echo_ctl(self._state, SPEEX_ECHO_SET_SAMPLING_RATE, ctypes.byref(sampling_rate))

    def subtract(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """``near`` (int16) with the echo of ``far`` (int16, as long) taken out; a last part short of a frame as it
        came."""
        out = near.copy()
        for start in range(0, len(near) - self.frame + 1, self.frame):
            frame = slice(start, start + self.frame)
            self._library.speex_echo_cancellation(self._state, np.ascontiguousarray(near[frame]).ctypes.data,
                                                  np.ascontiguousarray(far[frame]).ctypes.data,
                                                  out[frame].ctypes.data)
        return out

    def __del__(self) -> None:
        self._library.speex_echo_state_destroy(self._state)


class EchoDelay:
    """How far the echo lags the reference: the peak of their cross-correlation, each frequency weighted alike
    (so a voice's loud low notes do not blur the peak)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.seconds = 0.0
        window = int(rate * DELAY_WINDOW_SECONDS)
        self._near = np.zeros(window, np.float32)
        self._far = np.zeros(window, np.float32)
        self._until_next = int(rate * DELAY_EVERY_SECONDS)

    def hear(self, near: np.ndarray, far: np.ndarray) -> None:
        frames = len(near)
        self._near = np.concatenate([self._near[frames:], near.astype(np.float32)])
        self._far = np.concatenate([self._far[frames:], far.astype(np.float32)])
        self._until_next -= frames
        if self._until_next > 0:
            return
        self._until_next = int(self.rate * DELAY_EVERY_SECONDS)
        if np.sqrt(np.mean(self._far ** 2)) < DELAY_REFERENCE_FLOOR_RMS:
            return
        size = 1 << int(np.ceil(np.log2(2 * len(self._near))))
        cross = np.fft.rfft(self._near, size) * np.conj(np.fft.rfft(self._far, size))
        cross /= np.abs(cross) + 0.1 * np.mean(np.abs(cross)) + 1e-12
        correlation = np.fft.irfft(cross, size)[:int(self.rate * LONGEST_DELAY_SECONDS)]
        peak = int(np.argmax(correlation))
        if correlation[peak] > DELAY_PEAK_CLARITY * np.std(correlation):
            self.seconds = peak / self.rate


class OwnVoiceCanceller:
    """AEC3 and the linear filter over the microphone's blocks, with what the speaker plays as their reference."""

    def __init__(self, played: PlayedSound, rate: int) -> None:
        from pywebrtc_audio import AudioProcessor

        self.played = played
        self.rate = rate
        self._processor = AudioProcessor(rate, 1, echo_cancellation=True)
        self._linear = LinearEchoFilter(rate)
        self._delay = EchoDelay(rate)
        self.idle_after_seconds = IDLE_AFTER_SECONDS
        self._bypassing = True
        self._next_at = float("-inf")

    def clean(self, captured_at: float, block: bytes) -> CleanedBlock:
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
            return CleanedBlock(block, block)
        if self._bypassing:
            log.debug("cancelling the assistant's voice")
            self._bypassing = False
        # The speaker tells each stretch before playing it; by then it has told all that plays so soon.
        self.played.wait_until_known(reference_to, deadline=reference_to)
        far = self.played.samples(reference_from, frames, self.rate)
        far16 = np.clip(far * 32768.0, -32768, 32767).astype(np.int16)
        near = np.frombuffer(block, np.int16)
        self._delay.hear(near, far16)
        # The linear filter reaches back only a little: its reference is moved to just ahead of the echo.
        shift = max(0.0, self._delay.seconds - DELAY_MARGIN_SECONDS)
        linear_far = np.clip(self.played.samples(reference_from - shift, frames, self.rate) * 32768.0,
                             -32768, 32767).astype(np.int16)
        return CleanedBlock(self._processor.process(near.copy(), far16).tobytes(),
                            self._linear.subtract(near, linear_far).tobytes())


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

        speexdsp()
    except (ImportError, OSError) as error:
        log.warning("The app's echo canceller cannot load (%s); reinstall with `./quickstart setup`. Trying the "
                    "sound server's.", error)
        return None
    return PlayedSound()


def cancelled_by(told: bool = True, rate: int = 16000, seconds: float = 4.0, linear: bool = False,
                 delay: float = 0.05) -> float:
    """How many dB of a known echo the canceller takes out over its last two seconds (for tests and `doctor`-like
    checks on a new platform): noise played, heard ``delay`` seconds later at half its level; ``told``: whether the
    speaker told the canceller of it; ``linear``: measured on the linear filter's output rather than AEC3's."""
    sound = (np.random.default_rng(27).standard_normal(int(rate * seconds)) * 0.1).astype(np.float32)
    played = PlayedSound()
    start = 1000.0
    if told:
        played.will_play(sound, rate, start)
    lag = int(delay * rate)
    heard = np.zeros(len(sound) + lag, np.float32)
    heard[lag:] = 0.5 * sound
    canceller = OwnVoiceCanceller(played, rate)
    canceller.idle_after_seconds = float("inf")
    block = rate // 10
    cleaned = np.concatenate([
        np.frombuffer(getattr(canceller.clean(start + at / rate, (heard[at:at + block] * 32767).astype(np.int16)
                                              .tobytes()), "linear" if linear else "cancelled"),
                      np.int16) for at in range(0, len(heard) - block + 1, block)]).astype(np.float32) / 32768
    tail = slice(len(cleaned) - 2 * rate, len(cleaned))

    def level(samples: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(samples ** 2) + 1e-12))

    return level(heard[tail]) - level(cleaned[tail])
