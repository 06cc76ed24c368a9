"""Choosing sound devices by name, through PortAudio (sounddevice)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from voicerelief.errors import AudioDeviceError

Direction = Literal["input", "output"]
# Re-initializing PortAudio (to find a device that came back) must not happen during playback.
PORTAUDIO_LOCK = threading.RLock()
NO_MICROPHONE = (
    "No microphone was found; plug one in (or start the sound server), "
    "or type your answers with `voicerelief run --text`."
)


@contextmanager
def _log_lines_held() -> Iterator[None]:
    """sounddevice points the process's stderr at /dev/null while PortAudio starts; a line another thread
    logs meanwhile (the natural voice loading, an alert failing) waits for the handler instead of being lost."""
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.acquire()
    try:
        yield
    finally:
        for handler in reversed(handlers):
            handler.release()


def portaudio():
    """The sounddevice module, or a clear error when PortAudio itself is missing."""
    try:
        with _log_lines_held():
            import sounddevice
    except OSError:
        raise AudioDeviceError(
            "The PortAudio library is missing; install it with `sudo apt-get install libportaudio2`."
        ) from None
    return sounddevice


def find_device(name: str | None, direction: Direction) -> int:
    """The index of the first device whose name contains ``name``, or the default device."""
    sounddevice = portaudio()
    channels_key = f"max_{direction}_channels"
    devices = [(index, info) for index, info in enumerate(sounddevice.query_devices()) if info[channels_key] > 0]
    if not devices:
        raise AudioDeviceError(NO_MICROPHONE if direction == "input" else "No speaker was found; plug one in.")
    if name:
        for index, info in devices:
            if name.lower() in info["name"].lower():
                return index
        names = ", ".join(repr(info["name"]) for _, info in devices)
        raise AudioDeviceError(f"No {direction} device has {name!r} in its name; the devices are {names}.")
    default = sounddevice.default.device[0 if direction == "input" else 1]
    if isinstance(default, int) and default >= 0 and any(index == default for index, _ in devices):
        return default
    return devices[0][0]


def default_rate(device: int) -> int:
    return int(portaudio().query_devices(device)["default_samplerate"])


def rescan() -> None:
    """Make PortAudio list devices afresh, as after a microphone was unplugged or the sound server restarted."""
    sounddevice = portaudio()
    with PORTAUDIO_LOCK, _log_lines_held():
        sounddevice._terminate()
        sounddevice._initialize()


def describe_devices(input_name: str | None, output_name: str | None) -> list[str]:
    """One line per device: its name, channels and default rate, with the chosen ones marked."""
    sounddevice = portaudio()
    chosen = {}
    for name, direction in ((input_name, "input"), (output_name, "output")):
        try:
            chosen[direction] = find_device(name, direction)
        except AudioDeviceError:
            chosen[direction] = None
    lines = []
    for index, info in enumerate(sounddevice.query_devices()):
        roles = [d for d in ("input", "output") if info[f"max_{d}_channels"] > 0]
        marks = [f"chosen {d}" for d in roles if chosen.get(d) == index]
        lines.append(f"{'*' if marks else ' '} {info['name']}: {', '.join(roles)}, "
                     f"{info['default_samplerate']:.0f} Hz{' (' + ', '.join(marks) + ')' if marks else ''}")
    return lines
