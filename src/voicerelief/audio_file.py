"""Reading sound files as speech: any WAV becomes mono 16-bit samples at 16 kHz or more."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from voicerelief.errors import AudioFileError

MIN_RATE = 16000
MAX_SECONDS = 600


@dataclass(frozen=True)
class Speech:
    """Mono 16-bit samples and their rate."""

    samples: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def to_int16(mono: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as 16-bit integers, clipped."""
    return (np.clip(mono, -1.0, 1.0) * 32767).astype(np.int16)


def read_speech(path: Path) -> Speech:
    """Read a WAV file; stereo is mixed down, float converted, rates under 16 kHz upsampled."""
    try:
        info = soundfile.info(str(path))
    except soundfile.LibsndfileError as error:
        raise AudioFileError(f"{path} is not a readable WAV file ({_reason(error)}).") from None
    except OSError as error:
        raise AudioFileError(f"{path} cannot be opened ({error.strerror or error}).") from None
    if info.format not in ("WAV", "WAVEX"):
        raise AudioFileError(f"{path} is a {info.format} file, not a WAV file; convert it to WAV first.")
    if info.frames == 0:
        raise AudioFileError(f"{path} holds no audio; record the command again.")
    if info.duration > MAX_SECONDS:
        raise AudioFileError(
            f"{path} is {info.duration:.0f} s long, more than the {MAX_SECONDS} s a spoken command can be; "
            "cut it into shorter files."
        )
    try:
        frames, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioFileError(f"{path} is damaged and cannot be decoded ({_reason(error)}).") from None
    if len(frames) == 0:
        raise AudioFileError(f"{path} holds no audio; record the command again.")
    mono = frames.mean(axis=1)
    if rate < MIN_RATE:
        mono = soxr.resample(mono, rate, MIN_RATE)
        rate = MIN_RATE
    return Speech(to_int16(mono), int(rate))


def _reason(error: Exception) -> str:
    text = str(error)
    return (text.split(": ", 1)[-1] if ": " in text else text).rstrip(".")
