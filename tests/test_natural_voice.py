"""The natural voice (Piper): every prompt rendered, the files checked, espeak-ng standing in when it cannot speak."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from audio_rig import AUDIBLE_RMS, CHUNK_SECONDS, RunningApp
from test_audio_loop import check_it_does_not_react_to_its_own_voice
from voicerelief import natural_voice as natural_voice_module
from voicerelief.app import load_content
from voicerelief.natural_voice import NaturalVoiceUnavailable, PiperRenderer, SpeechTally, natural_voice, sentences
from voicerelief.prompts import load_prompts
from voicerelief.speak import NATURAL, PromptRenderer, Voice, read_rendered, speech_cache

LOAD_SECONDS = 120.0  # generous: a loaded 2-core machine


def voiced_level_dbfs(samples: np.ndarray) -> float:
    voiced = samples[np.abs(samples) > 0.02]
    return 20 * np.log10(float(np.sqrt(np.mean(voiced**2))))


def natural(cache: Path, voice: Voice | None = None, folder: Path | None = None) -> PiperRenderer:
    return PiperRenderer(cache, voice or Voice(voice_id=NATURAL), PromptRenderer(cache, Voice()), folder)


def spoken_texts() -> list[str]:
    """Every prompt, its placeholders filled with words of the kind the session puts there."""
    fills = {"score": 7, "what": "numbness between your legs", "emergency": "999", "urgent": "111", "minutes": 12,
             "seconds": 30, "count": 3, "name": "Sam", "time": "14:02"}
    texts = []
    for text in load_prompts().texts.values():
        texts.append(re.sub(r"\{(\w+)\}", lambda match: str(fills.get(match.group(1), "two")), text))
    return texts


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    cache = tmp_path_factory.mktemp("speech")
    espeak = PromptRenderer(cache, Voice())
    piper = natural(cache)
    assert piper.wait_until_loaded(LOAD_SECONDS) is None
    yield espeak, piper
    espeak.close()
    piper.close()


def test_both_voices_render_every_prompt_to_speech_of_a_plausible_length(voices):
    for renderer in voices:
        for text in spoken_texts():
            samples, rate = read_rendered(renderer.render(text), 1.0)
            seconds, words = len(samples) / rate, len(text.split())
            assert words / 6 <= seconds <= words / 1.2 + 1, (type(renderer).__name__, text, seconds)
            assert voiced_level_dbfs(samples) > -30, (type(renderer).__name__, text)


def test_the_two_voices_are_equally_loud(voices):
    espeak, piper = voices
    texts = [text for text in spoken_texts() if len(text.split()) >= 8][:12]
    levels = {name: np.mean([voiced_level_dbfs(read_rendered(renderer.render(text), 1.0)[0]) for text in texts])
              for name, renderer in (("espeak", espeak), ("natural", piper))}
    assert abs(levels["espeak"] - levels["natural"]) <= 1.5, levels


def test_slower_lengthens_the_natural_voice(tmp_path):
    voice = Voice(voice_id=NATURAL)
    renderer = natural(tmp_path, voice)
    try:
        assert renderer.wait_until_loaded(LOAD_SECONDS) is None
        text = "Lie in the position that hurts least, and breathe slowly."
        normal = len(read_rendered(renderer.render(text), 1.0)[0])
        voice.words_per_minute = 110
        slower = len(read_rendered(renderer.render(text), 1.0)[0])
    finally:
        renderer.close()
    assert slower > 1.2 * normal, (normal, slower)


def test_fixed_sentences_are_rendered_ahead_and_a_new_one_is_never_empty(tmp_path):
    renderer = natural(tmp_path)
    try:
        assert renderer.wait_until_loaded(LOAD_SECONDS) is None
        fixed = "Say ready when the pack is in place. Take it off at once if it burns."
        renderer.prepare([fixed, "   "])
        renderer.ahead_done().result(timeout=LOAD_SECONDS)
        assert len(list((tmp_path / "natural").glob("*.wav"))) == len(sentences(fixed)) == 2
        # The prompt itself is then joined from those sentences: one file more, none rendered again.
        samples, rate = read_rendered(renderer.render(fixed), 1.0)
        assert len(samples) / rate > 2
        assert len(list((tmp_path / "natural").glob("*.wav"))) == 3
        silent, rate = read_rendered(renderer.render(""), 1.0)
        assert len(silent) / rate < 0.5
    finally:
        renderer.close()


def test_a_changed_voice_file_is_refused_and_espeak_speaks_instead(tmp_path):
    real = natural_voice()
    changed = tmp_path / "voice"
    changed.mkdir()
    os.symlink(real.model, changed / real.model.name)
    shutil.copy(real.config, changed / real.config.name)
    with (changed / real.config.name).open("a") as config:
        config.write(" ")
    with pytest.raises(NaturalVoiceUnavailable, match="SHA-256"):
        natural_voice(changed)

    renderer = natural(tmp_path / "cache", folder=changed)
    try:
        assert "SHA-256" in renderer.wait_until_loaded(LOAD_SECONDS)
        spoken = renderer.render("Ice or heat? Say ice, or heat.")
    finally:
        renderer.close()
    assert spoken.parent == tmp_path / "cache", "espeak-ng's cache, not the natural voice's"
    assert len(read_rendered(spoken, 1.0)[0]) > 0


def test_a_sentence_rendered_once_is_spoken_from_the_cache_even_before_the_voice_loads(tmp_path):
    text = "Say ready when the pack is in place. Take it off at once if it burns."
    first = natural(tmp_path)
    try:
        assert first.wait_until_loaded(LOAD_SECONDS) is None
        for sentence in first.cache.missing([text]):
            first.render_sentence(sentence)
    finally:
        first.close()

    again = natural(tmp_path)  # as after a restart
    try:
        still_loading = again.wait_until_loaded(0) is not None
        parts = list(again.speech(text))
    finally:
        again.close()
    assert still_loading, "the voice had loaded before it was asked to speak"
    assert [part.parent for part in parts] == [tmp_path / "natural"] * 2, "espeak-ng stood in"
    assert again.tally == SpeechTally(cached=2)


def resident_mb() -> float:
    """This process's resident memory now, from Linux's account of it."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class LogRecords(logging.Handler):
    """The natural voice's log messages, and an event set when one starts with ``awaited``."""

    def __init__(self, awaited: str) -> None:
        super().__init__(logging.DEBUG)
        self.awaited = awaited
        self.messages: list[str] = []
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if record.getMessage().startswith(self.awaited):
            self.seen.set()


def test_an_idle_voice_lets_go_of_its_engine_and_takes_it_up_again_for_a_new_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(natural_voice_module, "RELEASE_WHEN_IDLE_SECONDS", 1.0)
    records = LogRecords("natural voice released")
    logger = logging.getLogger(natural_voice_module.__name__)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(records)
    renderer = natural(tmp_path)
    try:
        assert renderer.wait_until_loaded(LOAD_SECONDS) is None
        loaded = resident_mb()
        assert records.seen.wait(LOAD_SECONDS), "the idle voice kept its engine"
        released = resident_mb()
        parts = list(renderer.speech("A sentence nobody has asked for yet."))
    finally:
        renderer.close()
        logger.removeHandler(records)
        logger.setLevel(level)
    assert loaded - released > 40, f"{loaded:.0f} MB with the engine, {released:.0f} MB after letting go of it"
    after_release = records.messages[records.messages.index("natural voice released"):]
    assert any(message.startswith("natural voice loaded") for message in after_release)
    assert [part.parent for part in parts] == [tmp_path / "natural"], "espeak-ng stood in"
    assert renderer.tally == SpeechTally(live=1)


def test_when_the_engine_cannot_be_taken_up_again_espeak_says_what_follows(tmp_path, monkeypatch):
    monkeypatch.setattr(natural_voice_module, "RELEASE_WHEN_IDLE_SECONDS", 1.0)
    real = natural_voice()
    voice = tmp_path / "voice"
    voice.mkdir()
    for path in (real.model, real.config):
        shutil.copy(path, voice / path.name)
    records = LogRecords("natural voice released")
    logger = logging.getLogger(natural_voice_module.__name__)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(records)
    renderer = natural(tmp_path / "cache", folder=voice)
    try:
        assert renderer.wait_until_loaded(LOAD_SECONDS) is None
        assert records.seen.wait(LOAD_SECONDS), "the idle voice kept its engine"
        (voice / real.model.name).write_bytes(b"not a voice")
        first = list(renderer.speech("A sentence nobody has asked for yet. And another one."))
        then = list(renderer.speech("Ice or heat? Say ice, or heat."))
    finally:
        renderer.close()
        logger.removeHandler(records)
        logger.setLevel(level)
    assert [part.parent for part in first] == [tmp_path / "cache"], "espeak-ng did not say the prompt"
    assert [part.parent for part in then] == [tmp_path / "cache"]
    assert "SHA-256" in renderer.problem
    assert sum("cannot be used" in message for message in records.messages) == 1, "tried again for every prompt"


def test_a_changed_prompt_or_rate_renders_only_what_changed(tmp_path):
    voice = Voice(voice_id=NATURAL)
    renderer = natural(tmp_path, voice)
    before = ["Lie on your back. Bend your knees.", "Say ready when you are."]
    try:
        assert renderer.wait_until_loaded(LOAD_SECONDS) is None
        for sentence in renderer.cache.missing(before):
            renderer.render_sentence(sentence)
        assert renderer.cache.missing(before) == []
        assert renderer.cache.missing(["Lie on your back. Bend both knees.", "Say ready when you are."]) == [
            "Bend both knees."]
        voice.words_per_minute = 120
        assert renderer.cache.missing(before) == ["Lie on your back.", "Bend your knees.", "Say ready when you are."]
    finally:
        renderer.close()


def audible_seconds(samples: np.ndarray, rate: int) -> float:
    """From the first to the last audible 10 ms, as the rig's monitor of the virtual speaker judges them."""
    chunk = int(rate * CHUNK_SECONDS)
    chunks = len(samples) // chunk
    levels = np.sqrt(np.mean(samples[:chunks * chunk].reshape(chunks, chunk) ** 2, axis=1))
    audible = np.flatnonzero(levels > AUDIBLE_RMS)
    return (audible[-1] - audible[0] + 1) * CHUNK_SECONDS


def test_by_default_the_first_words_heard_are_the_natural_voice(rig, tmp_path):
    """A fresh install has rendered its sentences (quickstart runs `voice prepare`); here only the first one is."""
    ready = load_content().prompts.say("devices.ready", wake="hey relief")
    piper, espeak = natural(speech_cache()), PromptRenderer(speech_cache(), Voice())
    try:
        assert piper.wait_until_loaded(LOAD_SECONDS) is None
        for sentence in piper.cache.missing([ready]):
            piper.render_sentence(sentence)
        parts = [read_rendered(part, 1.0) for part in piper.speech(ready)]
        pause = np.zeros(int(parts[0][1] * piper.pause_seconds), np.float32)
        natural_seconds = audible_seconds(np.concatenate([parts[0][0], pause, parts[1][0]]), parts[0][1])
        espeak_seconds = audible_seconds(*read_rendered(espeak.render(ready), 1.0))
    finally:
        piper.close()
        espeak.close()
    assert len(parts) == 2 and abs(natural_seconds - espeak_seconds) > 0.4, "the check could not tell them apart"

    app = RunningApp(rig, tmp_path / "data", settings=tmp_path / "no-settings-file.toml")
    try:
        printed = app.wait_for("Relief assistant ready")
        first, last = rig.sound_span_after(printed - 0.5, quiet_for=1.0)
    finally:
        app.stop()
    heard = last - first + CHUNK_SECONDS
    assert abs(heard - natural_seconds) < abs(heard - espeak_seconds), (heard, natural_seconds, espeak_seconds)


BLOCK_PIPER = "import sys; sys.modules['piper'] = None; from voicerelief.cli import main; sys.argv[0] = 'voicerelief'; main()"


def test_without_the_extra_doctor_says_why_and_espeak_speaks(tmp_path):
    settings = tmp_path / "config.toml"
    settings.write_text('voice = "natural"\n')
    env = {**os.environ, "VOICERELIEF_CONFIG": str(settings), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    doctor = subprocess.run([sys.executable, "-c", BLOCK_PIPER, "doctor", "--data-dir", str(tmp_path / "d")],
                            env=env, capture_output=True, text=True, timeout=300)
    [line] = [line for line in doctor.stdout.splitlines() if "text-to-speech" in line]
    assert line.startswith("FIX") and "not installed" in line and "espeak-ng speaks instead" in line, line

    spoken = subprocess.run([sys.executable, "-c", BLOCK_PIPER, "run", "--text", "--data-dir", str(tmp_path / "d")],
                            input="help\n", env=env, capture_output=True, text=True, timeout=300)
    assert spoken.returncode == 0, spoken.stderr
    assert "You can say start" in spoken.stdout
    assert list((tmp_path / "cache" / "voicerelief" / "speech").glob("*.wav")), "nothing was rendered by espeak-ng"


def test_spoken_flow_with_the_natural_voice_not_heard_as_commands(rig, tmp_path):
    settings = tmp_path / "config.toml"
    settings.write_text('voice = "natural"\n')
    app = RunningApp(rig, tmp_path / "data", settings=settings)
    try:
        app.wait_for("Say hey relief to begin")
        app.wait_for_log("natural voice loaded")
        check_it_does_not_react_to_its_own_voice(rig, app)
        assert not any("espeak-ng speaks" in line for line in app.errors), app.errors[-8:]
    finally:
        app.stop()


def test_a_whole_demo_is_spoken_in_the_natural_voice(tmp_path):
    import json

    import soundfile
    import vosk

    from voicerelief.models import find_model

    recording = tmp_path / "demo.wav"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    demo = subprocess.run([sys.executable, "-m", "voicerelief", "demo", "--speed", "1000", "--voice", "natural",
                           "--speak-to", str(recording), "--data-dir", str(tmp_path / "d")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stderr
    said = [line.split("Relief: ", 1)[1] for line in demo.stdout.splitlines() if "Relief: " in line]
    assert said[-1] == "Goodbye. Rest well.", "the demo did not reach its end"
    assert not list((tmp_path / "cache" / "voicerelief" / "speech").glob("*.wav")), "espeak-ng spoke some lines"

    samples, rate = soundfile.read(str(recording), dtype="int16")
    words = sum(len(line.split()) for line in said)
    # Every line is in it: between 80 and 250 words a minute, with the pauses between lines.
    assert words * 60 / 250 <= len(samples) / rate <= words * 60 / 80 + len(said) * 1.0, (words, len(samples) / rate)
    opening = vosk.KaldiRecognizer(vosk.Model(str(find_model())), rate)
    opening.AcceptWaveform(samples[:rate * 4].tobytes())
    # Piper samples its speech afresh at each render: the short "Hello." is at times heard as "well".
    opening_words = json.loads(opening.FinalResult())["text"]
    assert "relief assistant" in opening_words, "the recording does not begin with the greeting"
