"""The settings file: devices, voice, rate, volume, wake phrase, voice gate and numbers to call, set up once.

It lives in the platform's config folder (`config.toml`). A command-line option
wins over the file; the file wins over the built-in default.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import platformdirs

from voicerelief.call_numbers import OTHER, CallNumbers, call_numbers, is_phone_number, load_countries
from voicerelief.errors import ContentError, VoiceReliefError
from voicerelief.prompts import read_toml

CONFIG_NAME = "config.toml"


@dataclass(frozen=True)
class Config:
    input_device: str = ""
    output_device: str = ""
    # "natural" (Piper), "espeak", or an espeak-ng voice such as en-gb; empty, as older versions saved it: natural.
    voice: str = "natural"
    words_per_minute: int = 150
    volume: float = 1.0
    wake_phrase: str = "hey relief"
    voice_gate: bool = True
    # Echo cancellation, so "stop" can be heard over the assistant's own voice.
    echo_cancellation: bool = False
    # Which canceller: IN_THE_APP (WebRTC's AEC3, fed what the speaker plays; any devices) or SOUND_SERVER
    # (PulseAudio's or PipeWire's module, an older WebRTC canceller; used when the app's cannot load).
    echo_canceller: str = "app"
    # Empty: the system's locale decides; the numbers, when set, win over the country's.
    country: str = ""
    emergency_number: str = ""
    urgent_number: str = ""
    # Alerts that say "VoiceRelief needs you" and nothing of symptoms, for a lock screen others may see.
    discreet_alerts: bool = False


IN_THE_APP, SOUND_SERVER = "app", "sound-server"
LIMITS = {"words_per_minute": (90, 240), "volume": (0.2, 1.0)}
SWITCH_WORDS = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}


def numbers_to_call(config: Config) -> CallNumbers:
    return call_numbers(config.country, config.emergency_number, config.urgent_number)


def config_path() -> Path:
    override = os.environ.get("VOICERELIEF_CONFIG")
    return Path(override) if override else Path(platformdirs.user_config_dir("voicerelief")) / CONFIG_NAME


def load_config(path: Path | None = None) -> Config:
    path = path or config_path()
    if not path.exists():
        return Config()
    data = read_toml(path)
    values = {}
    for key, value in data.items():
        values[key] = _checked(key, value, str(path))
    return Config(**values)


def set_value(key: str, text: str, path: Path | None = None) -> Config:
    """Change one setting and save the file; a bad key or value changes nothing."""
    path = path or config_path()
    current = asdict(load_config(path))
    if key not in current:
        raise VoiceReliefError(f"There is no setting {key!r}; the settings are {', '.join(current)}.")
    kind = type(current[key])
    try:
        value = _parsed(kind, text)
    except ValueError:
        raise VoiceReliefError(f"{key} needs {_described(kind)}, not {text!r}.") from None
    current[key] = _checked(key, value, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".toml.new")
    staged.write_text("".join(f"{name} = {json.dumps(v)}\n" for name, v in current.items()), encoding="utf-8")
    staged.replace(path)
    return Config(**current)


def show(config: Config) -> str:
    return "\n".join(f"{name} = {json.dumps(value)}" for name, value in asdict(config).items())


def _parsed(kind: type, text: str) -> object:
    if kind is bool:
        if text.lower() not in SWITCH_WORDS:
            raise ValueError(text)
        return SWITCH_WORDS[text.lower()]
    return kind(text)


def _described(kind: type) -> str:
    return "on or off" if kind is bool else f"a {kind.__name__}"


def _checked(key: str, value: object, file: str) -> object:
    defaults = {f.name: f.default for f in fields(Config)}
    if key not in defaults:
        raise ContentError(file, key, "is not a setting this version knows")
    expected = type(defaults[key])
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
        raise ContentError(file, key, f"must be {_described(expected)}")
    if key in LIMITS and not LIMITS[key][0] <= value <= LIMITS[key][1]:
        raise ContentError(file, key, f"must be from {LIMITS[key][0]} to {LIMITS[key][1]}")
    if key == "country" and value and value != OTHER:
        value = str(value).upper()
        countries = load_countries()
        if value not in countries:
            known = ", ".join(sorted(code for code in countries if code != OTHER))
            raise ContentError(file, key, f"must be one of {known}, or other; for another country set "
                                          "emergency_number and urgent_number instead")
    if key in ("emergency_number", "urgent_number") and value and not is_phone_number(value):
        raise ContentError(file, key, "must be a phone number of digits, such as 999 or 116 117")
    if key == "echo_canceller" and value not in (IN_THE_APP, SOUND_SERVER):
        raise ContentError(file, key, f"must be {IN_THE_APP} or {SOUND_SERVER}")
    if key == "wake_phrase" and (not isinstance(value, str) or len(value.split()) < 2):
        raise ContentError(file, key, "must be at least two words, so that everyday speech does not wake it")
    return value
