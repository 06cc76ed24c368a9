"""`voicerelief run` end to end on real audio: a PulseAudio virtual microphone and speaker."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audio_rig import AudioRig, RunningApp
from harness import FIRST_SAFETY_QUESTIONS, LATER_SAFETY_QUESTIONS



@pytest.fixture
def app(rig, tmp_path):
    running = RunningApp(rig, tmp_path / "data")
    yield running
    running.stop()


def answer(rig: AudioRig, app: RunningApp, line: str, expect: str, timeout: float = 60.0) -> float:
    """Wait for the app to finish talking, say ``line``, and wait for ``expect`` to be said."""
    app.wait_until_done_talking(rig)
    began, _ = rig.speak(line)
    return app.wait_for(expect, after=began, timeout=timeout)


def episode_begun_yesterday(data: Path) -> Path:
    """An episode begun yesterday by typing: a spoken session in it is a later one, with the short safety check."""
    typed = ["start"] + ["no"] * FIRST_SAFETY_QUESTIONS + ["this morning", "seven", "yes", "stop", "yes"]
    subprocess.run([sys.executable, "-m", "voicerelief", "run", "--text", "--quiet", "--data-dir", str(data)],
                   input="\n".join(typed) + "\n", capture_output=True, text=True, timeout=120, check=True)
    return data


@pytest.fixture
def app_in_a_known_episode(rig, tmp_path):
    running = RunningApp(rig, episode_begun_yesterday(tmp_path / "data"))
    yield running
    running.stop()


def walk_a_short_flow(rig: AudioRig, app: RunningApp) -> int:
    """From the ready line to the time left on the ice, each answer said once; returns how many were said.

    A lost answer fails, with what the app logged around it. Each is waited for less than the 20 s after which an
    unanswered question is asked again, which a "?" would also match.
    """
    replies = 0

    def reply(line: str, expect: str) -> None:
        nonlocal replies
        replies += 1
        try:
            answer(rig, app, line, expect, timeout=15)
        except AssertionError as lost:
            raise AssertionError(f"no answer to {line!r}; the app's last log lines:\n  "
                                 + "\n  ".join(app.errors[-16:])) from lost

    app.wait_for("Say hey relief to begin")
    reply("hey relief start", "First, a quick safety check")
    for number in range(LATER_SAFETY_QUESTIONS - 1):
        reply("no", "?")
    reply("no", "how bad is the pain")
    # Ten is always confirmed (a score often heard in place of another), however sure the recognizer is.
    reply("ten", "I heard 10. Is that right?")
    reply("yes", "Lie in the position that hurts least")
    reply("start ice", "Wrap an ice pack")
    reply("ready", "Ice is on")
    # In whole minutes, the nearest: seconds after the ice went on, 20 are left.
    reply("how much time is left", "The ice has 20 minutes to go.")
    said = app.said()
    order = ["First, a quick safety check", "how bad is the pain", "I heard 10", "Wrap an ice pack",
             "Ice is on", "The ice has 20 minutes"]
    positions = [next(i for i, line in enumerate(said) if fragment in line) for fragment in order]
    assert positions == sorted(positions)
    assert not any("did not catch" in line for line in said)
    return replies


def test_it_answers_aloud_in_order_and_walks_a_short_flow(rig, app_in_a_known_episode):
    ready = time.monotonic()
    walk_a_short_flow(rig, app_in_a_known_episode)
    assert rig.loud_between(ready, time.monotonic()) > 0.2, "the answers were heard on the speaker"


def test_without_the_wake_phrase_nothing_starts(rig, app, tmp_path):
    app.wait_for("Say hey relief to begin")
    app.wait_until_done_talking(rig)
    rig.speak("start")
    app.wait_for_log("ignored 'start': not after the wake phrase")
    assert not any("safety questions" in line for line in app.said())
    answer(rig, app, "hey relief", "Yes? Say start")
    answer(rig, app, "start", "First, some safety questions")
    assert not (tmp_path / "data" / "recordings").exists(), "no audio is kept unless asked"


def test_record_audio_keeps_what_was_heard_privately(rig, tmp_path):
    recording = RunningApp(rig, tmp_path / "data", "--record-audio")
    try:
        recording.wait_for("Say hey relief to begin")
        answer(rig, recording, "hey relief start", "First, some safety questions")
    finally:
        recording.stop()
    kept = sorted((tmp_path / "data" / "recordings").glob("*.wav"))
    assert [path.name.split("-", 3)[-1] for path in kept] == ["hey-relief-start.wav"]
    assert kept[0].stat().st_mode & 0o777 == 0o600 and kept[0].stat().st_size > 10_000


def test_a_reply_right_after_a_question_is_heard(rig, app):
    """People answer a yes/no question about 0.2 s after it ends: that answer must not be cut."""
    app.wait_for("Say hey relief to begin")
    answer(rig, app, "hey relief start", "First, some safety questions")
    app.wait_until_done_talking(rig)
    first_question = app.said()[-1]
    began, onset_delay, words_ended = rig.speak_timed("repeat")
    app.wait_for(first_question, after=began)
    question_began, question_ended = rig.sound_span_after(words_ended)
    app.wait_until_done_talking(rig)
    began, _, words_ended = rig.speak_timed("repeat")
    app.wait_for(first_question, after=began)
    while (first := rig.first_sound_after(words_ended)) is None:
        time.sleep(0.005)
    sent, gap = rig.reply_after(first, question_ended - question_began, 0.2, onset_delay, "no")
    assert 0.1 <= gap <= 0.35, f"the reply began {gap:.2f} s after the question"
    next_question = app.wait_for("?", after=sent + 0.3)
    assert [line for at, line in app.lines if at >= next_question][0].split("Relief: ")[1] != first_question


def check_it_does_not_react_to_its_own_voice(rig: AudioRig, app: RunningApp) -> None:
    """From the first safety question on, with the speaker looped into the microphone."""
    answer(rig, app, "hey relief start", "First, some safety questions")
    rig.loop_speaker_into_microphone(True)
    try:
        app.wait_until_done_talking(rig)
        asked = len(app.said())
        # The question is repeated aloud ("repeat"), and it hears all of it through the loop.
        began, _ = rig.speak("repeat")
        app.wait_for("?", after=began)
        app.wait_until_done_talking(rig)
        heard_itself = app.said()[asked + 1:]
        assert heard_itself == [], f"it reacted to its own voice: {heard_itself}; log: {app.errors[-8:]}"
        # Then the person answers, and it says only the next question: a late reaction to its own voice,
        # after the wait above, would come before that question or beside it.
        before_answer = len(app.said())
        began, _ = rig.speak("no")
        app.wait_for("?", after=began)
        app.wait_until_done_talking(rig)
        after_answer = app.said()[before_answer:]
        assert len(after_answer) == 1 and after_answer[0].endswith("?"), \
            f"more than the next question: {after_answer}; log: {app.errors[-8:]}"
    finally:
        rig.loop_speaker_into_microphone(False)


def test_its_ready_line_leaking_into_the_microphone_is_never_listened_to(rig, tmp_path):
    """The ready line is said while the microphone is open but not yet read: what it captured meanwhile
    waits in the queue, and must be judged by when it was captured, not when it is read."""
    rig.loop_speaker_into_microphone(True, leak_db=0.0)
    app = RunningApp(rig, tmp_path / "data")
    try:
        app.wait_for("Say hey relief to begin")
        answer(rig, app, "hey relief start", "not a doctor")
        # Blocks are read in order: all the ready line left in the queue was read before the person's words.
        before_the_person = app.errors[:next(index for index, line in enumerate(app.errors)
                                             if "heard 'hey relief start'" in line)]
        own_voice = [line for line in before_the_person if "heard '" in line]
        voices = [line for line in before_the_person if "a voice began" in line]
        assert own_voice == [] and len(voices) == 1, f"it listened to its own ready line: {own_voice or voices}"
    finally:
        app.stop()
        rig.loop_speaker_into_microphone(False)


def test_it_does_not_react_to_its_own_voice(rig, app):
    app.wait_for("Say hey relief to begin")
    check_it_does_not_react_to_its_own_voice(rig, app)


def test_stop_cuts_its_speech_short(rig, app):
    """With the microphone isolated from the speaker. With its own voice leaking in, "stop" is often missed over it
    (docs/design.md, barge-in; bench/barge_in.py measures it, with and without the sound server's echo canceller)."""
    app.wait_for("Say hey relief to begin")
    app.wait_until_done_talking(rig)
    rig.speak("hey relief start")
    started = app.wait_for("not a doctor")
    # The disclaimer, the introduction and the first question take about 15 seconds to say.
    time.sleep(2.5)
    _, stop_ended = rig.speak("stop")
    asked = app.wait_for("Do you want to end this session?", after=started)
    # Cut: the question is printed only once the speech it cut short has stopped playing.
    assert asked - stop_ended < 2.0, "the speech stopped soon after the word"
    assert asked - started < 10, "the rest of the introduction was not spoken"
    answer(rig, app, "no", "All right, we carry on.")
    app.wait_for("wet or soiled", after=asked)


def test_the_session_survives_the_sound_server_restarting(rig, app):
    app.wait_for("Say hey relief to begin")
    answer(rig, app, "hey relief start", "First, some safety questions")
    app.wait_until_done_talking(rig)
    asked = app.said()[-1]
    rig.restart(down_seconds=1.0)
    app.wait_for("The microphone is back", timeout=40)
    answer(rig, app, "no", "?")
    said = app.said()
    assert said[-1] != asked and said[-1].endswith("?")
    assert app.process.poll() is None


LOGS_WHILE_PORTAUDIO_STARTS = """
import logging, sys, threading
logging.basicConfig(format="%(message)s", level=logging.INFO)
from voicerelief.devices import portaudio, rescan
done = threading.Event()
def log_lines():
    number = 0
    while not done.is_set():
        logging.getLogger("other").info("line %d", number)
        number += 1
    logging.getLogger("other").info("last %d", number - 1)
other = threading.Thread(target=log_lines)
other.start()
portaudio()
for _ in range(5):
    rescan()
done.set()
other.join()
"""


def test_lines_logged_while_portaudio_starts_are_kept(rig):
    # sounddevice sends stderr to /dev/null while PortAudio starts: the log of the natural voice loading was lost.
    result = subprocess.run([sys.executable, "-c", LOGS_WHILE_PORTAUDIO_STARTS], env=rig.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-500:]
    lines = result.stderr.splitlines()
    last = int(lines[-1].removeprefix("last "))
    assert [line for line in lines if line.startswith("line ")] == [f"line {n}" for n in range(last + 1)]


def test_devices_lists_and_marks_the_chosen_ones(rig):
    result = subprocess.run([sys.executable, "-m", "voicerelief", "devices", "--input-device", "pulse"],
                            env=rig.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    marked = [line for line in result.stdout.splitlines() if line.startswith("*")]
    assert any("pulse" in line and "chosen input" in line for line in marked)
    assert all("Hz" in line for line in result.stdout.splitlines())


def test_doctor_checks_every_part(rig, tmp_path):
    env = {name: value for name, value in rig.env.items() if name not in ("LC_ALL", "LC_MESSAGES")}
    env.update(VOICERELIEF_CONFIG=str(tmp_path / "config.toml"), LANG="en_GB.UTF-8")
    result = subprocess.run([sys.executable, "-m", "voicerelief", "doctor", "--input-device", "pulse",
                             "--output-device", "pulse", "--data-dir", str(tmp_path / "d")],
                            env=env, capture_output=True, text=True, timeout=120)
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "OK  model", "OK  text-to-speech", "OK  microphone", "OK  speaker", "OK  echo cancellation", "OK  data folder",
        "OK  numbers to call", "OK  carers to alert"]
    assert lines[4].startswith("OK  echo cancellation: off in the settings"), lines[4]
    assert lines[-2].endswith("emergency 999, non-emergency medical line 111 (the United Kingdom, from the "
                              "system's locale)")
    assert "no carer is set up" in lines[-1]
    assert "dBFS" in lines[2]
    assert result.returncode == 0


def test_doctor_says_what_to_fix_without_a_sound_server(tmp_path):
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent/pulse"}
    result = subprocess.run([sys.executable, "-m", "voicerelief", "doctor", "--data-dir", str(tmp_path / "d")],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert any(line.startswith("FIX microphone:") and "voicerelief run --text" in line
               for line in result.stdout.splitlines())
