"""Audio-loop benchmark on a real PulseAudio server with a virtual microphone and speaker.

Measures, beside a baseline from the same run:
- answer latency: from the last audible 10 ms of the person's words on the virtual
  microphone to the first audible 10 ms of the answer on the virtual speaker (both
  read through the same kind of PulseAudio monitor), for pain-score answers ("one",
  "no"); the baseline is the version before per-state grammars (BASELINE_COMMIT),
  run from a git worktree on the same rig;
- the reply-gap sweep: "no" aimed to begin 0.3 s before the last sound of "I heard 1. Is that
  right?" (talking over the question's end, which the app does not listen to: that row must fail),
  and 0, 0.1, 0.2, 0.3 and 0.5 s after it; each trial's gap as measured on the two monitors, and
  the share acted on, for both versions;
- CPU, as a share of one core, while listening for 60 s: with the voice gate, without it (the same
  app with `voice_gate = false`), and a bare capture through the app's own microphone code that
  recognizes nothing;
- peak RSS: of the app after the spoken trials (it has built the grammars of the safety questions,
  the onset, the pain question and its confirmation), and of the bare capture; time from process
  start to the ready sentence printed, against loading the
  model alone, and to the first sound of the answer to "hey relief start" said as soon as the
  ready sentence has been spoken (what a person waits for).

Everything runs in the same quiet room: pink noise at ROOM_DBFS on the microphone throughout. The current
version speaks as installed by `./quickstart setup`: the natural voice, its sentences rendered beforehand by
`voicerelief voice prepare` into the bench's own cache (the baseline predates the natural voice: espeak-ng).

Run: .venv/bin/python bench/loop.py [--commands 30] [--trials 6] [--idle-seconds 60]; with the defaults it
writes bench/results/loop.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from audio_rig import AudioRig, RunningApp  # noqa: E402
from baseline import BASELINE_COMMIT, baseline_source  # noqa: E402
from isolation import isolate_from_the_user  # noqa: E402
from stamp import published  # noqa: E402

from voicerelief.models import find_model  # noqa: E402

# The app's own capture path (callback into a queue, 0.1 s blocks), with nothing done to the blocks.
BARE_CAPTURE = """
from voicerelief.microphone import Microphone
microphone = Microphone("pulse")
print("ready", flush=True)
for block in microphone.blocks():
    pass
"""


# The first seconds after a stream opens cost extra CPU (over a second of it for a bare capture here),
# which is start-up, not listening: every CPU figure starts after this pause.
SETTLE_SECONDS = 5.0
REPLY_GAPS = (-0.3, 0.0, 0.1, 0.2, 0.3, 0.5)
# A quiet room with a fan: far enough below the level at which the rig counts the microphone as audible
# (-50 dBFS) that no 10 ms of it reaches that level, so the person's words can still be timed on it.
ROOM_DBFS = -65.0
ROOM_LOOP_SECONDS = 60


class RoomNoise:
    """The rig's room noise played again and again into the microphone until stopped."""

    def __init__(self, rig: AudioRig) -> None:
        self.stopping = threading.Event()
        self.player = rig.play_room_noise(ROOM_LOOP_SECONDS, ROOM_DBFS)
        self.thread = threading.Thread(target=self._again, args=(rig,), daemon=True)
        self.thread.start()

    def _again(self, rig: AudioRig) -> None:
        while not self.stopping.is_set():
            if self.player.poll() is not None:
                self.player = rig.play_room_noise(ROOM_LOOP_SECONDS, ROOM_DBFS)
            time.sleep(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.player.kill()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# How long a line's expected answer may take to be printed before the line counts as not understood.
ANSWER_SECONDS = 10.0


class Misses:
    """Lines a version did not act on as said (lost, or misheard): each said again until it was, and counted."""

    def __init__(self) -> None:
        self.said = 0
        self.missed: list[str] = []

    def say_until(self, rig: AudioRig, app: RunningApp, line: str, answer: str) -> tuple[float, float]:
        """Say ``line`` until a line containing ``answer`` is printed; when and how the last saying was played."""
        for _ in range(4):
            app.wait_until_done_talking(rig)
            began, ended = rig.speak(line)
            self.said += 1
            try:
                app.wait_for(answer, after=began, timeout=ANSWER_SECONDS)
                return began, ended
            except AssertionError:
                self.missed.append(line)
        raise AssertionError(f"{line!r} was not acted on in four tries; said: {app.said()[-5:]}")


def answer_latency(rig: AudioRig, app: RunningApp, line: str, answer: str, misses: Misses) -> float | None:
    """Seconds from the acoustic end of ``line`` to the first sound of the answer containing ``answer``; None when
    the line was not acted on at once (then it is said again until it is, and not timed)."""
    app.wait_until_done_talking(rig)
    began, ended = rig.speak(line)
    misses.said += 1
    try:
        app.wait_for(answer, after=began, timeout=ANSWER_SECONDS)
    except AssertionError:
        misses.missed.append(line)
        misses.say_until(rig, app, line, answer)
        return None
    words_ended = rig.last_sound_of(began, ended)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        first = rig.first_sound_after(words_ended)
        if first is not None:
            return first - words_ended
        time.sleep(0.02)
    raise TimeoutError(f"no answer to {line!r}")


def to_pain_confirmation(rig: AudioRig, app: RunningApp, misses: Misses, first_answer: str) -> None:
    """From the ready line to "I heard 1. Is that right?" by the shortest spoken path.

    One is always read back, however sure the recognizer is, in both versions. ``first_answer``: a part of the first
    line the version answers "hey relief start" with (the current one says its disclaimer first, and the natural
    voice reaches the safety questions after more than ANSWER_SECONDS)."""
    app.wait_for("Say hey relief to begin")
    misses.say_until(rig, app, "hey relief start", first_answer)
    # "No" to every safety question, however many the version asks, until it asks when the spasm began.
    while not any("When did the spasm begin" in line for line in app.said()):
        app.wait_until_done_talking(rig)
        began, _ = rig.speak("no")
        app.wait_for("?", after=began + 0.5)
    misses.say_until(rig, app, "yesterday", "how bad is the pain")
    misses.say_until(rig, app, "one", "I heard 1")


def latencies(rig: AudioRig, app: RunningApp, commands: int, misses: Misses) -> list[float]:
    """Alternately "no" (asked for the score again) and "one" (to its confirmation); a line not acted on at once
    is said again until it is, and only first tries are timed."""
    measured = []
    for index in range(commands):
        line, answer = ("no", "?") if index % 2 == 0 else ("one", "I heard 1")
        latency = answer_latency(rig, app, line, answer, misses)
        if latency is not None:
            measured.append(latency)
    return measured


def reply_gap_trial(rig: AudioRig, app: RunningApp, gap: float, prompt_seconds: float,
                    onset_delay: float, misses: Misses) -> tuple[float, bool]:
    """In the confirmation question: "one" brings the question; "no" follows ``gap`` s after its last sound.

    Returns the gap as measured on the two monitors, and whether the "no" was acted on.
    """
    began, ended = misses.say_until(rig, app, "one", "I heard 1")
    asked = app.wait_for("I heard 1", after=began)
    first = None
    while first is None:
        first = rig.first_sound_after(max(asked - 0.5, ended))
        time.sleep(0.005)
    sent, measured_gap = rig.reply_after(first, prompt_seconds, gap, onset_delay, "no")
    try:
        app.wait_for("?", after=sent, timeout=6)
        return measured_gap, True
    except AssertionError:
        misses.say_until(rig, app, "no", "?")
        return measured_gap, False


def calibrate(rig: AudioRig, app: RunningApp, misses: Misses) -> tuple[float, float]:
    """How long "I heard 1. Is that right?" sounds, and how long paplay takes to make a sound."""
    while True:
        app.wait_until_done_talking(rig)
        began, onset_delay, words_ended = rig.speak_timed("one")
        misses.said += 1
        try:
            app.wait_for("I heard 1", after=began, timeout=ANSWER_SECONDS)
            break
        except AssertionError:
            misses.missed.append("one")
    first, last = rig.sound_span_after(words_ended)
    misses.say_until(rig, app, "no", "?")
    return last - first, onset_delay


def reply_sweep(rig: AudioRig, app: RunningApp, trials: int, misses: Misses) -> dict[float, list[tuple[float, bool]]]:
    """For each aimed gap, each trial's gap as measured and whether the reply was acted on."""
    prompt_seconds, onset_delay = calibrate(rig, app, misses)
    results: dict[float, list[tuple[float, bool]]] = {gap: [] for gap in REPLY_GAPS}
    for _ in range(trials):
        for gap in REPLY_GAPS:
            results[gap].append(reply_gap_trial(rig, app, gap, prompt_seconds, onset_delay, misses))
    return results


def measure_version(rig: AudioRig, work: Path, name: str, source: Path | None, commands: int,
                    trials: int) -> tuple[list[float], dict[float, list[tuple[float, bool]]], float, Misses]:
    """Answer latencies, the reply sweep, the app's peak RSS in MB after both, and the lines it did not act on."""
    app = RunningApp(rig, work / f"data-{name}", source=source)
    misses = Misses()
    try:
        to_pain_confirmation(rig, app, misses, "safety questions" if source else "not a doctor")
        measured = latencies(rig, app, commands, misses)
        sweep = reply_sweep(rig, app, trials, misses)
        rss = peak_rss_mb(app.process.pid)
    finally:
        app.stop()
    return measured, sweep, rss, misses


def peak_rss_mb(pid: int) -> float:
    """The kernel's high-water mark of the process's resident memory."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def idle_cpu(pid: int, seconds: float) -> float:
    """Percent of one core over ``seconds``."""
    process = psutil.Process(pid)
    before = process.cpu_times()
    time.sleep(seconds)
    after = process.cpu_times()
    return 100 * ((after.user - before.user) + (after.system - before.system)) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=30)
    parser.add_argument("--trials", type=int, default=6, help="replies per gap in the sweep")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    isolate_from_the_user()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rig = AudioRig(work / "pulse")
        rig.start()
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        rig.env["XDG_CACHE_HOME"] = str(work / "cache")
        # The baseline's checkout has no model of its own: both versions use the one installed here.
        rig.env["VOSK_MODEL_PATH"] = str(find_model())
        room = RoomNoise(rig)
        try:
            prepared = time.monotonic()
            subprocess.run([sys.executable, "-m", "voicerelief", "voice", "prepare"], env=rig.env, check=True,
                           stdout=subprocess.DEVNULL)
            prepare_seconds = time.monotonic() - prepared
            with baseline_source(work) as source:
                before, before_sweep, before_rss, before_misses = measure_version(rig, work, "before", source,
                                                                                  args.commands, args.trials)
            now, now_sweep, now_rss, now_misses = measure_version(rig, work, "now", None, args.commands, args.trials)

            launched = time.monotonic()
            app = RunningApp(rig, work / "data")
            ready = app.wait_for("Say hey relief to begin") - launched
            app.wait_until_done_talking(rig)
            time.sleep(SETTLE_SECONDS)
            app_cpu = idle_cpu(app.process.pid, args.idle_seconds)
            app.stop()

            settings = work / "ungated.toml"
            settings.write_text("voice_gate = false\n")
            ungated = RunningApp(rig, work / "data", settings=settings)
            ungated.wait_for("Relief: ", after=time.monotonic())
            ungated.wait_until_done_talking(rig)
            time.sleep(SETTLE_SECONDS)
            ungated_cpu = idle_cpu(ungated.process.pid, args.idle_seconds)
            ungated.stop()

            bare = subprocess.Popen([sys.executable, "-c", BARE_CAPTURE], env=rig.env, stdout=subprocess.PIPE, text=True)
            bare.stdout.readline()
            time.sleep(SETTLE_SECONDS)
            bare_cpu = idle_cpu(bare.pid, args.idle_seconds)
            bare_rss = peak_rss_mb(bare.pid)
            bare.kill()

            # The person can be answered once the ready sentence has been said: speak then, and time the
            # first sound of the answer from the process start, as they would perceive it.
            launched = time.monotonic()
            app = RunningApp(rig, work / "data-start")
            app.wait_for("Say hey relief to begin")
            app.wait_until_done_talking(rig)
            began, ended = rig.speak("hey relief start")
            app.wait_for("First, some safety questions", after=began)
            answered = rig.first_sound_after(ended) - launched
            app.stop()

            model_only = subprocess.run(
                [sys.executable, "-c", "import time; t = time.monotonic(); import vosk; "
                 "from voicerelief.models import find_model; vosk.Model(str(find_model())); "
                 "print(time.monotonic() - t)"], capture_output=True, text=True, check=True)
            model_seconds = float(model_only.stdout.strip().splitlines()[-1])
        finally:
            room.stop()
            rig.stop()

    rows = [
        ("answer latency p50, from the end of the words", f"{percentile(now, 50) * 1000:.0f} ms",
         f"{percentile(before, 50) * 1000:.0f} ms"),
        ("answer latency p95, from the end of the words", f"{percentile(now, 95) * 1000:.0f} ms",
         f"{percentile(before, 95) * 1000:.0f} ms"),
        ("CPU listening in the quiet room, voice gate on", f"{app_cpu:.1f}% of one core",
         f"{ungated_cpu:.1f}% with the gate off; {bare_cpu:.1f}% bare capture"),
        ("peak RSS after the spoken trials", f"{now_rss:.0f} MB",
         f"{before_rss:.0f} MB; {bare_rss:.0f} MB bare capture"),
        ("process start to ready sentence printed", f"{ready:.2f} s",
         f"{model_seconds:.2f} s (loading the model alone)"),
        ("process start to a spoken command answered (first sound)", f"{answered:.2f} s", ""),
        ("lines not acted on at once (lost or misheard; said again, not timed)",
         f"{len(now_misses.missed)} of {now_misses.said}", f"{len(before_misses.missed)} of {before_misses.said}"),
    ]
    settings = {"commands": args.commands, "trials": args.trials, "idle_seconds": args.idle_seconds,
                "room_dbfs": ROOM_DBFS, "reply_gaps": list(REPLY_GAPS), "baseline": BASELINE_COMMIT,
                "voice": "natural, sentences prepared beforehand; baseline espeak-ng"}
    with published("loop", settings, save=(args.commands, args.trials, args.idle_seconds) == (30, 6, 60.0)) as figures:
        figures.update({"latencies_s": {"now": now, "before": before},
                        "reply_sweep": {version: {f"{gap:g}": runs for gap, runs in sweep.items()}
                                        for version, sweep in (("now", now_sweep), ("before", before_sweep))},
                        "cpu_percent": {"gate": app_cpu, "no_gate": ungated_cpu, "bare_capture": bare_cpu},
                        "peak_rss_mb": {"now": now_rss, "before": before_rss, "bare_capture": bare_rss},
                        "ready_s": ready, "model_alone_s": model_seconds, "first_answer_s": answered,
                        "voice_prepare_s": prepare_seconds,
                        "not_acted_on": {version: {"lines": misses.said, "missed": misses.missed}
                                         for version, misses in (("now", now_misses), ("before", before_misses))}})
        print(f"Audio loop on PulseAudio virtual devices, pink room noise at {ROOM_DBFS:.0f} dBFS on the microphone "
              f"throughout: {len(now)} answers and {args.trials} replies per gap for each version, "
              f"{args.idle_seconds:.0f} s for each CPU figure. The current version speaks in the natural voice "
              f"from sentences prepared beforehand ({prepare_seconds:.0f} s); the baseline in espeak-ng.\n")
        print(f"| measure | voicerelief run | baseline, same run (answers, replies and RSS: version {BASELINE_COMMIT}) |")
        print("| --- | ---: | ---: |")
        for name, ours, baseline in rows:
            print(f"| {name} | {ours} | {baseline} |")
        print("\nReplies to \"I heard 1. Is that right?\", aimed at a gap after its last sound (negative: talking over "
              "its end); the gap as measured from that last sound on the speaker's monitor to the reply's first on "
              "the microphone's.\n")
        print("| version | aimed gap | measured gap, mean (range) | acted on |")
        print("| --- | ---: | ---: | ---: |")
        for version, sweep in (("now", now_sweep), (f"{BASELINE_COMMIT} (before)", before_sweep)):
            for gap, runs in sweep.items():
                gaps = [measured for measured, _ in runs]
                print(f"| {version} | {gap:+.1f} s | {np.mean(gaps):+.2f} s ({min(gaps):+.2f} to {max(gaps):+.2f}) | "
                      f"{sum(heard for _, heard in runs)} of {len(runs)} |")

if __name__ == "__main__":
    main()
