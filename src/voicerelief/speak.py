"""Speech output: pyttsx3 renders each prompt to a WAV on one dedicated thread; sounddevice plays it.

Rendering to a file (rather than pyttsx3's own playback through aplay) gives speech
that can be stopped and whose start and end are known. Rendered prompts are cached
on disk, keyed by text, voice and rate, so a repeated prompt starts at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterator, Protocol

import numpy as np
import soundfile

from voicerelief.errors import AudioDeviceError
from voicerelief.own_voice import RESUME_SETTLE_SECONDS, SETTLE_SECONDS, PlayedSound

log = logging.getLogger(__name__)


# The settings' names of the two voices; any other name is an espeak-ng voice, such as en-gb.
NATURAL, ESPEAK = "natural", "espeak"


@dataclass
class Voice:
    words_per_minute: int = 150
    volume: float = 1.0
    # NATURAL, ESPEAK, or an espeak-ng voice such as en-gb.
    voice_id: str = ESPEAK

    @property
    def natural(self) -> bool:
        """Whether the natural voice speaks: the default (an empty setting, as older versions saved it) or chosen."""
        return self.voice_id in ("", NATURAL)

    @property
    def espeak_voice(self) -> str:
        """The espeak-ng voice to ask pyttsx3 for; empty for its default."""
        return "" if self.voice_id in ("", NATURAL, ESPEAK) else self.voice_id


class Renderer(Protocol):
    voice: Voice
    # The silence played between two of ``speech``'s parts.
    pause_seconds: float

    def render(self, text: str) -> Path: ...

    def speech(self, text: str) -> Iterator[Path]: ...

    def close(self) -> None: ...


RENDER_ATTEMPTS = 3
# After pyttsx3 returns, a rendered WAV is complete within 50 ms (150 of 150 measured); in the stalls that
# bench/voice.py found (about one render in ten while sound plays), it did not come within five seconds.
RENDER_WAIT_SECONDS = 1.0


def _whole_wav_appears(path: Path, timeout: float) -> bool:
    """Whether ``path`` becomes a complete 16-bit WAV (its header patched with the length) in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            frames = soundfile.info(str(path)).frames
            if frames > 0 and path.stat().st_size >= 44 + 2 * frames:
                return True
        except (OSError, RuntimeError):  # not there yet, or its header not written yet
            pass
        time.sleep(0.02)
    return False


class PromptRenderer:
    """Turns text into WAV files with pyttsx3, always on the same thread, caching each result."""

    def __init__(self, cache_dir: Path, voice: Voice) -> None:
        self.cache_dir = cache_dir
        self.voice = voice
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts")
        self._engine = None

    pause_seconds = 0.0

    def render(self, text: str) -> Path:
        """The WAV file of ``text`` in the current voice, rendering it if not cached."""
        return self._thread.submit(self._render, text).result()

    def speech(self, text: str) -> Iterator[Path]:
        """``text`` in one part: espeak-ng renders a whole prompt faster than it is spoken."""
        yield self.render(text)

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    def _render(self, text: str) -> Path:
        voice = self.voice
        key = hashlib.sha256(f"{voice.espeak_voice}|{voice.words_per_minute}|{text}".encode()).hexdigest()[:32]
        target = self.cache_dir / f"{key}.wav"
        if target.is_file() and target.stat().st_size > 44:
            return target
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = self._engine_for(voice)
        for attempt in range(RENDER_ATTEMPTS):
            # A file of its own for each attempt: a late write from the one given up on cannot mix into it.
            partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.{attempt}.part.wav")
            engine.save_to_file(text, str(partial))
            engine.runAndWait()
            # pyttsx3's espeak loop can return before the file is written (seen on the first prompt
            # of a fresh process, pyttsx3 issue #219): wait for a whole WAV, else render again.
            if _whole_wav_appears(partial, RENDER_WAIT_SECONDS):
                partial.replace(target)
                for given_up in target.parent.glob(target.stem + f".{os.getpid()}.{threading.get_ident()}.*.part.wav"):
                    given_up.unlink(missing_ok=True)
                return target
            log.debug("pyttsx3 returned without rendering %r; trying again", text)
        raise RuntimeError(f"pyttsx3 rendered nothing for {text!r}")

    def _engine_for(self, voice: Voice):
        if self._engine is None:
            import pyttsx3
            from pyttsx3.drivers import espeak as espeak_driver

            # The espeak driver announces every saved file with print(); keep stdout for our own output.
            espeak_driver.print = lambda *args, **kwargs: log.debug(" ".join(map(str, args)))
            self._engine = pyttsx3.init("espeak")
        self._engine.setProperty("rate", voice.words_per_minute)
        if voice.espeak_voice:
            self._engine.setProperty("voice", voice.espeak_voice)
        return self._engine


def speech_cache() -> Path:
    """Where rendered speech is kept between runs: the user's cache folder."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("voicerelief")) / "speech"


def open_renderer(cache_dir: Path, voice: Voice) -> Renderer:
    """The natural voice when it is chosen (espeak-ng standing in until it is loaded), else espeak-ng."""
    espeak = PromptRenderer(cache_dir, voice)
    if not voice.natural:
        return espeak
    from voicerelief.natural_voice import PiperRenderer

    return PiperRenderer(cache_dir, voice, espeak)


def read_rendered(path: Path, volume: float):
    """Samples of a rendered prompt, without its silent ends, scaled by volume, and its rate."""
    samples, rate = soundfile.read(str(path), dtype="float32")
    return trim_silence(samples, rate) * volume, rate


# espeak-ng pads its WAVs with silence (about 0.38 s at the end): played, it would only delay
# the answer and the moment the microphone listens again.
SILENCE_DBFS = -50.0
KEEP_SILENCE_SECONDS = 0.02


def trim_silence(samples: np.ndarray, rate: int) -> np.ndarray:
    """The samples from the first to the last audible 10 ms, with a short margin each side."""
    frame = max(1, rate // 100)
    frames = len(samples) // frame
    if frames == 0:
        return samples
    power = np.mean(samples[:frames * frame].reshape(frames, frame) ** 2, axis=1)
    audible = np.flatnonzero(10 * np.log10(power + 1e-12) > SILENCE_DBFS)
    if len(audible) == 0:
        return samples[:0]
    margin = int(rate * KEEP_SILENCE_SECONDS)
    return samples[max(0, audible[0] * frame - margin):min(len(samples), (audible[-1] + 1) * frame + margin)]


# Told the monotonic time at which the last sound of a prompt will have left the speaker.
SoundEnds = Callable[[float], None]


def _ignore(sound_ends_at: float) -> None:
    """For a caller that does not need to know when the sound ends."""


# A paused prompt goes on a little before where it stopped, so the word cut off is heard whole.
RESUME_BACK_SECONDS = 0.3
# The listener resumes a pause long before this; it only guards against one that never comes.
MAX_PAUSE_SECONDS = 5.0
CHIME_RATE = 22050
PLAYBACK_BLOCK_SECONDS = 0.05


def chime(urgency: int) -> np.ndarray:
    """Two rising tones of our own; louder for each repeated reminder (urgency 1 to 4)."""
    level = min(0.9, 0.3 + 0.2 * (max(1, urgency) - 1))
    tones = []
    for frequency in (660.0, 880.0):
        t = np.arange(int(CHIME_RATE * 0.18)) / CHIME_RATE
        envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
        tones.append(np.sin(2 * np.pi * frequency * t) * envelope)
    gap = np.zeros(int(CHIME_RATE * 0.06))
    return (np.concatenate([tones[0], gap, tones[1], gap]) * level).astype(np.float32)


class Speaker:
    """Says prompts aloud through an output device. Playback can be cut short from another thread."""

    def __init__(self, renderer: Renderer, output_device: str | None = None,
                 played: PlayedSound | None = None) -> None:
        """``played``: told each stretch of sound before it plays, for a canceller to take it out of the microphone."""
        self.renderer = renderer
        self.output_device = output_device
        self.played = played or PlayedSound()
        self.failed = False
        self.interrupted = threading.Event()
        self.paused = threading.Event()
        self._resumed = threading.Event()

    def say(self, text: str, urgency: int = 0,
            while_playing: Callable[[], ContextManager[SoundEnds]] = lambda: contextlib.nullcontext(_ignore)) -> bool:
        """Speak ``text`` (after a chime when urgent); False when it could not be played.

        ``while_playing`` is entered once the speech is rendered, just before the first sound: only the
        sound itself, not the rendering, deafens the microphone. What it yields is told, as soon as the
        last block is handed to the device, when that block's sound will have left the speaker.
        """
        try:
            parts = self.renderer.speech(text)
            samples, rate = read_rendered(next(parts), self.renderer.voice.volume)
            if urgency:
                samples = np.concatenate([soxr_to(chime(urgency), CHIME_RATE, rate), samples])
            with while_playing() as sound_ends:
                self._play(self._then_the_rest(samples, rate, parts), rate, sound_ends, SETTLE_SECONDS)
            if self.failed:
                log.warning("Speech output works again.")
            self.failed = False
            return True
        except Exception as error:  # a speaker fault must never stop the guidance: the text is shown anyway
            if not self.failed:
                log.warning("Speech output failed, showing text only: %s", error)
            self.failed = True
            return False

    def interrupt(self) -> None:
        self.interrupted.set()
        self._resumed.set()

    def pause(self) -> None:
        """Fall silent at once, keeping the place: a person may be talking over the prompt."""
        self._resumed.clear()
        self.paused.set()

    def resume(self) -> None:
        """Go on from a little before where the prompt fell silent."""
        self.paused.clear()
        self._resumed.set()

    def close(self) -> None:
        """Nothing to release: each prompt opens and closes its own stream."""

    def has_output(self) -> bool:
        """Whether the output device can be found now."""
        from voicerelief.devices import find_device

        try:
            find_device(self.output_device, "output")
            return True
        except AudioDeviceError:
            return False

    def _then_the_rest(self, first: np.ndarray, rate: int, parts: Iterator[Path]) -> Iterator[np.ndarray]:
        """The first part's samples, then each next part after a pause, read once it is rendered."""
        yield first
        pause = np.zeros(int(rate * self.renderer.pause_seconds), np.float32)
        for part in parts:
            samples, part_rate = read_rendered(part, self.renderer.voice.volume)
            yield pause
            yield soxr_to(samples, part_rate, rate)

    def _play(self, pieces: Iterator[np.ndarray], rate: int, sound_ends: SoundEnds,
              settle_seconds: float = 0.0) -> None:
        from voicerelief.devices import PORTAUDIO_LOCK, find_device, portaudio

        sounddevice = portaudio()
        block = int(rate * PLAYBACK_BLOCK_SECONDS)
        self.interrupted.clear()
        self.paused.clear()
        # Our own stream, not sounddevice.play(): its shared global stream outlives a PortAudio
        # re-initialization (after a device came back) and closing it then can close a live stream.
        with PORTAUDIO_LOCK:
            device = find_device(self.output_device, "output")
            with sounddevice.OutputStream(device=device, samplerate=rate, channels=1, dtype="float32") as stream:
                self.played.begin()
                try:
                    plays_until = 0.0
                    for samples in pieces:
                        # After a wait for the next part, the device has played out all it held.
                        plays_until = self._tell(samples, rate, max(plays_until, time.monotonic() + stream.latency),
                                                 settle_seconds)
                        settle_seconds = 0.0
                        position = 0
                        while position < len(samples):
                            if self.paused.is_set():
                                position, plays_until = self._hold(stream, samples, rate, position, plays_until)
                            if self.interrupted.is_set():
                                stream.abort()
                                self.played.cut(time.monotonic())
                                sound_ends(time.monotonic())
                                return
                            stream.write(np.ascontiguousarray(samples[position:position + block], dtype=np.float32))
                            position += block
                    # A blocking write returns once its block is queued: the device then holds about its
                    # latency's worth of sound, which closing the stream waits for (or, on some hosts, not).
                    sound_ends(time.monotonic() + stream.latency)
                finally:
                    self.played.end()

    def _tell(self, samples: np.ndarray, rate: int, begins: float, settle_seconds: float) -> float:
        """Tell ``played`` what is about to play from ``begins``; returns when it will have played."""
        self.played.will_play(samples, rate, begins, settle_seconds)
        return begins + len(samples) / rate

    def _hold(self, stream, samples: np.ndarray, rate: int, position: int, plays_until: float) -> tuple[int, float]:
        """Silence until resumed or interrupted; the position to go on from, and when the piece will have played.

        The stream keeps running on silence, so the sound's delay, which the canceller has learnt, stays the same:
        times follow from the samples written.
        """
        fell_silent = plays_until - (len(samples) - position) / rate
        self.played.cut(fell_silent)
        log.debug("speech paused: someone may be talking")
        block = int(rate * PLAYBACK_BLOCK_SECONDS)
        deadline = time.monotonic() + MAX_PAUSE_SECONDS
        silent_blocks = 0
        while not self._resumed.is_set() and time.monotonic() < deadline:
            stream.write(np.zeros(block, np.float32))
            silent_blocks += 1
        self.paused.clear()
        goes_on_at = fell_silent + silent_blocks * block / rate
        position = max(0, position - int(rate * RESUME_BACK_SECONDS))
        if self.interrupted.is_set():
            return position, goes_on_at
        log.debug("speech resumed")
        return position, self._tell(samples[position:], rate, max(goes_on_at, time.monotonic() + stream.latency),
                                    RESUME_SETTLE_SECONDS)


class AudioFileSpeaker(Speaker):
    """Says prompts into one WAV file instead of a device: to hear a whole demo later, or where no speaker is."""

    # Between two prompts, as a person would hear the assistant pause.
    GAP_SECONDS = 0.5

    def __init__(self, renderer: Renderer, path: Path) -> None:
        super().__init__(renderer)
        self.path = path
        self._file: soundfile.SoundFile | None = None

    def has_output(self) -> bool:
        return True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _play(self, pieces: Iterator[np.ndarray], rate: int, sound_ends: SoundEnds,
              settle_seconds: float = 0.0) -> None:
        if self._file is None:
            self._file = soundfile.SoundFile(str(self.path), "w", samplerate=rate, channels=1, subtype="PCM_16")
        elif self._file.frames:
            self._file.write(np.zeros(int(self._file.samplerate * self.GAP_SECONDS), np.float32))
        for samples in pieces:
            self._file.write(soxr_to(samples, rate, self._file.samplerate))
        sound_ends(time.monotonic())


def soxr_to(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    import soxr

    return samples if rate == target else soxr.resample(samples, rate, target).astype(np.float32)
