"""Turning speech into intents with vosk in restricted-grammar mode.

The grammar is built from the phrase table. Vosk turns it into a bigram model,
so a result can be any sequence of grammar words: only a result that is exactly
a phrase of the table, with every word above the confidence floor, is accepted.
Behind the voice gate, a complete phrase ends its utterance after a short silence,
and a phrase picked out of longer speech is rejected.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import vosk

from voicerelief.audio_file import Speech
from voicerelief.commands import UNKNOWN_WORD, Intent, PhraseTable
from voicerelief.errors import ModelError
from voicerelief.front_end import LevelNormalizer, LevelSettings
from voicerelief.models import require_model
from voicerelief.voice_gate import VoiceGate

BLOCK_SECONDS = 0.1
# Clips trimmed tight to the word are padded, so the decoder sees a start and an end.
LEAD_SILENCE_SECONDS = 0.3
TRAIL_SILENCE_SECONDS = 0.6
# Once the words so far are a whole phrase that nothing can extend ("seven" to the pain
# question), this much silence ends the utterance; otherwise the gate's longer hang-over does.
QUICK_END_SECONDS = 0.15
# A command is said on its own. When the voice went on this much longer than the phrase
# heard in it, the phrase was picked out of other speech (a television, a conversation).
OTHER_SPEECH_SECONDS = 0.8

vosk.SetLogLevel(-1)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heard:
    """One utterance: the words decoded, the intent accepted (or None), and the weakest word's confidence."""

    text: str
    intent: Intent | None
    confidence: float
    # From the start of the first word to the end of the last.
    seconds: float = 0.0


def load_model(model_dir: Path, table: PhraseTable, decoder: Mapping[str, str] | None = None) -> vosk.Model:
    """Load the model and check that it knows every word of the grammar.

    ``decoder`` sets more of the decoder's options (``--beam`` and the like), for benches that try them."""
    require_model(model_dir)
    options = dict(decoder or {})
    if table.lattice_beam is not None:
        options["--lattice-beam"] = f"{table.lattice_beam:g}"
    model = None
    if options:
        # Vosk reads the decoder's options only from the model's folder, and reads all of it while loading:
        # a folder of links with our own options, gone once loaded, leaves the user's model untouched.
        try:
            with tempfile.TemporaryDirectory(prefix="voicerelief-model-") as folder:
                model = vosk.Model(str(_with_decoder_options(model_dir, options, Path(folder))))
        except OSError as error:
            log.warning("Using the speech model's own decoder settings: no temporary folder for ours (%s).", error)
    if model is None:
        model = vosk.Model(str(model_dir))
    unknown = [word for word in table.words() if model.vosk_model_find_word(word) == -1]
    if unknown:
        raise ModelError(
            f"The speech model does not know the word{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(w) for w in unknown)}; change the phrase table to use known words."
        )
    return model


def _with_decoder_options(model_dir: Path, options: dict[str, str], folder: Path) -> Path:
    """A copy of the model in ``folder``, made of links to its files, whose ``conf/model.conf`` has these options."""
    view = folder / model_dir.name
    view.mkdir()
    for part in model_dir.iterdir():
        if part.name != "conf":
            (view / part.name).symlink_to(part.resolve())
    (view / "conf").mkdir()
    conf = model_dir / "conf"
    for part in conf.iterdir() if conf.is_dir() else ():
        if part.name != "model.conf":
            (view / "conf" / part.name).symlink_to(part.resolve())
    own = conf / "model.conf"
    merged = dict(line.split("=", 1) for line in own.read_text().split() if "=" in line) if own.is_file() else {}
    merged.update(options)
    (view / "conf" / "model.conf").write_text("".join(f"{key}={value}\n" for key, value in merged.items()))
    return view


class CommandRecognizer:
    """A grammar-restricted vosk recognizer for one sample rate, optionally behind a voice gate."""

    def __init__(self, model: vosk.Model, table: PhraseTable, rate: int, gate: VoiceGate | None = None,
                 level: LevelSettings | None = LevelSettings()) -> None:
        self.table = table
        self.rate = rate
        self.gate = gate
        self.level = LevelNormalizer(rate, level) if level is not None else None
        self._recognizer = vosk.KaldiRecognizer(model, rate, json.dumps(table.grammar()))
        self._recognizer.SetWords(True)

    def accept(self, pcm: bytes) -> Heard | None:
        """Feed 16-bit mono audio; returns what was heard when an utterance has ended."""
        if self.gate is None:
            return self._decode(pcm)
        passage = self.gate.admit(pcm)
        pausing = self.gate.is_open and self.gate.quiet_seconds >= QUICK_END_SECONDS
        heard = None
        for block in self._front_end(passage.blocks, passage.closed or pausing):
            heard = self._decode(block) or heard
        if passage.closed:
            self._forget_level()
            rest = self.finish()
            if heard is None or not heard.text:
                heard = rest
        elif heard is None and pausing and self.table.is_complete(self._partial()):
            heard = self._on_its_own(self.finish())
            self.gate.clear()
            self._forget_level()
            return heard
        return None if heard is None else self._on_its_own(heard)

    def _front_end(self, blocks: tuple[bytes, ...], ending: bool) -> tuple[bytes, ...] | list[bytes]:
        if self.level is None or self.gate is None:
            return blocks
        return self.level.feed(blocks, self.gate.open_seconds, ending)

    def _forget_level(self) -> None:
        if self.level is not None:
            self.level.end()

    def _on_its_own(self, heard: Heard) -> Heard:
        """The utterance, rejected when the voice went on well beyond the phrase heard in it."""
        assert self.gate is not None
        other_speech = self.gate.open_seconds - self.gate.quiet_seconds - heard.seconds
        if heard.intent is not None and other_speech > OTHER_SPEECH_SECONDS:
            return replace(heard, intent=None)
        return heard

    @property
    def between_utterances(self) -> bool:
        """True when no utterance is under way, so the grammar may be changed."""
        if self.gate is not None:
            return not self.gate.is_open
        return not self._partial()

    def restart(self) -> None:
        """Start the decoder afresh, keeping the gate's pre-roll (a voice may be starting in it)."""
        self._recognizer.Reset()

    def _partial(self) -> str:
        return json.loads(self._recognizer.PartialResult()).get("partial", "")

    def finish(self) -> Heard:
        """End the current utterance and return what was heard in it."""
        return self._interpret(self._recognizer.FinalResult())

    def reset(self) -> None:
        self._recognizer.Reset()
        if self.gate is not None:
            self.gate.clear()
        self._forget_level()

    def recognize(self, speech: Speech) -> Heard:
        """Decode one whole recording as a single command."""
        pad_lead = np.zeros(int(speech.rate * LEAD_SILENCE_SECONDS), np.int16)
        pad_trail = np.zeros(int(speech.rate * TRAIL_SILENCE_SECONDS), np.int16)
        samples = speech.samples
        if self.level is not None and self.gate is None:
            samples = self.level.normalize(samples)
        return self.recognize_stream(np.concatenate([pad_lead, samples, pad_trail]))

    def recognize_stream(self, samples: np.ndarray) -> Heard:
        """Decode samples in microphone-sized blocks, as one command."""
        block = int(self.rate * BLOCK_SECONDS)
        heard: list[Heard] = []
        for start in range(0, len(samples), block):
            ended = self.accept(samples[start:start + block].tobytes())
            if ended is not None and ended.text:
                heard.append(ended)
        final = self.finish()
        if final.text:
            heard.append(final)
        return _single_command(heard)

    def _decode(self, pcm: bytes) -> Heard | None:
        if self._recognizer.AcceptWaveform(pcm):
            return self._interpret(self._recognizer.Result())
        return None

    def _interpret(self, result_json: str) -> Heard:
        words = json.loads(result_json).get("result", [])
        text = " ".join(word["word"] for word in words)
        if not words:
            return Heard("", None, 0.0)
        intent, start = self.table.find(text)
        # An urgent phrase after a lead-in is judged on its own words: "[unk] get help" is still a call for help.
        phrase = words[start:]
        confidence = min(float(word["conf"]) for word in phrase)
        trusted = confidence >= self.table.confidence_floor and UNKNOWN_WORD not in (w["word"] for w in phrase)
        seconds = float(words[-1]["end"]) - float(words[0]["start"])
        return Heard(text, intent if trusted else None, round(confidence, 3), round(seconds, 2))


class FileRecognizer:
    """Recognizes whole recordings at any rate, keeping one recognizer per rate."""

    def __init__(self, model: vosk.Model, table: PhraseTable) -> None:
        self._model = model
        self._table = table
        self._by_rate: dict[int, CommandRecognizer] = {}

    def recognize(self, speech: Speech) -> tuple[Heard, float]:
        """What was heard, and the decode time in milliseconds."""
        recognizer = self._by_rate.get(speech.rate)
        if recognizer is None:
            recognizer = self._by_rate[speech.rate] = CommandRecognizer(self._model, self._table, speech.rate)
        started = time.perf_counter()
        heard = recognizer.recognize(speech)
        return heard, (time.perf_counter() - started) * 1000


def _single_command(utterances: list[Heard]) -> Heard:
    """A recording is one command: several utterances in it are read as one phrase."""
    if not utterances:
        return Heard("", None, 0.0)
    if len(utterances) == 1:
        return utterances[0]
    text = " ".join(u.text for u in utterances)
    return Heard(text, None, min(u.confidence for u in utterances))
