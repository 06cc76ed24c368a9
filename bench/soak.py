"""Long runs: the 72-hour protocol at 1000 times speed, and two hours of audio through the recognizer.

1. The real session, runner and SQLite store run the first three days and a heat
   session on day 4 under a clock 1000 times faster than real time. The person's
   answers are synthesized, recognized by the real model and posted as events,
   while a second recognizer decodes silence without pause. Everything runs in the
   real event loop (`Runner.serve`); every timer's lateness (in protocol time) is
   recorded, and RSS and open file descriptors are sampled.
2. Two hours of audio (silence, room noise and a command every minute) go
   through one recognizer as fast as it can decode; RSS is sampled.

Each figure is printed beside its value after warm-up (the baseline of the same run).
Run: .venv/bin/python bench/soak.py [--hours 72] [--speed 1000] [--audio-hours 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import psutil

from voicerelief.app import heard_event, load_content, open_runner
from voicerelief.audio_file import Speech
from voicerelief.clock import ScaledClock
from voicerelief.models import find_model
from voicerelief.recognizer import CommandRecognizer, FileRecognizer, load_model
from voicerelief.red_flags import load_red_flags
from voicerelief.session import TimerFired
from voicerelief.synthesize import synthesize, with_noise

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


def sample() -> tuple[float, int]:
    return psutil.Process().memory_info().rss / 2**20, len(os.listdir("/proc/self/fd"))


def protocol_run(hours: float, speed: float) -> dict:
    content = load_content()
    model = load_model(find_model(), content.table)
    recognizer = FileRecognizer(model, content.table)
    lateness: list[float] = []
    samples: list[tuple[float, float, int]] = []
    spoken: list[str] = []
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

        def decode_silence() -> None:
            live = CommandRecognizer(model, content.table, 16000)
            quiet = np.zeros(1600, np.int16).tobytes()
            while not stop.is_set():
                live.accept(quiet)

        def drive() -> None:
            plan = [(0, FIRST_SESSION), (26, LATER_ICE), (50, LATER_ICE), (75, LATER_HEAT)]
            for start_hour, script in plan:
                if start_hour >= hours:
                    break
                while clock.now() < began + timedelta(hours=start_hour) and not stop.is_set():
                    time.sleep(0.01)
                for state, line in script:
                    while runner.session.state != state and not stop.is_set():
                        time.sleep(0.005)
                    with clock.held():
                        heard, _ = recognizer.recognize(synthesize(line))
                    runner.post(heard_event(heard))

        def watch() -> None:
            while not stop.is_set():
                rss, fds = sample()
                samples.append(((clock.now() - began).total_seconds() / 3600, rss, fds))
                time.sleep(1.0)

        threads = [threading.Thread(target=t, daemon=True) for t in (decode_silence, drive, watch)]
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
            "rss_warm": warm[0][1], "rss_end": warm[-1][1], "rss_max": max(s[1] for s in warm),
            "fds_warm": warm[0][2], "fds_end": warm[-1][2], "pains": pains,
            "removals": spoken.count("session.ice_remove")}


def audio_run(hours: float) -> dict:
    content = load_content()
    model = load_model(find_model(), content.table)
    recognizer = CommandRecognizer(model, content.table, 16000)
    command = synthesize("how much time is left")
    noise = with_noise(Speech(np.zeros(16000 * 5, np.int16), 16000), 30, seed=1).samples
    block = 1600
    total_blocks = int(hours * 3600 * 10)
    rss: list[float] = []
    heard = 0
    started = time.monotonic()
    for index in range(total_blocks):
        if index % 600 == 0:
            pcm = command.samples
            for start in range(0, len(pcm), block):
                recognizer.accept(pcm[start:start + block].tobytes())
        result = recognizer.accept(noise[(index * block) % (len(noise) - block):][:block].tobytes())
        heard += bool(result and result.intent)
        if index % 6000 == 0:
            rss.append(sample()[0])
    seconds = time.monotonic() - started
    return {"audio_seconds": hours * 3600, "real_seconds": seconds, "rss_warm": rss[min(1, len(rss) - 1)], "rss_end": rss[-1],
            "commands_heard": heard, "commands_said": total_blocks // 600}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=78.0)
    parser.add_argument("--speed", type=float, default=1000.0)
    parser.add_argument("--audio-hours", type=float, default=2.0)
    args = parser.parse_args()
    protocol = protocol_run(args.hours, args.speed)
    audio = audio_run(args.audio_hours)
    growth = lambda end, warm: 100 * (end - warm) / warm  # noqa: E731
    print(f"Protocol: {args.hours:g} hours at {args.speed:g}x in {protocol['real_seconds']:.0f} s; "
          f"audio: {args.audio_hours:g} hours in {audio['real_seconds']:.0f} s.\n")
    print("| measure | at the end | after warm-up (baseline) |")
    print("| --- | ---: | ---: |")
    print(f"| protocol: RSS | {protocol['rss_end']:.0f} MB ({growth(protocol['rss_end'], protocol['rss_warm']):+.1f}%) "
          f"| {protocol['rss_warm']:.0f} MB |")
    print(f"| protocol: open file descriptors | {protocol['fds_end']} | {protocol['fds_warm']} |")
    print(f"| protocol: timers fired, latest lateness | {protocol['timers']}, {protocol['max_late']:.2f} s | "
          f"limit 1 s |")
    print(f"| protocol: pain scores saved, removal prompts | {len(protocol['pains'])}, {protocol['removals']} | "
          f"expected 8 and 6 |")
    print(f"| audio: RSS | {audio['rss_end']:.0f} MB ({growth(audio['rss_end'], audio['rss_warm']):+.1f}%) | "
          f"{audio['rss_warm']:.0f} MB |")
    print(f"| audio: speed | {audio['audio_seconds'] / audio['real_seconds']:.0f}x real time | 1x |")
    print(f"| audio: commands heard | {audio['commands_heard']} of {audio['commands_said']} | |")


if __name__ == "__main__":
    main()
