"""The two voices side by side, in the same run: espeak-ng through pyttsx3 (the default) and Piper.

For each voice:
- load: from nothing to the first sentence it can render (espeak-ng: pyttsx3's engine made and one
  word rendered; Piper: its files checked and its model loaded);
- real-time factor: render time over audio length, for new sentences of the prompts' kind;
- decision to first sound: from the call that speaks a prompt to its first audible 10 ms on the
  PulseAudio virtual speaker's monitor (the rig of the tests), for a cached prompt, a new
  one-sentence prompt and a new three-sentence prompt;
- peak RSS of `voicerelief run --text` speaking a few prompts with that voice.

Run: .venv/bin/python bench/voice.py [--trials 10]; with 10 trials it writes bench/results/voice.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from audio_rig import AudioRig  # noqa: E402
from isolation import isolate_from_the_user  # noqa: E402
from stamp import published  # noqa: E402

from voicerelief.natural_voice import PiperRenderer  # noqa: E402
from voicerelief.speak import NATURAL, PromptRenderer, Speaker, Voice, read_rendered  # noqa: E402

VOICES = ("espeak", NATURAL)
CACHED = "Ice or heat? Both can ease the pain. Say ice, or heat."
NUMBERS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen")


def one_sentence(trial: int, voice: str) -> str:
    return f"Your ice has been on for {NUMBERS[trial % len(NUMBERS)]} minutes and {trial} seconds, {voice}."


def three_sentences(trial: int, voice: str) -> str:
    return (f"Pain {NUMBERS[trial % len(NUMBERS)]} this morning, {voice}. It was {trial} yesterday. "
            f"Round {trial + 1} of ice is due at {trial + 1} o'clock.")


def renderer_for(name: str, cache: Path) -> tuple[PromptRenderer | PiperRenderer, float]:
    """The voice's renderer, ready, and the seconds it took to get there."""
    began = time.perf_counter()
    espeak = PromptRenderer(cache, Voice())
    if name != NATURAL:
        espeak.render("Testing.")
        return espeak, time.perf_counter() - began
    natural = PiperRenderer(cache, Voice(voice_id=NATURAL), espeak)
    problem = natural.wait_until_loaded(300)
    if problem:
        raise SystemExit(f"The natural voice did not load: {problem}")
    return natural, time.perf_counter() - began


def real_time_factor(renderer, name: str, trials: int) -> float:
    rendered = audio = 0.0
    for trial in range(trials):
        began = time.perf_counter()
        samples, rate = read_rendered(renderer.render(one_sentence(trial + 100, f"{name} factor")), 1.0)
        rendered += time.perf_counter() - began
        audio += len(samples) / rate
    return rendered / audio


def first_sound_seconds(rig: AudioRig, speaker: Speaker, text: str) -> float:
    decided = time.monotonic()
    speaker.say(text)
    first = rig.first_sound_after(decided)
    if first is None:
        raise SystemExit(f"nothing was heard on the virtual speaker for {text!r}")
    return first - decided


def peak_rss_mb(rig: AudioRig, work: Path, name: str) -> float:
    """The largest RSS seen, sampled every 20 ms, of the app speaking a few prompts in this voice."""
    settings = work / f"{name}.toml"
    settings.write_text(f'voice = "{name}"\n')
    env = {**rig.env, "VOICERELIEF_CONFIG": str(settings), "XDG_CACHE_HOME": str(work / f"rss-{name}")}
    app = subprocess.Popen([sys.executable, "-m", "voicerelief", "run", "--text", "--output-device", "pulse",
                            "--data-dir", str(work / f"data-{name}")], env=env, stdin=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    app.stdin.write("help\nstart\nrepeat\n")
    app.stdin.close()
    watched = psutil.Process(app.pid)
    peak = 0
    while app.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    return peak / 2**20


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    isolate_from_the_user()
    results: dict[str, dict[str, str]] = {name: {} for name in VOICES}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rig = AudioRig(work / "pulse")
        rig.start()
        os.environ.update({key: rig.env[key] for key in ("PULSE_SERVER", "PULSE_RUNTIME_PATH")})
        try:
            for name in VOICES:
                renderer, load_seconds = renderer_for(name, work / f"cache-{name}")
                speaker = Speaker(renderer, "pulse")
                factor = real_time_factor(renderer, name, args.trials)
                renderer.render(CACHED)
                # The sound server's first streams of a process take about a second to open: not the voice's.
                for _ in range(2):
                    speaker.say("Ready.")
                cases = {
                    "cached prompt": [first_sound_seconds(rig, speaker, CACHED) for _ in range(args.trials)],
                    "new one-sentence prompt": [first_sound_seconds(rig, speaker, one_sentence(trial, name))
                                                for trial in range(args.trials)],
                    "new three-sentence prompt": [first_sound_seconds(rig, speaker, three_sentences(trial, name))
                                                  for trial in range(args.trials)],
                }
                renderer.close()
                results[name]["load"] = f"{load_seconds:.2f} s"
                results[name]["real-time factor (render time / audio)"] = f"{factor:.3f}"
                for case, seconds in cases.items():
                    results[name][f"decision to first sound, {case}: p50"] = f"{percentile(seconds, 50):.2f} s"
                    results[name][f"decision to first sound, {case}: p95"] = f"{percentile(seconds, 95):.2f} s"
            for name in VOICES:
                results[name]["peak RSS of `run --text` speaking"] = f"{peak_rss_mb(rig, work, name):.0f} MB"
        finally:
            rig.stop()
    with published("voice", {"trials": args.trials}, save=args.trials == 10) as figures:
        figures.update(results)
        print(f"The two voices on this machine, {args.trials} trials of each, same run; first sound read on the "
              "virtual speaker's monitor.\n")
        print("| measure | espeak-ng (default, baseline) | natural (Piper, en_US-joe-medium) |")
        print("| --- | ---: | ---: |")
        for measure in results[VOICES[0]]:
            print(f"| {measure} | {results['espeak'][measure]} | {results[NATURAL][measure]} |")

if __name__ == "__main__":
    main()
