"""Microphone capture: a PortAudio input stream whose callback only queues blocks."""

from __future__ import annotations

import queue
import time
from typing import Iterator

from voicerelief.devices import default_rate, find_device, portaudio
from voicerelief.errors import AudioDeviceError

BLOCK_SECONDS = 0.1


class Microphone:
    """Mono 16-bit blocks of ``BLOCK_SECONDS`` from the chosen input device."""

    def __init__(self, device_name: str | None = None, rate: int | None = None) -> None:
        self.device = find_device(device_name, "input")
        self.rate = rate or default_rate(self.device)
        self.overflows = 0
        self._blocks: queue.Queue[tuple[float, bytes]] = queue.Queue()
        sounddevice = portaudio()
        try:
            sounddevice.check_input_settings(device=self.device, channels=1, dtype="int16", samplerate=self.rate)
            self._stream = sounddevice.RawInputStream(
                device=self.device, channels=1, dtype="int16", samplerate=self.rate,
                blocksize=int(self.rate * BLOCK_SECONDS), callback=self._on_block,
            )
            self._stream.start()
        except sounddevice.PortAudioError as error:
            raise AudioDeviceError(
                f"The microphone could not be opened ({error}); check `voicerelief devices`.") from None

    def _on_block(self, data, frames, time_info, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        # PortAudio says how long ago the block's first sample was captured; some hosts leave it at zero.
        age = time_info.currentTime - time_info.inputBufferAdcTime
        self._blocks.put((time.monotonic() - max(age, frames / self.rate), bytes(data)))

    def blocks(self, timeout: float = 2.0) -> Iterator[bytes]:
        """Blocks as they arrive; an AudioDeviceError when none came for ``timeout`` seconds."""
        for _, block in self.timed_blocks(timeout):
            yield block

    def timed_blocks(self, timeout: float = 2.0) -> Iterator[tuple[float, bytes]]:
        """Blocks with the monotonic time their first sample was captured, which may be well before they
        are read: a listener busy for a moment falls behind the microphone."""
        while True:
            try:
                yield self._blocks.get(timeout=timeout)
            except queue.Empty:
                raise AudioDeviceError("The microphone stopped sending sound; check that it is plugged in.") from None

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
