"""Long runs: the 72-hour protocol at 1000 times speed, and two hours of audio through the recognizer.

1. The real session, runner and SQLite store run the first three days and a heat
   session on day 4 under a clock 1000 times faster than real time. The person's
   answers are synthesized, recognized by the real model and posted as events,
   while a second recognizer decodes real room noise without pause. Everything runs in the
   real event loop (`Runner.serve`); every timer's lateness is recorded (in protocol time, and in real
   time, which is what the same scheduling delay would be at real speed), and RSS and open file descriptors are sampled.
2. Two hours of audio go through the voice gate and one recognizer, listening as the app does while the ice is on, as fast
   as it can decode, RSS sampled: other people's speech (every clip of ../shared/data/background-dev, in
   order, its speech 12 dB under the command, 1-3 s apart), over real room noise (the background-noise
   recordings of ../shared/data/speech-commands-dev/_silence_, 20 s, looped), with a spoken command every
   61 seconds: espeak-ng's 22.05 kHz speech resampled to the recognizer's 16 kHz and set to -20 dBFS. How
   much of the audio was distinct (not yet heard in the run) is printed.

Each figure is printed beside its value after warm-up (the baseline of the same run); what a
figure must stay within is a column of its own.
Run: .venv/bin/python bench/soak.py [--hours 78] [--speed 1000] [--audio-hours 2]
With the defaults it writes bench/results/soak.json; the last line printed is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np
import psutil
import soundfile
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stamp import result_stamp  # noqa: E402

from voicerelief.app import heard_event, load_content, open_runner  # noqa: E402
from voicerelief.audio_file import read_speech, to_int16  # noqa: E402
from voicerelief.evaluation import shared_data_dir  # noqa: E402
from voicerelief.clock import ScaledClock  # noqa: E402
from voicerelief.models import find_model  # noqa: E402
from voicerelief.recognizer import CommandRecognizer, FileRecognizer, load_model  # noqa: E402
from voicerelief.rooms import active_level_dbfs  # noqa: E402
from voicerelief.red_flags import load_red_flags  # noqa: E402
from voicerelief.session import TimerFired, heard_in_state  # noqa: E402
from voicerelief.synthesize import synthesize  # noqa: E402
from voicerelief.voice_gate import VoiceGate  # noqa: E402

RATE = 16000
BLOCK = RATE // 10
COMMAND = "how much time is left"
COMMAND_EVERY_BLOCKS = 610
COMMAND_DBFS = -20.0
BACKGROUND_UNDER_COMMAND_DB = 12.0
BACKGROUND_GAP_SECONDS = (1.0, 3.0)
# In real time: a prompt this late is not noticed. (In protocol time the same delay is ``speed`` times longer.)
TIMER_LATENESS_LIMIT_S = 0.1
PAINS_EXPECTED, REMOVALS_EXPECTED = 8, 6
READ_BACKS = frozenset({"confirmPainBefore", "confirmPainAfter"})
DEFAULTS = {"hours": 78.0, "speed": 1000.0, "audio_hours": 2.0}
RESULTS = Path(__file__).resolve().parent / "results"

FIRST_QUESTIONS = sum(q.asked == "first" and not q.only_if for q in load_red_flags())
LATER_QUESTIONS = sum(q.asked == "later" and not q.only_if for q in load_red_flags())
FIRST_SESSION = [("idle", "start")] + [("redFlags", "no")] * FIRST_QUESTIONS + [
    ("onset", "minutes ago"), ("painBefore", "seven"), ("confirmPainBefore", "yes"), ("rest", "ready"),
    ("coldOrHeat", "ice"), ("iceReady", "ready"), ("iceRemove", "done"), ("skinCheck", "no"), ("iceReady", "ready"),
    ("iceRemove", "ice off"), ("skinCheck", "no"), ("stretchOffer", "no"), ("painAfter", "five"),
    ("confirmPainAfter", "yes")]
LATER_ICE = [("idle", "start")] + [("redFlags", "no")] * LATER_QUESTIONS + [
    ("painBefore", "five"), ("confirmPainBefore", "yes"), ("rest", "ready"), ("iceReady", "ready"),
    ("iceRemove", "done"), ("skinCheck", "no"), ("iceReady", "ready"), ("iceRemove", "done"), ("skinCheck", "no"),
    ("stretchOffer", "no"), ("painAfter", "four"), ("confirmPainAfter", "yes")]
LATER_HEAT = [("idle", "start")] + [("redFlags", "no")] * LATER_QUESTIONS + [
    ("painBefore", "three"), ("confirmPainBefore", "yes"), ("rest", "ready"), ("heatReady", "ready"),
    ("heatRemove", "done"), ("stretchOffer", "no"), ("painAfter", "two"), ("confirmPainAfter", "yes")]


def room_noise() -> np.ndarray:
    """Every background-noise recording of the shared data, one after another, at 16 kHz."""
    clips = sorted((shared_data_dir() / "speech-commands-dev" / "_silence_").glob("*.wav"))
    if not clips:
        raise SystemExit(f"The soak's room noise is missing: put the shared recordings in {shared_data_dir()}.")
    return np.concatenate([read_speech(clip).samples for clip in clips]).astype(np.float64)


class BackgroundSpeech:
    """Every background-dev clip in order, its speech at one level, quiet between; from the first again at the end.

    Blocks are float int16 units. ``distinct_seconds`` is how much was yielded before anything repeated.
    """

    def __init__(self, seed: int = 11) -> None:
        folder = shared_data_dir() / "background-dev"
        self.paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".wav", ".flac"))
        if not self.paths:
            raise SystemExit(f"The soak's background speech is missing: put the shared recordings in {shared_data_dir()}.")
        self.generator = np.random.default_rng(seed)
        self.yielded = 0
        self.distinct_seconds = 0.0
        self.speech_seconds = 0.0

    def blocks(self):
        pending = np.zeros(0)
        first_pass = True
        while True:
            for path in self.paths:
                audio, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
                samples = soxr.resample(audio.mean(axis=1), rate, RATE) * 32768 if rate != RATE \
                    else audio.mean(axis=1) * 32768
                samples *= 10 ** ((COMMAND_DBFS - BACKGROUND_UNDER_COMMAND_DB - active_level_dbfs(samples)) / 20)
                gap = np.zeros(int(RATE * self.generator.uniform(*BACKGROUND_GAP_SECONDS)))
                if first_pass:
                    self.speech_seconds += len(samples) / RATE
                pending = np.concatenate([pending, gap, samples])
                while len(pending) >= BLOCK:
                    yield pending[:BLOCK]
                    pending = pending[BLOCK:]
                    self.yielded += BLOCK
                    if first_pass:
                        self.distinct_seconds = self.yielded / RATE
            first_pass = False


def spoken_command() -> np.ndarray:
    """The command at the recognizer's rate and a speaking level, as a float stream of int16 units."""
    speech = synthesize(COMMAND)
    samples = soxr.resample(speech.samples.astype(np.float64) / 32768, speech.rate, RATE)
    voiced = samples[np.abs(samples) > 0.02]
    return samples * (10 ** (COMMAND_DBFS / 20) / np.sqrt(np.mean(voiced**2))) * 32768


def sample() -> tuple[float, int]:
    return psutil.Process().memory_info().rss / 2**20, len(os.listdir("/proc/self/fd"))


def protocol_run(hours: float, speed: float) -> dict:
    content = load_content()
    model = load_model(find_model(), content.table)
    recognizer = FileRecognizer(model, content.table)
    lateness: list[float] = []
    samples: list[tuple[float, float, int]] = []
    spoken: list[str] = []
    answered: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        from voicerelief.store import Store

        store = Store(Path(folder))
        clock = ScaledClock(speed)
        began = clock.now()
        runner = open_runner(content, store, clock, lambda say: spoken.append(say.key))
        original_handle = runner.handle

        def handle(event) -> None:
            if isinstance(event, TimerFired):
                lateness.append((clock.now() - event.due).total_seconds())
            original_handle(event)

        runner.handle = handle
        stop = threading.Event()

        def decode_room_noise() -> None:
            live = CommandRecognizer(model, content.table, RATE)
            noise = to_int16(room_noise() / 32768)
            position = 0
            while not stop.is_set():
                live.accept(np.take(noise, np.arange(position, position + BLOCK), mode="wrap").tobytes())
                position += BLOCK

        def drive() -> None:
            plan = [(0, FIRST_SESSION), (26, LATER_ICE), (50, LATER_ICE), (75, LATER_HEAT)]
            for start_hour, script in plan:
                if start_hour >= hours:
                    break
                while clock.now() < began + timedelta(hours=start_hour) and not stop.is_set():
                    time.sleep(0.01)
                for step, (state, line) in enumerate(script):
                    # A read-back is asked only when the recognizer was unsure: skip it when the session moved on.
                    following = script[step + 1][0] if step + 1 < len(script) else "idle"
                    while runner.session.state != state and not stop.is_set():
                        if state in READ_BACKS and runner.session.state == following:
                            break
                        time.sleep(0.005)
                    if runner.session.state != state:
                        continue
                    with clock.held():
                        heard, _ = recognizer.recognize(synthesize(line))
                    runner.post(heard_event(heard))
                    answered.append(state)

        def watch() -> None:
            while not stop.is_set():
                rss, fds = sample()
                samples.append(((clock.now() - began).total_seconds() / 3600, rss, fds))
                time.sleep(1.0)

        threads = [threading.Thread(target=t, daemon=True) for t in (decode_room_noise, drive, watch)]
        runner.start()
        for thread in threads:
            thread.start()
        real_start = time.monotonic()

        def end_after_the_protocol() -> None:
            while (clock.now() - began).total_seconds() < hours * 3600:
                time.sleep(0.05)
            runner.finished = True

        threading.Thread(target=end_after_the_protocol, daemon=True).start()
        runner.serve(idle_wait=0.05)
        stop.set()
        real_seconds = time.monotonic() - real_start
        pains = [data["score"] for _, _, kind, data in store.events(["pain"]) if kind == "pain"]
        store.close()
    warm = [s for s in samples if s[0] >= hours * 0.2]
    return {"real_seconds": real_seconds, "timers": len(lateness), "max_late": max(lateness, default=0.0),
            "max_late_real": max(lateness, default=0.0) / speed,
            "rss_warm": warm[0][1], "rss_end": warm[-1][1], "rss_max": max(s[1] for s in warm),
            "fds_warm": warm[0][2], "fds_end": warm[-1][2], "pains": pains,
            "removals": spoken.count("session.ice_remove"), "answers": len(answered),
            "last_answered": answered[-1] if answered else None}


def audio_run(hours: float) -> dict:
    content = load_content()
    model = load_model(find_model(), content.table)
    recognizer = CommandRecognizer(model, content.table.restricted_to(heard_in_state("iceOn", content.table)), RATE,
                                   VoiceGate(RATE))
    wanted = content.table.match(COMMAND)
    command = spoken_command()
    noise = room_noise()
    background = BackgroundSpeech()
    speech = background.blocks()
    total_blocks = int(hours * 3600 * RATE / BLOCK)
    rss: list[float] = []
    heard = 0
    others: Counter[str] = Counter()
    started = time.monotonic()
    for index in range(total_blocks):
        start = index * BLOCK
        chunk = np.take(noise, np.arange(start, start + BLOCK), mode="wrap") + next(speech)
        into_command = start % (COMMAND_EVERY_BLOCKS * BLOCK)
        if into_command < len(command):
            piece = command[into_command:into_command + BLOCK]
            chunk[:len(piece)] += piece
        result = recognizer.accept(to_int16(chunk / 32768).tobytes())
        if result and result.intent:
            heard += result.intent == wanted
            if result.intent != wanted:
                others[result.text] += 1
        if index % 6000 == 0:
            rss.append(sample()[0])
    seconds = time.monotonic() - started
    return {"audio_seconds": hours * 3600, "real_seconds": seconds, "rss_warm": rss[min(1, len(rss) - 1)],
            "rss_end": rss[-1], "commands_heard": heard, "others_heard": sum(others.values()),
            "others_by_phrase": dict(others),
            "commands_said": -(-total_blocks // COMMAND_EVERY_BLOCKS), "noise_seconds": len(noise) / RATE,
            "distinct_speech_seconds": background.distinct_seconds,
            "background_speech_seconds": background.speech_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=DEFAULTS["hours"])
    parser.add_argument("--speed", type=float, default=DEFAULTS["speed"])
    parser.add_argument("--audio-hours", type=float, default=DEFAULTS["audio_hours"])
    args = parser.parse_args()
    began = time.monotonic()
    protocol = protocol_run(args.hours, args.speed)
    audio = audio_run(args.audio_hours)
    settings = {"hours": args.hours, "speed": args.speed, "audio_hours": args.audio_hours}
    result = {
        "protocol": {key: round(value, 4) if isinstance(value, float) else value
                     for key, value in protocol.items() if key != "pains"} | {"pains_saved": len(protocol["pains"])},
        "audio": {key: round(value, 1) if isinstance(value, float) else value for key, value in audio.items()},
        "expected": {"pains_saved": PAINS_EXPECTED, "removal_prompts": REMOVALS_EXPECTED,
                     "timer_lateness_limit_real_s": TIMER_LATENESS_LIMIT_S},
    }
    print(f"protocol: {args.hours:g} hours at {args.speed:g}x in {protocol['real_seconds']:.0f} s, RSS "
          f"{protocol['rss_warm']:.0f} -> {protocol['rss_end']:.0f} MB; audio: {args.audio_hours:g} hours in "
          f"{audio['real_seconds']:.0f} s, RSS {audio['rss_warm']:.0f} -> {audio['rss_end']:.0f} MB, the command heard "
          f"{audio['commands_heard']} of {audio['commands_said']}, anything else {audio['others_heard']}", flush=True)
    if settings == DEFAULTS:
        stamp = {**result_stamp("soak"), "settings": {**settings, "minutes": round((time.monotonic() - began) / 60, 1)}}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "soak.json").write_text(json.dumps({**stamp, **result}, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
