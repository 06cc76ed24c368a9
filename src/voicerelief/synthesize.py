"""Synthesized user speech from espeak-ng, for the demo, the tests and the benchmarks."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import soundfile

from voicerelief.audio_file import Speech, to_int16
from voicerelief.errors import VoiceReliefError


def synthesize(text: str, voice: str = "en-us", words_per_minute: int = 160) -> Speech:
    """Speak ``text`` with espeak-ng into memory."""
    executable = shutil.which("espeak-ng")
    if executable is None:
        raise VoiceReliefError("espeak-ng is not installed; install it with `sudo apt-get install espeak-ng`.")
    result = subprocess.run(
        [executable, "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        capture_output=True, check=False, timeout=60,
    )
    if result.returncode != 0 or not result.stdout:
        raise VoiceReliefError(f"espeak-ng could not speak with voice {voice!r}: {result.stderr.decode().strip()}.")
    frames, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32")
    return Speech(to_int16(frames), int(rate))


def with_noise(speech: Speech, snr_db: float, seed: int) -> Speech:
    """The same speech, with a short pause either side, in pink noise at the given signal-to-noise ratio."""
    pause = np.zeros(int(speech.rate * 0.3))
    signal = np.concatenate([pause, speech.samples.astype(np.float64), pause])
    voiced = signal[np.abs(signal) > 0.02 * 32767]
    signal_power = float(np.mean((voiced if len(voiced) else signal) ** 2))
    noise_power = signal_power / (10 ** (snr_db / 10))
    noise = pink_noise(len(signal), seed)
    noise *= np.sqrt(noise_power / np.mean(noise**2))
    return Speech(to_int16((signal + noise) / 32767), speech.rate)


def pink_noise(length: int, seed: int) -> np.ndarray:
    """Noise whose power falls by 3 dB an octave, like a room's fans and traffic."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(size=length))
    frequencies = np.arange(len(spectrum), dtype=np.float64)
    frequencies[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(frequencies), n=length)


def noise_at_level(length: int, dbfs: float, seed: int) -> np.ndarray:
    """Pink noise on the 16-bit scale whose average level is ``dbfs`` below full scale."""
    noise = pink_noise(length, seed)
    return noise * np.sqrt(10 ** (dbfs / 10) / np.mean((noise / 32768) ** 2))
