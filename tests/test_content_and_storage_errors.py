"""Broken content files and unusable data files: one clear error, and nothing lost."""

import os
from contextlib import closing
import sqlite3
import subprocess
import sys

import pytest

from harness import Harness
from voicerelief.errors import ContentError
from voicerelief.prompts import content_path
from voicerelief.protocol import load_timings
from voicerelief.routine import load_routine
from voicerelief.store import DATABASE_NAME, Store, StoreError

ROUTINE = content_path("routine.toml").read_text()
PROTOCOL = content_path("protocol.toml").read_text()


def voicerelief(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicerelief", *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("change, key, problem", [
    (("[[stretch]]", "[[stretch]"), "", "not valid TOML"),
    (('name = "back flattening"', ""), "stretch[2].name", "non-empty"),
    (("hold_seconds = 5\nreps = 8", "hold_seconds = 0\nreps = 8"), "stretch[2].hold_seconds", "from 3 to 120"),
    (("hold_seconds = 5\nreps = 8", "hold_seconds = 10800\nreps = 8"), "stretch[2].hold_seconds", "from 3 to 120"),
    (("reps = 8", 'reps = "eight"'), "stretch[2].reps", "whole number"),
    (('sides = ["left", "right"]\nrest_seconds = 10', 'sides = ["up"]\nrest_seconds = 10'),
     "stretch[3].sides", "'left' and 'right'"),
    (("reps = 8", "reps = 8\ncolour = \"blue\""), "stretch[2].colour", "not a stretch setting"),
    (('avoid_with = ["pregnant"]', 'avoid_with = ["tall"]'), "stretch[1].avoid_with", "caution questions"),
])
def test_a_bad_routine_names_file_key_and_problem(tmp_path, change, key, problem):
    bad = tmp_path / "routine.toml"
    assert change[0] in ROUTINE
    bad.write_text(ROUTINE.replace(change[0], change[1], 1))
    with pytest.raises(ContentError) as caught:
        load_routine(bad)
    assert caught.value.file == str(bad) and caught.value.key == key and problem in str(caught.value)


@pytest.mark.parametrize("change, key", [
    (("on_minutes = 20", "on_minutes = 90"), "ice.on_minutes"),
    (("on_minutes = 20", "on_minutes = 21"), "ice.on_minutes"),
    (("minutes = 15", "minutes = 45"), "heat.minutes"),
    (("off_minutes = 20", ""), "ice.off_minutes"),
    (("window_hours = 72", "window_hours = 72\nfreeze = true"), "ice.freeze"),
])
def test_unsafe_timings_are_refused(tmp_path, change, key):
    bad = tmp_path / "protocol.toml"
    bad.write_text(PROTOCOL.replace(*change, 1))
    with pytest.raises(ContentError) as caught:
        load_timings(bad)
    assert caught.value.key == key


def test_ice_over_twenty_minutes_says_why(tmp_path):
    bad = tmp_path / "protocol.toml"
    bad.write_text(PROTOCOL.replace("on_minutes = 20", "on_minutes = 90"))
    with pytest.raises(ContentError, match="never left on for more than 20 minutes"):
        load_timings(bad)


def test_the_command_line_refuses_a_bad_routine_in_one_sentence(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text(ROUTINE.replace("hold_seconds = 20", "hold_seconds = 0", 1))
    result = voicerelief("run", "--text", "--quiet", "--data-dir", str(tmp_path / "d"), "--routine", str(bad),
                         stdin="start\n")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert str(bad) in result.stderr and "hold_seconds" in result.stderr


def test_a_users_own_routine_is_used(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('[[stretch]]\nname = "ankle circles"\nsteps = ["Circle one ankle slowly."]\n'
                    'hold_seconds = 10\nreps = 1\nsides = []\nrest_seconds = 0\n')
    run = Harness(tmp_path / "d", routine=mine)
    run.first_session_to_rest()
    assert "Next stretch: ankle circles." in run.say("stretches")


def test_a_corrupt_database_is_refused_and_left_untouched(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    database = data / DATABASE_NAME
    garbage = b"this is not a database" * 100
    database.write_bytes(garbage)
    with pytest.raises(StoreError, match="damaged"):
        Store(data)
    assert database.read_bytes() == garbage


def test_a_locked_database_is_a_clear_error_and_loses_nothing(tmp_path):
    run = Harness(tmp_path / "data")
    run.first_session_to_rest()
    run.store.close()
    holder = sqlite3.connect(tmp_path / "data" / DATABASE_NAME, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="in use by another program"):
            Harness(tmp_path / "data")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    again = Harness(tmp_path / "data")
    assert again.state == "rest"
    assert [r["score"] for r in again.records("pain")] == [7]


def test_data_files_are_private(tmp_path):
    Harness(tmp_path / "data")
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "data" / DATABASE_NAME).stat().st_mode & 0o777 == 0o600


def test_every_step_is_committed_before_it_is_spoken(tmp_path):
    data = tmp_path / "data"
    seen_on_disk: list[int] = []

    class Watching(Harness):
        def _open(self) -> None:
            super()._open()
            original = self.runner.speak

            def speak(effect):
                with closing(sqlite3.connect(data / DATABASE_NAME)) as reader:
                    seen_on_disk.append(reader.execute("SELECT count(*) FROM events WHERE kind = 'pain'").fetchone()[0])
                original(effect)
            self.runner.speak = speak

    run = Watching(data)
    run.first_session_to_rest()
    assert seen_on_disk[-1] == 1, "the pain score was on disk when the rest advice was spoken"
    assert os.path.exists(data / DATABASE_NAME)
