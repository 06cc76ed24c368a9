"""Measuring the recognizer: labelled real recordings and generated speech, scored the same way.

Also the voice gate: the same recordings streamed through the recognizer with and without it.

Used by the tests (which assert floors) and by ``bench/recognize.py`` (which
prints the figures), so both measure exactly the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from voicerelief.audio_file import Speech, read_speech
from voicerelief.commands import NUMBER, Intent, PhraseTable
from voicerelief.synthesize import noise_at_level, synthesize, with_noise
from voicerelief.voice_gate import FRAME_SECONDS, VoiceGate, frame_levels_dbfs

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOICES = ("en-us", "en-gb-x-rp+f3")
WORDS_PER_MINUTE = (140, 185)
NOISE_SNR_DB = 10.0
# A clip placed in a room: this much of the room before and after it.
ROOM_LEAD_SECONDS = 1.5
ROOM_TRAIL_SECONDS = 1.0
# The room is as loud as the clip's own quiet parts, but never closer than this to its loudest frame,
ROOM_BELOW_PEAK_DB = 30.0
# and never quieter than a quiet room: half the shared recordings carry room noise at least this loud
# (their median); synthesized speech and clips padded with zeros carry none.
QUIET_ROOM_DBFS = -65.0

# Everyday sentences a person or a television might say near the assistant,
# none of them a command.
OTHER_SENTENCES = (
    "the weather is lovely this afternoon",
    "could you pass me the remote",
    "i think the kettle has boiled",
    "where did i leave my glasses",
    "turn the television over to the news",
    "my sister is coming round later",
    "the cat wants to go outside",
    "what a beautiful garden",
    "we need more milk and bread",
    "the football starts at eight tonight",
    "shall we order a pizza",
    "the doctor said it would take time",
    "this chair is really uncomfortable",
    "open the window a little",
    "have you seen my phone charger",
    "it was raining all morning",
    "tell me a story about dragons",
    "the bus was late again",
    "put some music on please",
    "my back has been bothering me all week",
)


@dataclass(frozen=True)
class Sample:
    """A recording and what it should be recognized as (None: it must be rejected)."""

    name: str
    group: str
    expected: Intent | None
    load: Callable[[], Speech]
    # A generated phrase in noise: its seed, so a stream can carry that noise from end to end (``in_room``).
    noise_seed: int | None = None
    clean: Callable[[], Speech] | None = None


def shared_data_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def real_samples(data_dir: Path) -> Iterator[Sample]:
    """The development recordings: yes/no/stop, digits, and words and noise to reject."""
    commands = data_dir / "speech-commands-dev"
    for label in ("yes", "no", "stop"):
        for path in sorted((commands / label).glob("*.wav")):
            yield Sample(str(path), "yes/no/stop", Intent(label), _reader(path))
    for value, word in enumerate(DIGIT_WORDS):
        for path in sorted((commands / word).glob("*.wav")):
            yield Sample(str(path), "digits", Intent(NUMBER, value), _reader(path))
    for path in sorted((data_dir / "spoken-digits-dev").glob("*.wav")):
        value = int(path.name.split("_")[0])
        yield Sample(str(path), "digits", Intent(NUMBER, value), _reader(path))
    for label in ("_unknown_", "_silence_"):
        for path in sorted((commands / label).glob("*.wav")):
            yield Sample(str(path), label.strip("_"), None, _reader(path))


def generated_samples(table: PhraseTable) -> Iterator[Sample]:
    """Every phrase and every other sentence, in two voices at two rates, clean and at 10 dB SNR."""
    lines: list[tuple[str, str, Intent | None]] = [
        (phrase, "phrases", intent) for phrase, intent in sorted(table.phrases.items())
    ]
    lines += [(sentence, "other sentences", None) for sentence in OTHER_SENTENCES]
    for seed, (text, group, expected) in enumerate(lines):
        for voice in VOICES:
            for rate in WORDS_PER_MINUTE:
                name = f"{text} [{voice} {rate}wpm]"
                yield Sample(name, group, expected, _synth(text, voice, rate, None))
                yield Sample(name + " +noise", group, expected, _synth(text, voice, rate, seed), seed,
                             _synth(text, voice, rate, None))


def in_room(speech: Speech, seed: int) -> np.ndarray:
    """The clip inside pink room noise, as a microphone would stream it.

    The noise level is the clip's own quietest 20 ms (its 10th percentile),
    capped at 30 dB below its loudest frame (clips trimmed to the word have
    no quiet part of their own) and raised to a quiet room's where the clip is
    quieter (digital silence is no room). Nothing of the clip is cut or changed.
    """
    clip = speech.samples.astype(np.float64)
    levels = frame_levels_dbfs(speech.samples, int(speech.rate * FRAME_SECONDS))
    room_dbfs = max(QUIET_ROOM_DBFS, min(float(np.percentile(levels, 10)), float(levels.max()) - ROOM_BELOW_PEAK_DB))
    lead = int(speech.rate * ROOM_LEAD_SECONDS)
    trail = int(speech.rate * ROOM_TRAIL_SECONDS)
    noise = noise_at_level(lead + len(clip) + trail, room_dbfs, seed)
    noise[lead:lead + len(clip)] += clip
    return np.clip(noise, -32768, 32767).astype(np.int16)


def _reader(path: Path) -> Callable[[], Speech]:
    return lambda: read_speech(path)


def _synth(text: str, voice: str, rate: int, noise_seed: int | None) -> Callable[[], Speech]:
    def load() -> Speech:
        speech = synthesize(text, voice, rate)
        return speech if noise_seed is None else with_noise(speech, NOISE_SNR_DB, noise_seed)

    return load


@dataclass
class Score:
    correct: int = 0
    total: int = 0

    @property
    def rate(self) -> float:
        return self.correct / self.total if self.total else 0.0


def scores_by_group(recognizer, samples: Iterable[Sample], heard_intents: frozenset[str] | None = None,
                    ) -> dict[str, Score]:
    """Each sample through a ``FileRecognizer``, scored by group.

    With ``heard_intents`` (a state's grammar), commands of other intents are left out:
    that state cannot hear them. The order matters: vosk adapts to what it heard before.
    """
    scores: dict[str, Score] = defaultdict(Score)
    for sample in samples:
        if heard_intents is not None and sample.expected is not None and sample.expected.name not in heard_intents:
            continue
        heard, _ = recognizer.recognize(sample.load())
        scores[sample.group].total += 1
        scores[sample.group].correct += heard.intent == sample.expected
    return scores


GateMaker = Callable[[int], VoiceGate | None]


@dataclass
class GateRun:
    """Scores by group (and "all") of one way of gating, and how much of the audio it passed on."""

    scores: dict[str, Score] = field(default_factory=lambda: defaultdict(Score))
    blocks_seen: int = 0
    blocks_passed: int = 0


def compare_gates(model, table: PhraseTable, samples: Iterable[Sample], gates: dict[str, GateMaker]) -> dict[str, GateRun]:
    """Each sample, placed in a room (``in_room``), streamed through each gate and a fresh recognizer."""
    from voicerelief.recognizer import BLOCK_SECONDS, CommandRecognizer

    runs = {name: GateRun() for name in gates}
    for seed, sample in enumerate(samples):
        speech = sample.clean() if sample.clean is not None else sample.load()
        stream = in_room(speech, seed)
        if sample.noise_seed is not None:
            # Noise does not switch on with the speaker: the clean phrase in the room, then the noise over it all.
            stream = with_noise(Speech(stream, speech.rate), NOISE_SNR_DB, sample.noise_seed).samples
        for name, make_gate in gates.items():
            gate = make_gate(speech.rate)
            # The gate alone: the level normaliser behind it is measured by bench/far_field.py.
            heard = CommandRecognizer(model, table, speech.rate, gate, level=None).recognize_stream(stream)
            run = runs[name]
            for group in (sample.group, "all"):
                run.scores[group].total += 1
                run.scores[group].correct += heard.intent == sample.expected
            blocks = -(-len(stream) // int(speech.rate * BLOCK_SECONDS))
            run.blocks_seen += blocks
            run.blocks_passed += gate.blocks_passed if gate else blocks
    return runs
