"""The two voices side by side, in the same run: espeak-ng through pyttsx3 (the default) and Piper.

For each voice:
- load: from nothing to the first sentence it can render (espeak-ng: pyttsx3's engine made and one
  word rendered; Piper: its files checked and its model loaded);
- real-time factor: render time over audio length, for new sentences of the prompts' kind;
- decision to first sound: from the call that speaks a prompt to its first audible 10 ms on the
  PulseAudio virtual speaker's monitor (the rig of the tests), for a cached prompt, a new
  one-sentence prompt and a new three-sentence prompt;
- peak RSS of `voicerelief run --text` speaking a few prompts with that voice.

Then the natural voice as a person meets it, with a carer set up: `voicerelief voice prepare` from an empty cache
(its wall time here, the speech it rendered, and from that speech the time it takes on one core of a Pi, by the
instructions per second of speech that ``bench/voice_instructions.py`` counted, and on the Pi's four cores by the
parallel share that bench measured, Amdahl's law, the worst case taking no gain past two threads), then the whole
demo (every state, both help lists, the progress summary) spoken through the virtual speaker: the share of its
sentences served from the cache, and the demo process's peak RSS. The first sound of a cached sentence on a Pi 4 is
projected as the p95 measured here plus the instructions of serving it (counted by the same bench) at the Pi's
rate: the CPU time it took here is counted twice, so the projection errs long.

Last, memory over two hours of speech: one process holding the natural voice renders every sentence a session may
say, live, then serves each from the cache as the speaker does before playing it, and empties the cache, round after
round until it has made SOAK_HOURS of speech (as fast as it goes: a voice holds no timers, so its memory follows the
speech it makes, not the clock); its RSS after each round, its peak sampled every 20 ms from outside, and its RSS
once the voice has been idle long enough to let go of its engine. Twice, in the same run: with one engine kept for
the whole soak (the baseline, as before the engine was released) and as the app does it.

Run: .venv/bin/python bench/voice.py [--trials 10]; with 10 trials it writes bench/results/voice.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from audio_rig import AudioRig  # noqa: E402
from isolation import isolate_from_the_user  # noqa: E402
from instructions import ARM_PER_X86_INSTRUCTIONS, PI_CPUS  # noqa: E402
from stamp import RESULTS, published  # noqa: E402

from voicerelief.carers import add_carer, carers_path  # noqa: E402
from voicerelief.natural_voice import (  # noqa: E402
    RELEASE_AFTER_SENTENCES, RELEASE_WHEN_IDLE_SECONDS, PiperRenderer)
from voicerelief.speak import NATURAL, PromptRenderer, Speaker, Voice, read_rendered  # noqa: E402

VOICES = ("espeak", NATURAL)
SOAK_HOURS = 2.0
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
    # The speaker returns before the sound server has played the last of the previous prompt: without this wait, that
    # tail on the monitor would pass for this prompt's first sound.
    rig.wait_quiet(since=time.monotonic(), quiet_for=0.5)
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
    return sampled_peak_rss(app)


SESSION_TALLY = re.compile(r"natural voice: (\d+) sentences said from the cache, (\d+) rendered live, (\d+) by espeak-ng")


def whole_session(rig: AudioRig, work: Path) -> dict[str, float]:
    """`voice prepare` from an empty cache with a carer set up, then the demo spoken in the natural voice."""
    settings = work / "session.toml"
    settings.write_text('voice = "natural"\n')
    add_carer(carers_path(settings), "Sam", "json://127.0.0.1:9/")
    cache = work / "session-cache"
    env = {**rig.env, "VOICERELIEF_CONFIG": str(settings), "XDG_CACHE_HOME": str(cache)}
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "voicerelief", "voice", "prepare", "--data-dir", str(work / "session-data")],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    prepare_seconds = time.perf_counter() - began
    rendered = list((cache / "voicerelief" / "speech" / "natural").glob("*.wav"))
    speech_seconds = sum(soundfile.info(str(path)).duration for path in rendered)

    log = work / "session.log"
    with log.open("w") as errors:
        demo = subprocess.Popen([sys.executable, "-m", "voicerelief", "--verbose", "demo", "--speak", "--speed", "1000",
                                 "--data-dir", str(work / "session-data")], env=env, stdout=subprocess.DEVNULL,
                                stderr=errors)
        peak = sampled_peak_rss(demo)
    if demo.returncode != 0:
        raise SystemExit(f"the demo failed: {log.read_text()[-2000:]}")
    [(cached, live, stand_in)] = SESSION_TALLY.findall(log.read_text())
    cached, live, stand_in = int(cached), int(live), int(stand_in)
    return {"prepare_seconds": prepare_seconds, "prepared_sentences": len(rendered),
            "prepared_speech_seconds": speech_seconds, "served_from_cache_share": cached / (cached + live + stand_in),
            "session_sentences": cached + live + stand_in, "session_sentences_live": live,
            "session_sentences_stand_in": stand_in, "peak_rss_mb": peak}


def speech_soak(cache: Path, hours: float, keep_engine: bool) -> dict[str, object]:
    """In this process: every known sentence rendered live, then served from the cache, then the cache emptied, round
    after round until ``hours`` of speech were made; the RSS in MB after each round and once the voice was idle, and
    the speech made. With ``keep_engine``, one engine renders everything, as before the voice let go of it."""
    from voicerelief import natural_voice
    from voicerelief.app import known_sentences, load_content

    if keep_engine:
        natural_voice.RELEASE_AFTER_SENTENCES, natural_voice.RELEASE_WHEN_IDLE_SECONDS = float("inf"), None
    said = known_sentences(load_content())
    renderer = PiperRenderer(cache, Voice(voice_id=NATURAL), PromptRenderer(cache, Voice()))
    problem = renderer.wait_until_loaded(300)
    if problem:
        raise SystemExit(f"The natural voice did not load: {problem}")
    made, rss = 0.0, []
    while made < hours * 3600:
        rendered = [renderer.render_sentence(sentence) for sentence in said]
        made += sum(soundfile.info(str(path)).duration for path in rendered)
        for sentence in said:
            read_rendered(next(iter(renderer.speech(sentence))), 1.0)
        for path in rendered:
            path.unlink()
        rss.append(psutil.Process().memory_info().rss / 2**20)
    if not keep_engine:
        time.sleep(natural_voice.RELEASE_WHEN_IDLE_SECONDS + 5)
    idle = psutil.Process().memory_info().rss / 2**20
    renderer.close()
    return {"speech_hours": made / 3600, "sentences_per_round": len(said), "rss_mb_by_round": rss,
            "rss_mb_idle": idle}


def soaked(work: Path, keep_engine: bool) -> dict[str, object]:
    """The speech soak in a process of its own, with its peak RSS."""
    command = [sys.executable, __file__, "--soak", str(work / f"soak-cache-{keep_engine}")]
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(command + ["--keep-engine"] * keep_engine, stdout=out, text=True)
        peak = sampled_peak_rss(child)
        if child.wait() != 0:
            raise SystemExit(f"the speech soak failed (exit {child.returncode})")
        out.seek(0)
        return {**json.loads(out.read().strip().splitlines()[-1]), "peak_rss_mb": peak}


def pi_seconds(instructions: float) -> tuple[float, float, float]:
    """Seconds on one core of a Raspberry Pi 4 for this many x86-64 instructions: middle, best, worst."""
    board, core, ghz, (low_ipc, mid_ipc, high_ipc) = PI_CPUS[0]
    low_ratio, mid_ratio, high_ratio = ARM_PER_X86_INSTRUCTIONS
    return (instructions * mid_ratio / (ghz * 1e9 * mid_ipc), instructions * low_ratio / (ghz * 1e9 * high_ipc),
            instructions * high_ratio / (ghz * 1e9 * low_ipc))


def counted_voice() -> dict | None:
    """What bench/voice_instructions.py counted for the natural voice, with that result's commit; None without it."""
    counted = RESULTS / "voice_instructions.json"
    if not counted.is_file():
        return None
    result = json.loads(counted.read_text())
    [natural] = [voice for voice in result["figures"]["voices"] if voice["voice"].startswith("natural")]
    return {**result["figures"], "natural": natural, "commit": result["commit"]}


def prepare_on_a_pi(counted: dict, speech_seconds: float) -> dict[str, tuple[float, float, float]]:
    """Minutes `voice prepare` takes on a Raspberry Pi 4 (middle, best, worst): on one core, and on its four cores by
    the parallel share measured (the worst case taking no gain past two threads)."""
    one_core = tuple(seconds / 60 for seconds in
                     pi_seconds(counted["natural"]["instructions_per_speech_second"] * speech_seconds))
    share = counted["natural_parallel_share"]
    four, two = (1 - share) + share / 4, (1 - share) + share / 2
    return {"one_core": one_core, "four_cores": (one_core[0] * four, one_core[1] * four, one_core[2] * two)}


def sampled_peak_rss(process: subprocess.Popen) -> float:
    """The largest RSS of a running process, sampled every 20 ms until it ends, in MB."""
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
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
    parser.add_argument("--soak", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--keep-engine", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.soak:
        print(json.dumps(speech_soak(args.soak, SOAK_HOURS, args.keep_engine)))
        return
    isolate_from_the_user()
    results: dict[str, dict[str, str]] = {name: {} for name in VOICES}
    cases_p95: dict[str, dict[str, float]] = {}
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
                cases_p95[name] = {case: percentile(seconds, 95) for case, seconds in cases.items()}
                for case, seconds in cases.items():
                    results[name][f"decision to first sound, {case}: p50"] = f"{percentile(seconds, 50):.2f} s"
                    results[name][f"decision to first sound, {case}: p95"] = f"{percentile(seconds, 95):.2f} s"
            for name in VOICES:
                results[name]["peak RSS of `run --text` speaking"] = f"{peak_rss_mb(rig, work, name):.0f} MB"
            session = whole_session(rig, work)
            soak = {"one engine kept (baseline)": soaked(work, keep_engine=True),
                    "engine let go, as the app does": soaked(work, keep_engine=False)}
        finally:
            rig.stop()
    counted = counted_voice()
    if counted is not None:
        prepare_pi = prepare_on_a_pi(counted, session["prepared_speech_seconds"])
        here = cases_p95[NATURAL]["cached prompt"]
        first_sound_pi = tuple(here + seconds for seconds in pi_seconds(counted["natural_cached_serve_instructions"]))
    with published("voice", {"trials": args.trials}, save=args.trials == 10) as figures:
        figures.update(results)
        figures.update(session)
        figures["speech_soak"] = soak
        figures["first_sound_cached_p95_s"] = cases_p95[NATURAL]["cached prompt"]
        figures["first_sound_live_p95_s"] = cases_p95[NATURAL]["new one-sentence prompt"]
        if counted is not None:
            figures["prepare_pi4_one_core_minutes"] = prepare_pi["one_core"][0]
            figures["prepare_pi4_minutes"] = prepare_pi["four_cores"][0]
            figures["first_sound_cached_pi4_p95_s"] = first_sound_pi[0]
        print(f"The two voices on this machine, {args.trials} trials of each, same run; first sound read on the "
              "virtual speaker's monitor.\n")
        print("| measure | espeak-ng (default, baseline) | natural (Piper, en_US-joe-medium) |")
        print("| --- | ---: | ---: |")
        for measure in results[VOICES[0]]:
            print(f"| {measure} | {results['espeak'][measure]} | {results[NATURAL][measure]} |")
        print(f"\nThe natural voice in a whole session, a carer set up: `voice prepare` from an empty cache, then the "
              f"demo (every state, both help lists, the progress summary) spoken through the virtual speaker.\n")
        print("| measure | natural (Piper, en_US-joe-medium) |")
        print("| --- | ---: |")
        print(f"| `voice prepare`: sentences rendered | {session['prepared_sentences']} "
              f"({session['prepared_speech_seconds'] / 60:.1f} min of speech) |")
        print(f"| `voice prepare`: wall time here | {session['prepare_seconds'] / 60:.1f} min |")
        if counted is not None:
            for cores, label in (("one_core", "one core"), ("four_cores", "its four cores")):
                middle, best, worst = prepare_pi[cores]
                print(f"| `voice prepare`: projected on {label} of a Raspberry Pi 4 (counts from {counted['commit']}) "
                      f"| {middle:.0f} min ({best:.0f} to {worst:.0f}) |")
        print(f"| sentences of the demo served from the cache | {session['served_from_cache_share']:.1%} "
              f"({session['session_sentences'] - session['session_sentences_live'] - session['session_sentences_stand_in']}"
              f" of {session['session_sentences']}; {session['session_sentences_live']} rendered live, "
              f"{session['session_sentences_stand_in']} by espeak-ng) |")
        print(f"| decision to first sound, cached prompt: p95 | {cases_p95[NATURAL]['cached prompt']:.2f} s |")
        if counted is not None:
            middle, best, worst = first_sound_pi
            print(f"| decision to first sound, cached prompt: p95 projected on a Raspberry Pi 4 | {middle:.2f} s "
                  f"({best:.2f} to {worst:.2f}) |")
        print(f"| decision to first sound, new one-sentence prompt: p95 | "
              f"{cases_p95[NATURAL]['new one-sentence prompt']:.2f} s |")
        print(f"| peak RSS of the whole demo session | {session['peak_rss_mb']:.0f} MB |")
        kept = soak["one engine kept (baseline)"]
        print(f"\nMemory over {kept['speech_hours']:.1f} hours of speech rendered live and served, in rounds of "
              f"{kept['sentences_per_round']} sentences; both in the same run. The app lets go of the engine after "
              f"{RELEASE_AFTER_SENTENCES} sentences and after {RELEASE_WHEN_IDLE_SECONDS:g} s with nothing to "
              "render.\n")
        print("| natural voice | RSS after each round | peak | once idle |")
        print("| --- | --- | ---: | ---: |")
        for label, run in soak.items():
            rounds = ", ".join(f"{rss:.0f}" for rss in run["rss_mb_by_round"])
            print(f"| {label} | {rounds} MB | {run['peak_rss_mb']:.0f} MB | {run['rss_mb_idle']:.0f} MB |")

if __name__ == "__main__":
    main()
