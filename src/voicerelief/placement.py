"""Checking where the microphone stands: is a voice from where the person will lie clear enough?

The person setting up says "testing, one two three" from the floor or the bed.
From that one recording: the room's noise (its quietest frames), the voice's
level (its loudest), the difference between them, and whether the recognizer,
hearing it as the session would (level normaliser included), got the three
numbers with confidence. The far-field bench shows what the difference means:
at 20 dB of speech over noise pain scores are heard about 85 % of the time,
at 15 dB about 75 %.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import vosk

from voicerelief.front_end import LevelNormalizer
from voicerelief.microphone import Microphone
from voicerelief.recognizer import LEAD_SILENCE_SECONDS, TRAIL_SILENCE_SECONDS
from voicerelief.voice_gate import FRAME_SECONDS, VoiceGate, frame_levels_dbfs

TEST_WORDS = ("one", "two", "three")
OTHER_WORDS = ("testing", "zero", "four", "five", "six", "seven", "eight", "nine", "ten")
GOOD_SPEECH_OVER_NOISE_DB = 20.0
LISTEN_SECONDS = 10.0
# Enough voice for the whole phrase; the gate's closing then ends the recording.
PHRASE_SECONDS = 1.0
NOISE_PERCENTILE = 10
SPEECH_PERCENTILE = 95


@dataclass(frozen=True)
class Placement:
    """What one test recording showed."""

    speech_dbfs: float
    noise_dbfs: float
    heard: str
    confidence: float
    confidence_floor: float

    @property
    def speech_over_noise_db(self) -> float:
        return self.speech_dbfs - self.noise_dbfs

    @property
    def recognized(self) -> bool:
        return " ".join(TEST_WORDS) in self.heard and self.confidence >= self.confidence_floor

    @property
    def good(self) -> bool:
        return self.recognized and self.speech_over_noise_db >= GOOD_SPEECH_OVER_NOISE_DB

    @property
    def verdict_key(self) -> str:
        """The prompt that tells the person what to do."""
        if self.good:
            return "placement.good"
        return "placement.closer" if self.recognized else "placement.unheard"


def assess(samples: np.ndarray, rate: int, model: vosk.Model, confidence_floor: float) -> Placement:
    """Measure a recording of "testing, one two three" said with room noise before and after it."""
    levels = frame_levels_dbfs(samples, max(1, int(rate * FRAME_SECONDS)))
    heard, confidence = _recognize(samples, rate, model)
    return Placement(speech_dbfs=float(np.percentile(levels, SPEECH_PERCENTILE)),
                     noise_dbfs=float(np.percentile(levels, NOISE_PERCENTILE)),
                     heard=heard, confidence=confidence, confidence_floor=confidence_floor)


def record_test_phrase(microphone: Microphone) -> np.ndarray:
    """From now until a voice of at least a second has ended, or ``LISTEN_SECONDS`` at most."""
    gate = VoiceGate(microphone.rate)
    blocks: list[bytes] = []
    for block in microphone.blocks():
        blocks.append(block)
        passage = gate.admit(block)
        heard_enough = passage.closed and gate.open_seconds >= PHRASE_SECONDS
        if heard_enough or len(blocks) * len(block) / 2 / microphone.rate >= LISTEN_SECONDS:
            break
    return np.frombuffer(b"".join(blocks), dtype=np.int16)


def _recognize(samples: np.ndarray, rate: int, model: vosk.Model) -> tuple[str, float]:
    grammar = [" ".join(TEST_WORDS), *TEST_WORDS, *OTHER_WORDS, "[unk]"]
    recognizer = vosk.KaldiRecognizer(model, rate, json.dumps(grammar))
    recognizer.SetWords(True)
    padded = np.concatenate([np.zeros(int(rate * LEAD_SILENCE_SECONDS), np.int16),
                             LevelNormalizer(rate).normalize(samples),
                             np.zeros(int(rate * TRAIL_SILENCE_SECONDS), np.int16)])
    words = []
    for start in range(0, len(padded), rate // 10):
        if recognizer.AcceptWaveform(padded[start:start + rate // 10].tobytes()):
            words += json.loads(recognizer.Result()).get("result", [])
    words += json.loads(recognizer.FinalResult()).get("result", [])
    counted = [float(word["conf"]) for word in words if word["word"] in TEST_WORDS]
    return " ".join(word["word"] for word in words), min(counted) if counted else 0.0
