"""Choosing sound devices by name, through PortAudio (sounddevice)."""

from __future__ import annotations

from typing import Literal

from voicerelief.errors import AudioDeviceError

Direction = Literal["input", "output"]
NO_MICROPHONE = (
    "No microphone was found; plug one in (or start the sound server), "
    "or type your answers with `voicerelief run --text`."
)


def portaudio():
    """The sounddevice module, or a clear error when PortAudio itself is missing."""
    try:
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
