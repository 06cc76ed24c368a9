"""Errors a user can act on. Each message is one sentence: what is wrong and how to fix it."""

from __future__ import annotations


class VoiceReliefError(Exception):
    """Base class: the message is shown to the user as it is."""


class ContentError(VoiceReliefError):
    """A content file (phrases, prompts, routine) is missing, malformed or unsafe."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        where = f"{file}, key '{key}'" if key else file
        super().__init__(f"{where}: {problem}.")


class ModelError(VoiceReliefError):
    """The speech model is missing, incomplete or unusable."""


class AudioFileError(VoiceReliefError):
    """A sound file cannot be read as speech."""


class AudioDeviceError(VoiceReliefError):
    """A microphone or speaker is missing or failed."""
