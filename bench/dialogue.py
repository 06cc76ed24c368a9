"""Dialogue bench: the real session asks its questions, and recordings answer, close up and across a room.

For each recording of a digit, the session is put at the pain question; for each recording of "yes"
and "no", at the first safety question. The "person" answers with that recording. The sound goes
through the room (``voicerelief.rooms``, the seeded rooms of ``bench/far_field.py``; ``none``: close
up, the recording in quiet room noise), the real voice gate, level normaliser and recognizer with the
grammar the session listens with at that moment, and what was heard reaches the session as the app
turns it into an event (``app.heard_event``); nothing heard at all is the silence timer firing. When
the session asks again, the person answers with *another* recording of the same word by the same
speaker where one exists (else the same one, in fresh room noise), never louder or clearer; asked to
confirm, the person says yes or no truthfully (a "yes" or "no" recording of the shared set, in
turn); offered words instead of a number, the word for that score (no pain 0, mild 1-3, moderate 4-6,
severe 7-10), scored right when it names the band of the digit meant. There are no recordings of
those words: they are synthesized by espeak-ng, in an accent picked by the speaker, at the level of
the speaker's own recording, which flatters them; docs/measurements.md says so beside the figures.

Each version runs in a process of its own: now, and the version before issue 26 (``BEFORE_COMMIT``,
its own code from a git worktree), on the same recordings, in the same run. Now runs twice: once
with a person who takes up the words offered, once with one who keeps to numbers (real recordings
only); the second gives ``pain_right_within_two_saying_numbers``.

Writes bench/results/dialogue.json (stamped with the commit); the last line printed
is one JSON object with the figures of now.
Run: .venv/bin/python bench/dialogue.py [--room NAME|none|all] [--data FOLDER ...] [--every N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import zlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import numpy as np
from baseline import commit_source
from stamp import result_stamp

# The last commit before issue 26: its session, on the same recordings.
BEFORE_COMMIT = "3e435b9"
REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MOST_ASKS = 8
SAYING_NUMBERS = "pain_right_within_two_saying_numbers"
CLOSE_UP = "none"
NOW = datetime(2026, 3, 2, 9, 0, 0)
# Accents and speeds for the words of the pain scale: a different one per speaker, none of them the
# assistant's own voice (en-us at its default speed).
WORD_VOICES = ("en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
               "en-us+f3", "en-gb+f2", "en-us+m3")
WORD_SPEEDS = (135, 150, 165, 180)


@dataclass(frozen=True)
class Recording:
    path: Path
    word: str
    speaker: str


@dataclass
class Outcome:
    """One answer the person meant, and what the session made of it."""

    meant: str
    stored: str | None
    tries: int
    asks: int


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)


def recordings(folders: list[Path]) -> dict[str, list[Recording]]:
    """By word: Speech Commands (``speech-commands*/<word>/<speaker>_nohash_<n>.wav``) and the spoken-digit
    set (``spoken-digits*/<digit>_<speaker>_<n>.wav``)."""
    found: dict[str, list[Recording]] = defaultdict(list)
    for folder in folders:
        for commands in sorted(folder.glob("speech-commands*")):
            for word in ("yes", "no", *DIGIT_WORDS):
                for path in sorted((commands / word).glob("*.wav")):
                    # Named <speaker>_nohash_<n>.wav, or with the word before: <word>_<speaker>_nohash_<n>.wav.
                    speaker = path.name.split("_nohash_")[0].split("_")[-1]
                    found[word].append(Recording(path, word, speaker))
        for digits in sorted(folder.glob("spoken-digits*")):
            for path in sorted(digits.glob("*.wav")):
                digit, speaker, _ = path.stem.split("_", 2)
                found[DIGIT_WORDS[int(digit)]].append(Recording(path, DIGIT_WORDS[int(digit)], speaker))
    return found


def band(score: int) -> str:
    return "no pain" if score == 0 else "mild" if score <= 3 else "moderate" if score <= 6 else "severe"


class Ear:
    """The real listening path for one room: the voice gate, the level normaliser and the recognizer."""

    def __init__(self, room_name: str) -> None:
        from voicerelief.commands import load_phrase_table
        from voicerelief.models import find_model
        from voicerelief.recognizer import load_model
        from voicerelief.rooms import ROOMS

        self.table = load_phrase_table()
        self.model = load_model(find_model(), self.table)
        self.room = None if room_name == CLOSE_UP else next(room for room in ROOMS if room.name == room_name)

    def hear(self, speech, intents: frozenset[str], seed: int):
        from voicerelief.evaluation import in_room
        from voicerelief.front_end import LevelSettings
        from voicerelief.recognizer import CommandRecognizer
        from voicerelief.rooms import RATE, far_field
        from voicerelief.voice_gate import GateSettings, VoiceGate

        if self.room is None:
            stream, rate = in_room(speech, seed), speech.rate
        else:
            stream, rate = far_field(speech.samples, speech.rate, self.room, seed), RATE
        grammar = self.table.restricted_to(intents)
        return CommandRecognizer(self.model, grammar, rate, VoiceGate(rate, GateSettings()),
                                 LevelSettings()).recognize_stream(stream)


class Person:
    """Says what they mean: a recording of it, another take when asked again, yes or no when asked to confirm."""

    def __init__(self, takes: dict[str, list[Recording]], keeps_to_numbers: bool) -> None:
        self.takes = takes
        # Offered words for a score, says the number again all the same.
        self.keeps_to_numbers = keeps_to_numbers
        self._confirmations = {"yes": 0, "no": 0}

    def take(self, recording: Recording, attempt: int) -> Recording:
        same = [r for r in self.takes[recording.word] if r.speaker == recording.speaker]
        others = [r for r in same if r != recording]
        return recording if attempt == 0 or not others else others[(attempt - 1) % len(others)]

    def in_words(self, word: str, first: Recording, attempt: int):
        """The word for a score, synthesized in a voice picked by the speaker (no recordings of these words
        exist), slower or faster each time, at the level of the speaker's own first recording, never louder."""
        from voicerelief.audio_file import Speech, read_speech
        from voicerelief.synthesize import synthesize

        pick = zlib.crc32(first.speaker.encode())
        voice = WORD_VOICES[pick % len(WORD_VOICES)]
        said = synthesize(word, voice, WORD_SPEEDS[(pick + attempt) % len(WORD_SPEEDS)])
        own = _speech_level(read_speech(first.path).samples)
        gain = min(1.0, own / max(_speech_level(said.samples), 1.0))
        return Speech((said.samples * gain).astype(np.int16), said.rate)

    def confirmation(self, answer: str) -> Recording:
        pool = self.takes[answer]
        index = self._confirmations[answer]
        self._confirmations[answer] += 1
        return pool[index % len(pool)]


def _speech_level(samples: np.ndarray) -> float:
    """Root mean square of the loudest tenth of 20 ms frames: the level of the voice, not of the pauses."""
    frame = 320
    frames = samples[: len(samples) // frame * frame].astype(np.float64).reshape(-1, frame)
    levels = np.sort(np.sqrt(np.mean(frames**2, axis=1)))
    return float(np.mean(levels[-max(1, len(levels) // 10):]))


def converse(session, ear: Ear, person: Person, first: Recording, seed: int, *, question_states: set[str],
             meant_yes: bool | None = None, meant_score: int | None = None) -> Outcome:
    """Answer the session's questions until it stores an answer (or asks ``MOST_ASKS`` times)."""
    from voicerelief.app import heard_event
    from voicerelief.audio_file import read_speech
    from voicerelief.session import Record, TimerFired

    now = NOW
    tries = asks = 0
    records: list = []
    while asks < MOST_ASKS:
        asks += 1
        memory = session.memory
        confirming = session.state.startswith("confirm") or bool(memory.confirming_flag)
        if confirming:
            speech = read_speech(person.confirmation("yes" if _heard_right(memory, meant_score, meant_yes) else "no")
                                 .path)
        elif session.state.startswith("painWords") and not person.keeps_to_numbers:
            speech = person.in_words(band(meant_score or 0), first, tries)
            tries += 1
        else:
            speech = read_speech(person.take(first, tries).path)
            tries += 1
        heard = ear.hear(speech, session.listening_for(), seed * 31 + asks)
        now += timedelta(seconds=15)
        event = heard_event(heard) if heard.text else TimerFired("silence", now)
        effects = session.handle(event, now)
        records += [e for e in effects if isinstance(e, Record)]
        stored = _stored(session, records, meant_score is not None, question_states)
        if stored is not None:
            return Outcome("yes" if meant_yes else "no" if meant_yes is not None else str(meant_score),
                           stored, tries, asks)
    return Outcome("yes" if meant_yes else "no" if meant_yes is not None else str(meant_score), None, tries, asks)


def _heard_right(memory, meant_score: int | None, meant_yes: bool | None) -> bool:
    """Whether what the session asks to confirm is what the person meant (a word: its band)."""
    if meant_score is None:
        return bool(meant_yes)
    word = getattr(memory, "pending_word", "")
    return word == band(meant_score) if word else memory.pending_score == meant_score


def _stored(session, records: list, pain: bool, question_states: set[str]) -> str | None:
    """What the session has written down, once it has moved on: a score, or yes / not sure / no."""
    if pain:
        if session.state in question_states:
            return None
        score = session.memory.pain_before
        if score is None:
            return None
        words = [r for r in records if r.kind == "pain" and r.data.get("scale") == "words"]
        return f"words:{score}" if words else str(score)
    flags = [r.data for r in records if r.kind == "red_flag"]
    if session.state == "urgent" and flags:
        return {"yes": "yes", "not sure": "not sure", "no answer": "yes"}.get(flags[-1].get("answer"), "yes")
    if session.memory.red_flag > 0 and not session.memory.confirming_flag:
        return "no"
    return None


def measure(room: str, folders: list[str], every: int, keeps_to_numbers: bool) -> dict:
    """Runs in a process of the version measured: every answer in one room."""
    from voicerelief.app import load_content
    from voicerelief.session import Memory, Session

    content = load_content()
    ear = Ear(room)
    takes = recordings([Path(f) for f in folders])
    person = Person(takes, keeps_to_numbers)
    first_question = next(q for q in content.red_flags if q.asked == "first")

    def session(memory: Memory) -> Session:
        return Session(content.prompts, content.timings, content.routine, content.table, content.red_flags,
                       content.numbers, memory)

    pain: list[Outcome] = []
    digits = [r for word in DIGIT_WORDS for r in takes[word]][::every]
    for seed, recording in enumerate(digits):
        memory = Memory(state="painBefore", episode=1, onset=(NOW - timedelta(days=1)).isoformat(),
                        last_session=NOW.isoformat(), screening="first", last_prompt=content.prompts.say(
                            "session.pain_before"))
        outcome = converse(session(memory), ear, person, recording, seed,
                           question_states={"painBefore", "confirmPainBefore", "painWordsBefore"},
                           meant_score=DIGIT_WORDS.index(recording.word))
        pain.append(outcome)
    yes_no: list[Outcome] = []
    for seed, recording in enumerate([r for word in ("yes", "no") for r in takes[word]][::every]):
        memory = Memory(state="redFlags", episode=1, last_session=NOW.isoformat(), screening="first", red_flag=0,
                        last_prompt=first_question.ask)
        yes_no.append(converse(session(memory), ear, person, recording, 1000 + seed, question_states={"redFlags"},
                               meant_yes=recording.word == "yes"))
    return {"pain": [o.__dict__ for o in pain], "yes_no": [o.__dict__ for o in yes_no]}


def figures(result: dict) -> dict:
    pain = result["pain"]
    yes_no = result["yes_no"]

    def pain_right(o: dict) -> bool:
        stored = o["stored"]
        if stored is None:
            return False
        if stored.startswith("words:"):
            return band(int(stored.split(":")[1])) == band(int(o["meant"]))
        return int(stored) == int(o["meant"])

    yes = [o for o in yes_no if o["meant"] == "yes"]
    no = [o for o in yes_no if o["meant"] == "no"]
    return {
        "pain_right_within_two": _share(sum(pain_right(o) and o["tries"] <= 2 for o in pain), len(pain)),
        "pain_wrong_stored": _share(sum(o["stored"] is not None and not pain_right(o) for o in pain), len(pain)),
        "pain_asks_mean": _share(sum(o["asks"] for o in pain), len(pain)),
        # The person had to say the score (or its word) more than once; a "yes" to a confirmation is not a retry.
        "pain_said_again": _share(sum(o["tries"] >= 2 for o in pain), len(pain)),
        "yes_right_within_two": _share(sum(o["stored"] == "yes" and o["tries"] <= 2 for o in yes), len(yes)),
        "no_right_within_two": _share(sum(o["stored"] == "no" and o["tries"] <= 2 for o in no), len(no)),
        "yes_stored_as_no": sum(o["stored"] == "no" for o in yes),
        "no_stored_as_yes": sum(o["stored"] in ("yes", "not sure") for o in no),
        "yes_no_asks_mean": _share(sum(o["asks"] for o in yes_no), len(yes_no)),
        "answers": len(pain) + len(yes_no),
    }


def _share(part: float, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


@contextlib.contextmanager
def version_source(version: str, work: Path) -> Iterator[Path]:
    """The ``src`` folder of the version measured: this tree for now, a worktree for before."""
    if version == "now":
        yield REPOSITORY / "src"
        return
    with commit_source(BEFORE_COMMIT, work / "before") as source:
        yield source


def run_version(version: str, room: str, folders: list[str], every: int, work: Path) -> dict:
    """One version in one room, in a process of its own; version "numbers" is now, answered only in numbers."""
    from voicerelief.models import ENVIRONMENT_VARIABLE, find_model

    # A worktree has no model folder of its own: both versions hear with the model of this checkout.
    model = find_model()
    source_version = "before" if version == "before" else "now"
    with version_source(source_version, work / version / room.replace(" ", "_").replace(",", "")) as source:
        environment = {**os.environ, "PYTHONPATH": f"{source}{os.pathsep}{Path(__file__).parent}",
                       ENVIRONMENT_VARIABLE: str(model)}
        command = [sys.executable, __file__, "--measure", "--room", room, "--every", str(every), "--data", *folders,
                   *(["--numbers"] if version == "numbers" else [])]
        done = subprocess.run(command, capture_output=True, text=True, env=environment, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--room", default="all", help="a room of voicerelief.rooms, 'none' (close up) or 'all'")
    parser.add_argument("--data", nargs="+", help="folders laid out as ../shared/data (default: that one)")
    parser.add_argument("--every", type=int, default=1, help="every Nth recording only")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--numbers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.room, args.data, args.every, args.numbers)))
        return
    from voicerelief.evaluation import shared_data_dir
    from voicerelief.rooms import ROOMS

    folders = [str(Path(f).resolve()) for f in (args.data or [shared_data_dir()])]
    rooms = [CLOSE_UP, *(room.name for room in ROOMS)] if args.room == "all" else [args.room]
    jobs = [(version, room) for room in rooms for version in ("before", "now", "numbers")]
    with tempfile.TemporaryDirectory() as work, ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(jobs, pool.map(lambda job: run_version(*job, folders, args.every, Path(work)), jobs)))
    table = {room: {version: figures(results[(version, room)]) for version in ("before", "now")} for room in rooms}
    for room in rooms:
        # The words are synthesized and so flatter; a person who keeps to numbers hears only real recordings.
        table[room]["now"][SAYING_NUMBERS] = figures(results[("numbers", room)])["pain_right_within_two"]
        table[room]["before"][SAYING_NUMBERS] = table[room]["before"]["pain_right_within_two"]
    names = list(next(iter(table.values()))["now"])
    lines = [f"Dialogue bench: the real session answered by recordings ({', '.join(folders)}, every {args.every}); "
             f"before = {BEFORE_COMMIT}, in the same run.", "",
             "| room | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for room, versions in table.items():
        label = "close up" if room == CLOSE_UP else room
        cells = [f"{versions['now'][name]} (before {versions['before'][name]})" for name in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    stamp = {**result_stamp("dialogue"),
             "settings": {"every": args.every, "data": folders, "before": BEFORE_COMMIT}}
    if args.room == "all" and not args.data:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "dialogue.json").write_text(json.dumps({**stamp, "rooms": table}, indent=1) + "\n")
    now = {room: versions["now"] for room, versions in table.items()}
    print(json.dumps(now[rooms[0]] if len(rooms) == 1 else now))


if __name__ == "__main__":
    main()
