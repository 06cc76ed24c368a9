"""Nothing lost under crashes and bad input: kills, crash snapshots, fuzzing, full and read-only disks, no network."""

import json
import os
from contextlib import closing, contextmanager
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import FIRST_SAFETY_QUESTIONS, Harness
from voicerelief.commands import load_phrase_table
from voicerelief.errors import ContentError
from voicerelief.protocol import load_timings
from voicerelief.routine import load_routine
from voicerelief.session import Memory
from voicerelief.store import DATABASE_NAME, StoreError

# The first days' answers, with the pain score misheard and corrected ten times, so that there are more than
# fifty committed steps to land a kill among.
SCRIPT = ["start"] + ["no"] * FIRST_SAFETY_QUESTIONS + ["yesterday"] + ["seven", "no"] * 10 + [
    "seven", "yes", "ready", "ice", "ready", "how much time is left", "ice off", "no", "time left",
    "pause", "resume", "six"]


def voicerelief(*args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicerelief", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def check_consistent(data: Path) -> Memory:
    """The promises after any crash: intact file, memory equal to the last committed step, nothing lost."""
    with closing(sqlite3.connect(data / DATABASE_NAME)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT at, kind, data FROM events ORDER BY id").fetchall()
        saved = db.execute("SELECT data FROM memory").fetchone()
        timers = {name for (name,) in db.execute("SELECT name FROM timers")}
    if saved is None:
        assert rows == []
        return Memory()
    memory = Memory.from_dict(json.loads(saved[0]))
    transitions = [json.loads(data)["to"] for _, kind, data in rows if kind == "transition"]
    if transitions:
        assert memory.state == transitions[-1], "the restored state is the last committed one"
    pains = [json.loads(data)["score"] for _, kind, data in rows if kind == "pain"]
    assert [score for _, score in memory.pains] == pains, "no pain score lost"
    if memory.state == "iceOn":
        assert "ice_due" in timers, "no ice timer forgotten"
    once = [(at, kind, data) for at, kind, data in rows if kind in ("pain", "ice_on", "ice_off", "episode_start")]
    assert len(once) == len(set(once)), "no event duplicated"
    return memory


def committed_events(data: Path) -> int:
    with closing(sqlite3.connect(data / DATABASE_NAME)) as db:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def _stop(process: subprocess.Popen) -> None:
    """SIGSTOP, returning once the process really is stopped (the signal is delivered asynchronously)."""
    process.send_signal(signal.SIGSTOP)
    stat = Path(f"/proc/{process.pid}/stat")
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "T":
        time.sleep(0.0001)


def _writing(db: sqlite3.Connection) -> bool:
    """Whether another process surely holds SQLite's write lock, that is, has a write transaction open.
    (Frozen halfway through updating the WAL's shared index, it makes the probe fail with "locking
    protocol" instead: that is not counted.)"""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        assert str(error) in ("database is locked", "locking protocol"), error
        return str(error) == "database is locked"
    db.execute("ROLLBACK")
    return False


def _committed_so_far(db: sqlite3.Connection, known: int) -> int:
    """The committed events, or what was known before when the process froze halfway through updating
    the WAL's shared index (a reader is then told to wait)."""
    try:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    except sqlite3.OperationalError as error:
        assert str(error) in ("database is locked", "locking protocol"), error
        return known


def test_fifty_kills_at_random_points_lose_nothing(tmp_path):
    """The whole script is typed at once and the app is stopped every millisecond or so while it works
    through it; each trial kills it at the first stop after a chosen number of committed events, and in
    every third trial only at a stop that finds a write transaction open. In some trials the files
    are also copied while the process is frozen, whatever it was writing: a crash snapshot, which reads what the
    page cache holds, unsynced writes included, so it is not a power cut (which would lose those)."""
    chance = random.Random(20261127)
    landed: list[tuple[str, int, bool]] = []
    snapshots = 0
    # One trial per number of committed steps from 0 to 49, in a random order; the script commits about 55.
    targets = chance.sample(range(50), 50)
    for trial, target in enumerate(targets):
        # A fresh episode each time, so the kills spread along the whole script.
        data = tmp_path / f"data-{trial}"
        process = subprocess.Popen([sys.executable, "-m", "voicerelief", "run", "--text", "--quiet",
                                    "--speed", "600", "--data-dir", str(data)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True)
        assert process.stdout.readline(), "the app said nothing when it started"
        only_while_writing = trial % 3 == 0
        process.stdin.write("".join(line + "\n" for line in SCRIPT))
        process.stdin.flush()
        with closing(sqlite3.connect(data / DATABASE_NAME, timeout=0, isolation_level=None)) as probe:
            last_count, unchanged_since = -1, time.monotonic()
            while True:
                _stop(process)
                writing = _writing(probe)
                count = _committed_so_far(probe, last_count)
                if count != last_count:
                    last_count, unchanged_since = count, time.monotonic()
                # The script is done when nothing more has been committed for a second.
                done = time.monotonic() - unchanged_since > 1.0
                if done or (count >= target and (writing or not only_while_writing)):
                    break
                process.send_signal(signal.SIGCONT)
                time.sleep(chance.uniform(0.0, 0.002))
        if chance.random() < 0.3:
            # A crash snapshot: the files taken as they are while the process is frozen, even mid-write.
            copy = tmp_path / f"snapshot-{trial}"
            copy.mkdir()
            for file in data.glob(DATABASE_NAME + "*"):
                shutil.copy(file, copy / file.name)
            check_consistent(copy)
            snapshots += 1
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdin.close()
        process.stdout.close()
        memory = check_consistent(data)
        landed.append((memory.state, committed_events(data), writing))
        # The next start must restore and go on without error.
        again = voicerelief("run", "--text", "--quiet", "--data-dir", str(data), stdin="help\n")
        assert again.returncode == 0, again.stderr
        check_consistent(data)
    # Where the kills landed: after many different numbers of committed steps, in many states, and inside
    # open write transactions, not on an idle process.
    assert len({count for _, count, _ in landed}) >= 30, landed
    assert len({state for state, _, _ in landed}) >= 5, landed
    assert sum(writing for _, _, writing in landed) >= 10, landed
    assert snapshots >= 10


def test_a_second_instance_refuses_to_start(tmp_path):
    first = subprocess.Popen([sys.executable, "-m", "voicerelief", "run", "--text", "--quiet", "--data-dir",
                              str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert "Hello" in first.stdout.readline()
    second = voicerelief("run", "--text", "--quiet", "--data-dir", str(tmp_path), stdin="start\n")
    assert second.returncode == 1
    assert "Another VoiceRelief is already running" in second.stderr
    first.stdin.close()
    assert first.wait(timeout=30) == 0


# Connecting, resolving a name or sending is refused. (A bind is not: importing vosk imports
# urllib3, which binds a socket to ::1 once to learn whether IPv6 exists; nothing is sent.)
NETWORK_GUARD = """
import os, sys
def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.sendto", "socket.sendmsg"):
        os.write(2, b"NETWORK " + event.encode() + b"\\n")
        os._exit(99)
sys.addaudithook(refuse)
from voicerelief.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("args, stdin", [
    (["run", "--text", "--quiet", "--data-dir", "{tmp}/d"], "start\nno\nhelp\n"),
    (["demo", "--speed", "2000", "--data-dir", "{tmp}/demo"], ""),
    (["recognize", "--json", "{wav}"], ""),
    (["report", "--data-dir", "{tmp}/demo", "--out", "{tmp}/r.html"], ""),
])
def test_no_socket_is_opened(tmp_path, args, stdin):
    from voicerelief.synthesize import synthesize
    import soundfile

    wav = tmp_path / "yes.wav"
    speech = synthesize("yes")
    soundfile.write(wav, speech.samples, speech.rate)
    if args[0] == "report":
        subprocess.run([sys.executable, "-m", "voicerelief", "demo", "--speed", "2000", "--data-dir",
                        str(tmp_path / "demo")], check=True, capture_output=True, timeout=300)
    argv = [a.format(tmp=tmp_path, wav=wav) for a in args]
    result = subprocess.run([sys.executable, "-c", NETWORK_GUARD, *argv], input=stdin, capture_output=True,
                            text=True, timeout=300)
    assert "NETWORK" not in result.stderr
    assert result.returncode == 0, result.stderr[-500:]


def test_the_network_guard_does_catch_a_connection(tmp_path):
    result = subprocess.run([sys.executable, "-c", NETWORK_GUARD, "model", "fetch", "--dest", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 99 and "NETWORK socket" in result.stderr


@pytest.mark.parametrize("args", [
    ["run", "--speed", "fast"], ["run", "--speed", "0"], ["demo", "--speed", "-1"], ["report"],
    ["forget"], ["forget", "--episode", "one"], ["forget", "--episode", "1", "--all"], ["recognize"],
    ["model"], ["model", "mend"], ["history", "--bogus"], ["bogus"],
])
def test_bad_usage_is_refused_with_exit_2(args):
    result = voicerelief(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [
    ["run", "--text", "--routine", "/nonexistent/routine.toml"],
    ["run", "--text", "--data-dir", "/etc/passwd"],
    ["recognize", "--model", "/nonexistent", "x.wav"],
    ["model", "check", "--model", "/nonexistent/model"],
    ["report", "--episode", "99", "--out", "/tmp/never.html"],
    ["import", "/nonexistent/export.json"],
    ["run", "--input-device", "no-such-microphone"],
    ["report", "--out", "/nonexistent/folder/report.html"],
    ["export", "--out", "/nonexistent/folder/export.json"],
    ["model", "fetch", "--dest", "/etc/hostname"],
])
def test_wrong_values_get_one_sentence(args, tmp_path):
    if "--data-dir" not in args and args[0] in ("run", "report", "import", "export", "forget"):
        args = args + ["--data-dir", str(tmp_path / "d")]
    if args[:2] == ["report", "--out"]:
        subprocess.run([sys.executable, "-m", "voicerelief", "run", "--text", "--quiet", "--data-dir",
                        str(tmp_path / "d")], input="start\n", text=True, check=True, capture_output=True,
                       timeout=60)
    result = voicerelief(*args, stdin="no\n")
    assert result.returncode == 1, result.stdout
    message = result.stderr.strip().splitlines()
    assert message and message[-1].startswith("voicerelief: ") and "Traceback" not in result.stderr


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_the_phrase_matcher_never_fails(text):
    table = load_phrase_table()
    intent = table.match(text)
    assert intent is None or " ".join(text.lower().split()) in table.phrases


TOML_PIECES = st.sampled_from(["[[stretch]]", "[ice]", "[heat]", "[conversation]", "[intents]", "[numbers]",
                               "[recognition]", "[decoys]", 'name = "x"', "hold_seconds = 5", "reps = 0",
                               "on_minutes = 90", 'steps = ["a"]', "sides = []", 'sides = ["up"]', "words = [1]",
                               "rest_seconds = -1", "= =", "yes = []", 'yes = ["yes"]', "confidence_floor = 2",
                               'wake_phrase = "hey"', "zero = 0", "\x00", "[[", "reps = 1.5"])


@settings(max_examples=300, deadline=None)
@given(st.lists(TOML_PIECES, max_size=12))
def test_the_content_loaders_fail_only_with_a_content_error(tmp_path_factory, pieces):
    file = tmp_path_factory.mktemp("fuzz") / "content.toml"
    file.write_text("\n".join(pieces))
    for loader in (load_routine, load_timings, load_phrase_table):
        try:
            loader(file)
        except ContentError as error:
            assert str(file) in str(error)


# A small tmpfs is the honest full or read-only disk, and mounting one needs root. CI runs as root.
needs_root = pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"),
                                reason="mounting a small tmpfs needs root (run as root, as CI does)")


@contextmanager
def small_disk(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``mount`` for the duration of the block."""
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@needs_root
def test_a_read_only_data_folder_is_a_clear_error_and_keeps_the_data(tmp_path):
    with small_disk(tmp_path / "ro", "4m") as mount:
        first = voicerelief("run", "--text", "--quiet", "--data-dir", str(mount / "d"), stdin="start\nno\n")
        assert first.returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        result = voicerelief("run", "--text", "--quiet", "--data-dir", str(mount / "d"), stdin="no\n")
        assert result.returncode == 1
        assert result.stderr.strip().count("\n") == 0 and "voicerelief:" in result.stderr
        subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        assert check_consistent(mount / "d").state == "redFlags"


@needs_root
def test_a_full_disk_is_a_clear_error_and_keeps_the_data(tmp_path):
    with small_disk(tmp_path / "small", "512k") as mount:
        run = Harness(mount / "d")
        run.first_session_to_rest()
        try:
            with open(mount / "filler", "wb") as filler:
                while True:
                    filler.write(b"x" * 4096)
                    filler.flush()
        except OSError:
            pass
        with pytest.raises(StoreError, match="full"):
            for _ in range(200):
                run.say("help")
                run.say("ready")
                run.say("repeat")
        (mount / "filler").unlink()
        run.store.close()
        again = Harness(mount / "d")
        assert [score for _, score in again.memory.pains] == [7]
        check_consistent(mount / "d")


def test_a_huge_wav_is_refused_and_the_others_go_on(tmp_path):
    import numpy as np
    import soundfile

    huge = tmp_path / "huge.wav"
    soundfile.write(huge, np.zeros(8000 * 601, np.int16), 8000, subtype="PCM_16")
    result = voicerelief("recognize", "--json", str(huge))
    assert result.returncode == 1
    assert "more than the 600 s" in json.loads(result.stdout)["error"]
