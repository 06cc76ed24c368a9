"""Shared fixtures: the real vosk model, the phrase table, and the development recordings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from audio_rig import AudioRig
from voicerelief.commands import PhraseTable, load_phrase_table
from voicerelief.evaluation import shared_data_dir
from voicerelief.models import find_model
from voicerelief.recognizer import FileRecognizer, load_model


@pytest.fixture(scope="session")
def table() -> PhraseTable:
    return load_phrase_table()


@pytest.fixture(scope="session")
def model_dir() -> Path:
    # The quick-start command installs the model before the tests run; a missing model fails here.
    return find_model()


@pytest.fixture(scope="session")
def vosk_model(model_dir: Path, table: PhraseTable):
    return load_model(model_dir, table)


@pytest.fixture(scope="session")
def file_recognizer(vosk_model, table: PhraseTable) -> FileRecognizer:
    return FileRecognizer(vosk_model, table)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "speech-commands-dev").is_dir():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the development recordings are missing ({path}); CI must have them")
        pytest.skip(f"the development recordings are not here ({path}); they exist in CI and on our machines")
    return path


@pytest.fixture(scope="session", autouse=True)
def no_user_settings(tmp_path_factory):
    """The tests, and every process they start, see no settings file or cache but their own.

    Their settings choose espeak-ng: each app a test starts would otherwise load the natural voice (a few seconds of
    a core and 300 MB); the natural voice's own tests, the default's among them, choose it themselves."""
    settings = tmp_path_factory.mktemp("settings") / "config.toml"
    settings.write_text('voice = "espeak"\n')
    os.environ["VOICERELIEF_CONFIG"] = str(settings)
    # Rendered speech too is kept apart from the user's, and so is the data of a command run without --data-dir.
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("data-home"))


@pytest.fixture(scope="module")
def rig(tmp_path_factory) -> Iterator[AudioRig]:
    """The PulseAudio test server with its virtual microphone and speaker, one per test module."""
    audio = AudioRig(tmp_path_factory.mktemp("pulse"))
    audio.start()
    yield audio
    audio.stop()
