"""Barge-in bench: "stop" said over the assistant's own voice leaking into the microphone.

On a real PulseAudio server with a virtual microphone and speaker, `module-loopback` feeds the
speaker back into the microphone at a set level, as a laptop's casing or a USB speakerphone does.
The leak is relative to the person: at 0 dB the assistant's voice reaches the microphone as loud
as their "stop" (each real recording of the shared set is scaled to the assistant's speech level,
measured on the speaker's monitor). For each leak and with the app's echo canceller (WebRTC's AEC3,
and speex's linear filter for a voice heard over a prompt; `echo_cancellation = true`) on and off in the same run, the real app (`voicerelief run`, a fresh data folder each trial) hears
"stop" at a random point of
- a long prompt: the disclaimer and introduction after "hey relief start" (about 15 s);
- the ice alarm: the chime and "Time is up. Take the ice off now." (the ice timer is set to end a
  few seconds after start in a saved episode, which stands for twenty minutes passing).

Per level: the share of "stop"s acted on (the app logs the barge-in), the time from the acoustic
end of "stop" (the recording's last audible 10 ms, placed by paplay's measured onset) to the
speaker's last sound before it fell quiet (on the monitor), and prompts in which the app cut itself
short before any "stop" was played (self-triggered), and prompts it paused for a voice before then
(the pause lasts until about 0.6 s of quiet; nothing is acted on), and "stop"s taken for another phrase, and
which recordings were missed. The last line printed is the JSON result.

Run: .venv/bin/python bench/barge_in.py [--trials 12] [--levels -20 -12 -6 0]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from audio_rig import AUDIBLE_RMS, AudioRig, RunningApp, chunk_levels, scaled_to  # noqa: E402
from harness import FIRST_SAFETY_QUESTIONS  # noqa: E402
from stamp import result_stamp  # noqa: E402

from voicerelief.evaluation import shared_data_dir  # noqa: E402
from voicerelief.store import DATABASE_NAME  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS_DB = (-20.0, -12.0, -6.0, 0.0)
# How long after the acoustic end of "stop" the barge-in may still be logged.
HEARD_WITHIN_SECONDS = 3.0
# The ice ends this long after the app starts: long enough for the ready line to be over.
ALARM_AFTER_START_SECONDS = 9.0
TO_ICE_ON = ["start"] + ["no"] * FIRST_SAFETY_QUESTIONS + ["minutes ago", "seven", "yes", "ready", "ice", "ready"]


@dataclass(frozen=True)
class Trial:
    clip: str
    heard: bool
    stop_to_silence_s: float | None
    self_triggered: bool
    paused_by_own_voice: bool
    misheard: bool  # another phrase acted on instead of "stop"
    rejected: int  # "stop" seen by the decoder but below the confidence a barge-in needs


@dataclass(frozen=True)
class StopClip:
    wav: Path
    last_sound_s: float  # the recording's last audible 10 ms, from its first sample


def stop_clips(folder: Path, speech_rms: float) -> list[StopClip]:
    """Every "stop" recording, scaled so its speech is as loud as the assistant's, with its last sound."""
    clips = []
    for path in sorted((shared_data_dir() / "speech-commands-dev" / "stop").glob("*.wav")):
        samples, rate = soundfile.read(path, dtype="float32")
        scaled = scaled_to(samples, rate, speech_rms)
        levels = chunk_levels(scaled, rate)
        wav = folder / f"stop-{path.stem}.wav"
        soundfile.write(wav, scaled, rate, subtype="PCM_16")
        clips.append(StopClip(wav, (np.flatnonzero(levels > AUDIBLE_RMS)[-1] + 1) * 0.01))
    return clips


def paplay_onset(rig: AudioRig, clip: StopClip) -> float:
    """Seconds from starting paplay to the first sound on the microphone, with nothing else playing."""
    onsets = []
    for _ in range(5):
        sent = time.monotonic()
        subprocess.run(["paplay", "--device=mic_feed", str(clip.wav)], env=rig.env, check=True)
        onsets.append(rig.first_sound_on_microphone_after(sent) - sent)
    return float(np.median(onsets))


def settings_file(folder: Path, cancel_echo: bool) -> Path:
    path = folder / f"config-{'aec' if cancel_echo else 'plain'}.toml"
    path.write_text(f"echo_cancellation = {'true' if cancel_echo else 'false'}\n")
    return path


def assistant_speech_rms(rig: AudioRig, data_dir: Path, settings: Path) -> float:
    """The assistant's speech level on the speaker's monitor, from its ready line."""
    app = RunningApp(rig, data_dir, settings=settings)
    try:
        printed = app.wait_for("Say hey relief to begin")
        app.wait_until_done_talking(rig)
        return rig.speech_level_since(printed)
    finally:
        app.stop()


def say_stop(rig: AudioRig, clip: StopClip, onset: float) -> float:
    """Play "stop" into the microphone; returns its acoustic end."""
    sent = time.monotonic()
    subprocess.run(["paplay", "--device=mic_feed", str(clip.wav)], env=rig.env, check=True)
    return sent + onset + clip.last_sound_s


def last_sound_before(rig: AudioRig, moment: float, since: float) -> float:
    """The speaker's last audible 10 ms between two moments."""
    deadline = time.monotonic() + 2.0
    while not rig.levels or rig.levels[-1][0] < moment:
        assert time.monotonic() < deadline, "the speaker's monitor stopped"
        time.sleep(0.02)
    return max(at for at, rms in list(rig.levels) if since <= at <= moment and rms > AUDIBLE_RMS)


def stop_during(rig: AudioRig, app: RunningApp, spoken_from: float, offset: float, clip: StopClip,
                onset: float) -> Trial:
    """Say "stop" ``offset`` s into what the speaker began playing at ``spoken_from``; what came of it."""
    time.sleep(max(0.0, spoken_from + offset - onset - time.monotonic()))
    logged_before = len(app.errors)
    self_triggered = any("barge-in:" in line for line in app.errors[:logged_before])
    paused = any("pausing it" in line for line in app.errors[:logged_before])
    stop_end = say_stop(rig, clip, onset)
    deadline = stop_end + HEARD_WITHIN_SECONDS
    while time.monotonic() < deadline and not any("barge-in:" in line for line in app.errors[logged_before:]):
        time.sleep(0.02)
    heard = any("barge-in: 'stop'" in line for line in app.errors[logged_before:])
    rejected = sum("candidate 'stop' rejected" in line for line in app.errors[logged_before:])
    if not heard:
        misheard = any("barge-in:" in line for line in app.errors[logged_before:])
        return Trial(clip.wav.stem, False, None, self_triggered, paused, misheard, rejected)
    # The next line (the app asks whether to end) follows at once: the cut prompt ends where its stream
    # was closed, which the app logs ("listening again") after the sound server dropped what it held.
    closed = app.wait_for_log_after(logged_before, "listening again")
    return Trial(clip.wav.stem, True, last_sound_before(rig, closed, since=spoken_from) - stop_end, self_triggered, paused, False,
                 rejected)


def first_sound(rig: AudioRig, after: float) -> float:
    deadline = time.monotonic() + 20
    while (found := rig.first_sound_after(after)) is None:
        assert time.monotonic() < deadline, "the app printed a line but played nothing"
        time.sleep(0.02)
    return found


def prompt_trial(rig: AudioRig, folder: Path, settings: Path, clip: StopClip, onset: float, offset: float) -> Trial:
    app = RunningApp(rig, folder / "data", settings=settings)
    try:
        app.wait_for("Say hey relief to begin")
        app.wait_until_done_talking(rig)
        began, _ = rig.speak("hey relief start")
        printed = app.wait_for("not a doctor", after=began)
        return stop_during(rig, app, first_sound(rig, printed), offset, clip, onset)
    finally:
        app.stop()


def ice_on_ending_soon(data_dir: Path) -> None:
    """A saved episode with the ice on, its timer set to end shortly after the app starts."""
    typed = subprocess.run([sys.executable, "-m", "voicerelief", "run", "--text", "--quiet", "--data-dir",
                            str(data_dir)], input="\n".join(TO_ICE_ON) + "\n", capture_output=True, text=True,
                           timeout=120)
    assert "Ice is on." in typed.stdout, typed.stderr
    due = datetime.now().replace(microsecond=0) + timedelta(seconds=ALARM_AFTER_START_SECONDS)
    with sqlite3.connect(data_dir / DATABASE_NAME) as database:
        database.execute("DELETE FROM timers WHERE name IN ('ice_halfway', 'ice_one_minute')")
        changed = database.execute("UPDATE timers SET due = ? WHERE name = 'ice_due'", (due.isoformat(),)).rowcount
    assert changed == 1, "the saved episode has no ice timer"


def alarm_trial(rig: AudioRig, folder: Path, settings: Path, clip: StopClip, onset: float, offset: float) -> Trial:
    ice_on_ending_soon(folder / "data")
    app = RunningApp(rig, folder / "data", settings=settings)
    try:
        printed = app.wait_for("Time is up. Take the ice off now.", timeout=60)
        return stop_during(rig, app, first_sound(rig, printed), offset, clip, onset)
    finally:
        app.stop()


def summary(trials: list[Trial]) -> dict[str, object]:
    return {"trials": len(trials), "heard": sum(t.heard for t in trials),
            "self_triggered": sum(t.self_triggered for t in trials),
            "paused_by_own_voice": sum(t.paused_by_own_voice for t in trials),
            "misheard": sum(t.misheard for t in trials),
            "rejected_as_unsure": sum(t.rejected for t in trials),
            "missed": sorted(t.clip for t in trials if not t.heard)}


def level_result(during_prompt: list[Trial], during_alarm: list[Trial]) -> dict[str, object]:
    silences = [t.stop_to_silence_s for t in during_prompt + during_alarm if t.stop_to_silence_s is not None]
    return {
        "heard_during_prompt": round(sum(t.heard for t in during_prompt) / len(during_prompt), 3),
        "heard_during_alarm": round(sum(t.heard for t in during_alarm) / len(during_alarm), 3),
        "stop_to_silence_p95_s": round(float(np.percentile(silences, 95)), 3) if silences else None,
        "self_triggered": sum(t.self_triggered for t in during_prompt + during_alarm),
        "prompt": summary(during_prompt),
        "alarm": summary(during_alarm),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=12, help="stops per context, leak and mode")
    parser.add_argument("--levels", type=float, nargs="+", default=list(LEVELS_DB))
    parser.add_argument("--seed", type=int, default=27)
    args = parser.parse_args()
    if not (shared_data_dir() / "speech-commands-dev" / "stop").is_dir():
        sys.exit(f"The shared recordings are not at {shared_data_dir()}; this bench needs them.")
    rng = random.Random(args.seed)
    result: dict[str, dict[str, object]] = {"with_aec": {}, "without_aec": {}}
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="barge-in-") as scratch:
        folder = Path(scratch)
        rig = AudioRig(folder / "pulse")
        rig.start()
        try:
            speech_rms = assistant_speech_rms(rig, folder / "level-data", settings_file(folder, False))
            clips = stop_clips(folder, speech_rms)
            onset = paplay_onset(rig, clips[0])
            print(f"assistant speech {20 * np.log10(speech_rms):.1f} dBFS on the speaker; {len(clips)} recordings of "
                  f"\"stop\" scaled to it; paplay onset {onset * 1000:.0f} ms", flush=True)
            for level in args.levels:
                rig.loop_speaker_into_microphone(True, level)
                for mode, cancel_echo in (("without_aec", False), ("with_aec", True)):
                    settings = settings_file(folder, cancel_echo)
                    contexts: dict[str, list[Trial]] = {"prompt": [], "alarm": []}
                    for context, run_trial, offsets in (("prompt", prompt_trial, (1.0, 10.0)),
                                                        ("alarm", alarm_trial, (0.3, 3.5))):
                        for _ in range(args.trials):
                            with tempfile.TemporaryDirectory(dir=folder) as trial_folder:
                                contexts[context].append(run_trial(rig, Path(trial_folder), settings,
                                                                   rng.choice(clips), onset, rng.uniform(*offsets)))
                    result[mode][f"{level:g}"] = level_result(contexts["prompt"], contexts["alarm"])
                    row = result[mode][f"{level:g}"]
                    print(f"leak {level:>4g} dB  {mode:<11}  prompt {row['prompt']['heard']}/{args.trials}  "
                          f"alarm {row['alarm']['heard']}/{args.trials}  stop to silence p95 "
                          f"{row['stop_to_silence_p95_s']} s  self-triggered {row['self_triggered']}", flush=True)
                rig.loop_speaker_into_microphone(False)
        finally:
            rig.stop()
    stamp = {**result_stamp("barge_in"),
             "settings": {"trials": args.trials, "levels": args.levels, "seed": args.seed,
                          "minutes": round((time.monotonic() - began) / 60, 1)}}
    if args.levels == list(LEVELS_DB):
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "barge_in.json").write_text(json.dumps({**stamp, **result}, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
