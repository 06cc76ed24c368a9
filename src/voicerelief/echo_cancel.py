"""Echo cancellation from the sound server, so the person can be heard over the assistant's own voice.

PulseAudio's `module-echo-cancel` (and PipeWire's, loaded through its PulseAudio interface) runs WebRTC's
canceller between a microphone and a speaker: what the speaker plays is taken out of what the microphone
hears. `voicerelief run` loads one with names of its own, sends only its own streams through it, and
unloads it on exit; the user's default devices and other applications' streams are left as they were.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from voicerelief.errors import VoiceReliefError

log = logging.getLogger(__name__)

SOURCE_NAME = "voicerelief_cancelled_microphone"
SINK_NAME = "voicerelief_cancelled_speaker"
# The server's gain control and noise suppression would change the sound our voice gate and recognizer
# were measured on (issue 15: suppressing noise did not help recognition).
CANCELLER_SETTINGS = "analog_gain_control=0 digital_gain_control=0 noise_suppression=0"
# Only a device that is the sound server itself can be routed through the canceller.
SERVER_DEVICE_NAMES = ("", "pulse", "default", "pipewire")
PACTL_TIMEOUT_SECONDS = 10.0


class EchoCancellationUnavailable(VoiceReliefError):
    """Echo cancellation cannot be set up; the message says why."""


@dataclass(frozen=True)
class EchoCancellation:
    """A cancelled microphone and speaker pair loaded for our streams, and the server providing it."""

    server: str
    module: str
    source: str
    sink: str


def start_echo_cancellation(input_device: str | None, output_device: str | None) -> EchoCancellation:
    """Load the sound server's echo canceller between the default microphone and speaker, under our names.

    Raises ``EchoCancellationUnavailable`` when there is no such server, it lacks the module, or the
    chosen devices do not go through it.
    """
    for kind, device in (("microphone", input_device), ("speaker", output_device)):
        if (device or "").lower() not in SERVER_DEVICE_NAMES:
            raise EchoCancellationUnavailable(
                f"the chosen {kind} {device!r} does not go through the sound server")
    if shutil.which("pactl") is None:
        raise EchoCancellationUnavailable("`pactl` is missing; install it with `sudo apt-get install pulseaudio-utils`")
    info = _server_info()
    server = info.get("Server Name", "an unknown sound server")
    _unload_left_over()
    loaded = _pactl("load-module", "module-echo-cancel", f"source_name={SOURCE_NAME}", f"sink_name={SINK_NAME}",
                    f"source_master={info.get('Default Source', '@DEFAULT_SOURCE@')}",
                    f"sink_master={info.get('Default Sink', '@DEFAULT_SINK@')}",
                    "aec_method=webrtc", "use_master_format=1", f'aec_args="{CANCELLER_SETTINGS}"')
    if loaded.returncode != 0:
        reason = loaded.stderr.strip().rstrip(".") or "it refused to load"
        raise EchoCancellationUnavailable(f"{server} has no echo canceller to load ({reason})")
    return EchoCancellation(server, loaded.stdout.strip(), SOURCE_NAME, SINK_NAME)


def route_own_streams(cancellation: EchoCancellation) -> None:
    """Make the streams this process opens on the sound server use the cancelled pair.

    The server's client library reads these when a stream names no device of its own.
    """
    os.environ["PULSE_SOURCE"] = cancellation.source
    os.environ["PULSE_SINK"] = cancellation.sink


def _route_plain_streams() -> None:
    os.environ.pop("PULSE_SOURCE", None)
    os.environ.pop("PULSE_SINK", None)


def stop_echo_cancellation(cancellation: EchoCancellation) -> None:
    result = _pactl("unload-module", cancellation.module)
    if result.returncode != 0:
        log.warning("The echo canceller could not be unloaded: %s", result.stderr.strip())


class EchoCancellationKeeper:
    """Our canceller for the length of a run: loaded again after the sound server restarts, and given up
    (streams back on the plain devices, said once) when that fails."""

    def __init__(self, input_device: str | None, output_device: str | None) -> None:
        self.input_device = input_device
        self.output_device = output_device
        self.current: EchoCancellation | None = None

    def start(self) -> EchoCancellation | None:
        try:
            self.current = start_echo_cancellation(self.input_device, self.output_device)
        except EchoCancellationUnavailable as error:
            log.warning("No echo cancellation (%s): \"stop\" is heard over my voice only with the microphone "
                        "away from the speaker.", error)
            _route_plain_streams()
            self.current = None
            return None
        route_own_streams(self.current)
        log.info("echo cancellation is on, from %s", self.current.server)
        return self.current

    def restore(self) -> EchoCancellation | None:
        """After the sound server came back: load the canceller again if it went with it."""
        if self.current is not None and not _loaded_modules():
            return self.start()
        return self.current

    def stop(self) -> None:
        if self.current is not None:
            stop_echo_cancellation(self.current)
            self.current = None


def describe_echo_cancellation(input_device: str | None, output_device: str | None) -> str:
    """Whether our canceller is active now (a run is going) or could be loaded, and from which server.

    Raises ``EchoCancellationUnavailable`` saying why not.
    """
    if shutil.which("pactl") is None:
        raise EchoCancellationUnavailable("`pactl` is missing; install it with `sudo apt-get install pulseaudio-utils`")
    if _loaded_modules():
        return f"active, from {_server_info().get('Server Name', 'the sound server')} (a run has it loaded)"
    probe = start_echo_cancellation(input_device, output_device)
    stop_echo_cancellation(probe)
    return f"available from {probe.server}; `voicerelief run` loads it while it runs"


def _server_info() -> dict[str, str]:
    result = _pactl("info")
    if result.returncode != 0:
        raise EchoCancellationUnavailable("no sound server answers (PulseAudio or PipeWire)")
    return dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)


def _unload_left_over() -> None:
    """A run that was killed leaves its canceller loaded."""
    for index in _loaded_modules():
        _pactl("unload-module", index)


def _loaded_modules() -> list[str]:
    """The indexes of the echo cancellers we loaded, known by the names we give them."""
    found = []
    for line in _pactl("list", "short", "modules").stdout.splitlines():
        index, name, *arguments = line.split("\t")
        if name == "module-echo-cancel" and re.search(rf"\bsource_name={SOURCE_NAME}\b", " ".join(arguments)):
            found.append(index)
    return found


def _pactl(*arguments: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["pactl", *arguments], capture_output=True, text=True, timeout=PACTL_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise EchoCancellationUnavailable("the sound server did not answer within "
                                          f"{PACTL_TIMEOUT_SECONDS:g} s") from None
