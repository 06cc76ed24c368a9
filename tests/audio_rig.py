"""A real PulseAudio server with a virtual microphone and a virtual speaker, for tests and benchmarks.

The person's lines are spoken by espeak-ng and played into the microphone's sink
with paplay; everything the app plays on the speaker is read back from the
speaker's monitor, block by block, with the time it arrived.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import soundfile

from voicerelief.audio_file import to_int16
from voicerelief.synthesize import noise_at_level

CONFIG = """
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=mic_feed sink_properties=device.description=mic_feed rate=16000 channels=1
load-module module-null-sink sink_name=speaker sink_properties=device.description=speaker rate=22050 channels=1
load-module module-remap-source source_name=virtual_mic master=mic_feed.monitor source_properties=device.description=virtual_mic
set-default-source virtual_mic
set-default-sink speaker
"""
MONITOR_RATE = 16000
# Levels are read in 10 ms chunks: acoustic events (the last sound of the person's words, the first
# of the answer) are timed to 10 ms on both virtual devices, each through the same kind of monitor.
CHUNK_SECONDS = 0.01
AUDIBLE_RMS = 0.01
# The virtual microphone is digitally silent between lines: -50 dBFS is well above its floor.
MICROPHONE_AUDIBLE_RMS = 0.003


def chunk_levels(samples: np.ndarray, rate: int) -> np.ndarray:
    """The RMS of each 10 ms of a recording."""
    chunk = rate // 100
    return np.sqrt(np.mean(samples[:len(samples) // chunk * chunk].reshape(-1, chunk) ** 2, axis=1))


def speech_chunks(levels: np.ndarray) -> np.ndarray:
    """Which chunks, by their levels, are within 30 dB of the loudest: the speech, not its pauses."""
    return levels > levels.max() * 10 ** (-30 / 20)


def speech_level(samples: np.ndarray, rate: int) -> float:
    """The RMS of a recording over its speech chunks."""
    levels = chunk_levels(samples, rate)
    return float(np.sqrt(np.mean(levels[speech_chunks(levels)] ** 2)))


def scaled_to(samples: np.ndarray, rate: int, level: float) -> np.ndarray:
    """A recording scaled so its speech has the RMS ``level``."""
    return np.clip(samples * level / speech_level(samples, rate), -1, 1)


class AudioRig:
    def __init__(self, folder: Path, without_modules: tuple[str, ...] = ()) -> None:
        """``without_modules``: sound server modules this server lacks, as a system without them would."""
        self.folder = folder
        self.without_modules = without_modules
        folder.mkdir(parents=True, exist_ok=True)
        self.socket = folder / "native"
        (folder / "default.pa").write_text(CONFIG.format(socket=self.socket))
        (folder / "runtime").mkdir(exist_ok=True)
        self.env = {**os.environ, "PULSE_SERVER": f"unix:{self.socket}", "PULSE_RUNTIME_PATH": str(folder / "runtime")}
        self.server: subprocess.Popen | None = None
        self.levels: list[tuple[float, float]] = []
        self.microphone_levels: list[tuple[float, float]] = []
        self._monitors: list[subprocess.Popen] = []
        self._loopback_module = ""

    def start(self) -> None:
        if shutil.which("pulseaudio") is None:
            raise RuntimeError("pulseaudio is not installed; `./quickstart test` installs it")
        self.server = subprocess.Popen(
            ["pulseaudio", "-n", "-F", str(self.folder / "default.pa"), "--daemonize=no", "--exit-idle-time=-1",
             "--log-target=file:" + str(self.folder / "pulse.log"), *self._module_search_path()], env=self.env)
        deadline = time.monotonic() + 15
        while subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the PulseAudio test server did not start; see " + str(self.folder / "pulse.log"))
            time.sleep(0.1)
        self._start_monitor()

    def _module_search_path(self) -> list[str]:
        if not self.without_modules:
            return []
        dumped = subprocess.run(["pulseaudio", "--dump-conf"], capture_output=True, text=True, check=True).stdout
        [installed] = [line.split("=", 1)[1].strip() for line in dumped.splitlines() if line.startswith("dl-search-path")]
        kept = self.folder / "modules"
        kept.mkdir(exist_ok=True)
        for module in Path(installed).iterdir():
            if module.name.removesuffix(".so") not in self.without_modules and not (kept / module.name).exists():
                (kept / module.name).symlink_to(module)
        return [f"--dl-search-path={kept}"]

    def stop(self) -> None:
        for monitor in self._monitors:
            monitor.kill()
            monitor.wait()
        self._monitors = []
        if self.server is not None:
            self.server.kill()
            self.server.wait()
            self.server = None

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def speak(self, text: str, voice: str = "en-us", words_per_minute: int = 150) -> tuple[float, float]:
        """Say ``text`` into the microphone; returns the monotonic times when paplay began and returned.

        paplay returns after espeak-ng's trailing silence: time answers from ``last_sound_of``.
        """
        wav = self.render(text, voice, words_per_minute)
        began = time.monotonic()
        subprocess.run(["paplay", "--device=mic_feed", str(wav)], env=self.env, check=True)
        return began, time.monotonic()

    def render(self, text: str, voice: str = "en-us", words_per_minute: int = 150) -> Path:
        wav = self.folder / f"line-{abs(hash((text, voice, words_per_minute)))}.wav"
        if not wav.is_file():
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text], check=True)
        return wav

    def last_sound_of(self, began: float, ended: float) -> float:
        """The acoustic end of what was said into the microphone: its last audible 10 ms."""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            loud = [at for at, rms in list(self.microphone_levels)
                    if began <= at <= ended + 0.3 and rms > MICROPHONE_AUDIBLE_RMS]
            if loud and (self.microphone_levels[-1][0] > ended + 0.3):
                return loud[-1]
            time.sleep(0.02)
        raise TimeoutError("nothing audible was heard on the microphone")

    def sound_span_after(self, start: float, quiet_for: float = 1.0) -> tuple[float, float]:
        """The first and last audible moments on the speaker after ``start``, once it has gone quiet."""
        self.wait_quiet(since=start, quiet_for=quiet_for)
        loud = [at for at, rms in list(self.levels) if at >= start and rms > AUDIBLE_RMS]
        return loud[0], loud[-1]

    def reply_after(self, prompt_first: float, prompt_seconds: float, gap: float, onset_delay: float,
                    line: str) -> tuple[float, float]:
        """Say ``line`` so that it starts ``gap`` s after the prompt's last sound (before it, when negative).

        ``prompt_seconds`` is the prompt's length and ``onset_delay`` paplay's delay to its
        first sound, both measured before. Returns when paplay was started and the gap as
        measured: from the prompt's last sound on the speaker to the line's first on the microphone.
        """
        wav = self.render(line)
        time.sleep(max(0.0, prompt_first + prompt_seconds + gap - onset_delay - time.monotonic()))
        sent = time.monotonic()
        subprocess.run(["paplay", "--device=mic_feed", str(wav)], env=self.env, check=True)
        reply_began = self.first_sound_on_microphone_after(sent)
        # The prompt's end, not the answer's: its sound within its known length (and a little jitter) of its start.
        prompt_ended = max(at for at, rms in list(self.levels)
                           if prompt_first <= at <= prompt_first + prompt_seconds + 0.2 and rms > AUDIBLE_RMS)
        return sent, reply_began - prompt_ended

    def speak_timed(self, line: str) -> tuple[float, float, float]:
        """Say ``line``; returns when paplay started, its delay to the first sound, and the words' last sound."""
        began, ended = self.speak(line)
        first = self.first_sound_on_microphone_after(began)
        return began, first - began, self.last_sound_of(began, ended)

    def first_sound_on_microphone_after(self, start: float, timeout: float = 2.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, rms in list(self.microphone_levels):
                if at >= start and rms > MICROPHONE_AUDIBLE_RMS:
                    return at
            time.sleep(0.01)
        raise TimeoutError("nothing was heard on the microphone")

    def play_room_noise(self, seconds: float, dbfs: float = -50.0) -> subprocess.Popen:
        """Steady pink noise into the microphone, as a quiet room with a fan sounds; returns the player."""
        wav = self.folder / "room.wav"
        soundfile.write(wav, to_int16(noise_at_level(16000 * int(seconds), dbfs, seed=7) / 32768), 16000, subtype="PCM_16")
        return subprocess.Popen(["paplay", "--device=mic_feed", str(wav)], env=self.env)

    def loop_speaker_into_microphone(self, enabled: bool, leak_db: float = 0.0) -> None:
        """Feed the speaker back into the microphone ``leak_db`` below its level, as a laptop's casing does."""
        if enabled:
            result = subprocess.run(["pactl", "load-module", "module-loopback", "source=speaker.monitor",
                                     "sink=mic_feed", "latency_msec=60"], env=self.env, capture_output=True,
                                    text=True, check=True)
            self._loopback_module = result.stdout.strip()
            listing = subprocess.run(["pactl", "list", "sink-inputs"], env=self.env, capture_output=True, text=True,
                                     check=True).stdout
            [stream] = [block.split("#", 1)[1].split()[0] for block in listing.split("\n\n")
                        if f"Owner Module: {self._loopback_module}\n" in block + "\n"]
            subprocess.run(["pactl", "set-sink-input-volume", stream, f"{leak_db:g}dB"], env=self.env, check=True)
        elif self._loopback_module:
            subprocess.run(["pactl", "unload-module", self._loopback_module], env=self.env, check=True)
            self._loopback_module = ""

    def loud_between(self, start: float, end: float, threshold: float = AUDIBLE_RMS) -> float:
        """The share of 20 ms chunks between two times in which the speaker was playing."""
        chunks = [rms for at, rms in list(self.levels) if start <= at < end]
        # An empty window would make "quiet" true of nothing at all.
        assert chunks, f"no speaker levels were read between {start:.2f} and {end:.2f}"
        return sum(rms > threshold for rms in chunks) / len(chunks)

    def speech_level_since(self, start: float) -> float:
        """The RMS of the speaker's sound since ``start``, over its audible chunks: how loud the assistant speaks."""
        playing = np.array([rms for at, rms in list(self.levels) if at >= start and rms > AUDIBLE_RMS])
        return float(np.sqrt(np.mean(playing ** 2)))

    def first_sound_after(self, start: float, threshold: float = AUDIBLE_RMS) -> float | None:
        for at, rms in list(self.levels):
            if at >= start and rms > threshold:
                return at
        return None

    def wait_quiet(self, since: float, quiet_for: float = 0.8, timeout: float = 60.0,
                   threshold: float = AUDIBLE_RMS) -> float:
        """Wait until the speaker has been silent for ``quiet_for`` seconds after ``since``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = time.monotonic()
            recent = [rms for at, rms in list(self.levels) if max(since, now - quiet_for) <= at]
            if now - since >= quiet_for and recent and max(recent) <= threshold:
                return now
            time.sleep(0.05)
        raise TimeoutError("the speaker never went quiet")

    def _start_monitor(self) -> None:
        for device, levels in (("speaker.monitor", self.levels), ("mic_feed.monitor", self.microphone_levels)):
            monitor = subprocess.Popen(
                ["parec", f"--device={device}", "--format=s16le", f"--rate={MONITOR_RATE}", "--channels=1",
                 "--latency-msec=10"], env=self.env, stdout=subprocess.PIPE)
            self._monitors.append(monitor)
            threading.Thread(target=self._read_monitor, args=(monitor, levels), daemon=True).start()

    @staticmethod
    def _read_monitor(process: subprocess.Popen, levels: list[tuple[float, float]]) -> None:
        size = int(MONITOR_RATE * CHUNK_SECONDS) * 2
        while True:
            data = process.stdout.read(size)
            if not data:
                return
            samples = np.frombuffer(data, np.int16).astype(np.float32) / 32768
            levels.append((time.monotonic(), float(np.sqrt(np.mean(samples ** 2)))))


class RunningApp:
    """`voicerelief run` on the rig's devices; its printed lines are collected with their arrival times."""

    def __init__(self, rig: AudioRig, data_dir: Path, *extra: str, settings: Path | None = None,
                 source: Path | None = None) -> None:
        """``source``: the ``src`` folder of another checkout to run instead (a benchmark's baseline)."""
        self.lines: list[tuple[float, str]] = []
        # Versions before 2026-11-27 (a benchmark's baseline) do not log "said" at the end of each line.
        self.logs_each_line_said = source is None
        env = rig.env if settings is None else {**rig.env, "VOICERELIEF_CONFIG": str(settings)}
        if source is not None:
            env = {**env, "PYTHONPATH": str(source)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voicerelief", "--verbose", "run", "--input-device", "pulse", "--output-device", "pulse",
             "--data-dir", str(data_dir), *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.errors: list[str] = []
        # When each log line arrived, beside ``errors``.
        self.logged_at: list[float] = []
        threading.Thread(target=self._read, args=(self.process.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read_errors, daemon=True).start()

    @staticmethod
    def _read(stream, into: list) -> None:
        for line in stream:
            into.append((time.monotonic(), line.rstrip("\n")))

    def _read_errors(self) -> None:
        for line in self.process.stderr:
            arrived = time.monotonic()
            self.errors.append(line.rstrip("\n"))
            self.logged_at.append(arrived)

    def wait_until_done_talking(self, rig: AudioRig, quiet_for: float = 1.0, timeout: float = 60.0) -> None:
        """Wait until every line begun has been said (the app logs each end, --verbose) and the speaker stayed quiet.

        A line is printed before it is rendered and played: quiet right after a print is not the end.
        """
        if not self.logs_each_line_said:
            self._wait_quiet_after_last_line(rig, quiet_for)
            return
        deadline = time.monotonic() + timeout
        while True:
            while self._logged(": saying ") > self._logged(": said "):
                assert time.monotonic() < deadline and self.process.poll() is None, self.errors[-5:]
                time.sleep(0.02)
            begun = self._logged(": saying ")
            rig.wait_quiet(since=time.monotonic(), quiet_for=quiet_for)
            if self._logged(": saying ") == begun:
                return

    def _wait_quiet_after_last_line(self, rig: AudioRig, quiet_for: float) -> None:
        """For a baseline version that does not log the end of each line: quiet after the last print."""
        while True:
            last = self.lines[-1][0] if self.lines else 0.0
            rig.wait_quiet(since=last, quiet_for=quiet_for)
            if (self.lines[-1][0] if self.lines else 0.0) == last:
                return

    def wait_for_log(self, fragment: str, timeout: float = 60.0) -> None:
        """Until the app's log (it runs with --verbose) has a line containing ``fragment``."""
        deadline = time.monotonic() + timeout
        while not self._logged(fragment):
            assert time.monotonic() < deadline and self.process.poll() is None, self.errors[-5:]
            time.sleep(0.05)

    def wait_for_log_after(self, index: int, fragment: str, timeout: float = 60.0) -> float:
        """When the first log line from ``index`` on containing ``fragment`` arrived."""
        deadline = time.monotonic() + timeout
        while True:
            for position in range(index, len(self.logged_at)):
                if fragment in self.errors[position]:
                    return self.logged_at[position]
            assert time.monotonic() < deadline and self.process.poll() is None, self.errors[-5:]
            time.sleep(0.02)

    def _logged(self, fragment: str) -> int:
        return sum(fragment in line for line in list(self.errors))

    def said(self) -> list[str]:
        return [line.split("Relief: ", 1)[1] for _, line in list(self.lines) if "Relief: " in line]

    def wait_for(self, fragment: str, timeout: float = 60.0, after: float = 0.0) -> float:
        """The time the first line containing ``fragment`` (printed after ``after``) appeared."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if at >= after and fragment in line:
                    return at
            if self.process.poll() is not None:
                raise AssertionError(f"the app exited ({self.process.returncode}): {self.errors[-5:]}")
            time.sleep(0.05)
        raise AssertionError(f"{fragment!r} was not said within {timeout} s; said: {self.said()[-5:]}; "
                             f"errors: {self.errors[-5:]}")

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
