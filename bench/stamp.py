"""What a bench result is stamped with: the commit it measured and whether the measured code differed from it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import platform
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = REPOSITORY / "bench" / "results"
# What each bench measures: when one of these files differs from what a result was measured on,
# the published figures say they predate the change.
_HEARING = ("src/voicerelief/recognizer.py", "src/voicerelief/voice_gate.py", "src/voicerelief/front_end.py",
            "src/voicerelief/commands.py", "src/voicerelief/content/commands.toml", "src/voicerelief/evaluation.py")
MEASURES: dict[str, tuple[str, ...]] = {
    "barge_in": ("src/voicerelief/listener.py", "src/voicerelief/echo_cancel.py", "src/voicerelief/microphone.py",
                 "src/voicerelief/own_voice.py",
                 "src/voicerelief/speak.py", "bench/barge_in.py"),
    "dialogue": ("src/voicerelief/session", "src/voicerelief/content", "src/voicerelief/recognizer.py",
                 "src/voicerelief/voice_gate.py", "src/voicerelief/front_end.py", "src/voicerelief/commands.py",
                 "src/voicerelief/rooms.py", "src/voicerelief/evaluation.py", "bench/dialogue.py"),
    "soak": ("src/voicerelief/runner.py", "src/voicerelief/store.py", "src/voicerelief/recognizer.py",
             "src/voicerelief/session", "bench/soak.py"),
    "recognize": (*_HEARING, "src/voicerelief/session/machine.py", "bench/recognize.py"),
    "gate": (*_HEARING, "bench/gate.py"),
    "far_field": (*_HEARING, "src/voicerelief/rooms.py", "bench/far_field.py"),
    "far_field_sweep": (*_HEARING, "src/voicerelief/rooms.py", "bench/far_field_sweep.py"),
    "help_phrases": (*_HEARING, "src/voicerelief/rooms.py", "bench/help_phrases.py"),
    "false_accepts": (*_HEARING, "src/voicerelief/listener.py", "bench/false_accepts.py"),
    "instructions": (*_HEARING, "src/voicerelief/listener.py", "src/voicerelief/microphone.py",
                     "bench/instructions.py"),
    "loop": ("src/voicerelief", "bench/loop.py"),
    "echo_cost": ("src/voicerelief", "bench/loop.py", "bench/echo_cost.py"),
    "alert": ("src/voicerelief/alert_delivery.py", "src/voicerelief/carers.py", "src/voicerelief/home_assistant.py",
              "bench/alert.py"),
    "voice": ("src/voicerelief/speak.py", "src/voicerelief/natural_voice.py", "src/voicerelief/content",
              "src/voicerelief/session", "src/voicerelief/app.py", "bench/voice.py"),
    "voice_instructions": ("src/voicerelief/speak.py", "src/voicerelief/natural_voice.py",
                           "src/voicerelief/content/voices.toml", "bench/voice_instructions.py"),
}


def file_digests(paths: tuple[str, ...]) -> dict[str, str]:
    """A short SHA-256 of each file as it is now; of a folder, over its files' names and contents (bytecode aside)."""
    def digest(path: Path) -> str:
        if not path.is_dir():
            return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        whole = hashlib.sha256()
        for file in sorted(f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts):
            whole.update(file.relative_to(path).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
        return whole.hexdigest()[:16]
    return {path: digest(REPOSITORY / path) for path in paths}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def result_stamp(bench: str) -> dict[str, object]:
    """The bench's name, the commit, a dirty flag for uncommitted changes to src/ or bench/ (results aside), the date,
    the CPU, and a digest of each file the bench measures."""
    def git(*arguments: str) -> str:
        return subprocess.run(["git", "-C", str(REPOSITORY), *arguments], capture_output=True, text=True).stdout.strip()

    dirty = bool(git("status", "--porcelain", "--", "src", "bench", ":(exclude)bench/results"))
    return {"bench": bench, "commit": git("rev-parse", "--short", "HEAD"), "dirty": dirty,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_model(),
            "measured": file_digests(MEASURES.get(bench, ()))}


class _Tee(io.TextIOBase):
    def __init__(self, *streams: io.TextIOBase) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


@contextlib.contextmanager
def published(bench: str, settings: dict[str, object], save: bool = True) -> Iterator[dict[str, object]]:
    """Whatever the bench prints inside is its report. Leaving without an error, the report is saved, when ``save``,
    to bench/results/BENCH.json with the stamp, the settings, and the figures put into the dict yielded."""
    printed = io.StringIO()
    figures: dict[str, object] = {}
    with contextlib.redirect_stdout(_Tee(sys.stdout, printed)):
        yield figures
    if save:
        RESULTS.mkdir(exist_ok=True)
        result = {**result_stamp(bench), "settings": settings, "figures": figures, "report": printed.getvalue()}
        (RESULTS / f"{bench}.json").write_text(json.dumps(result, indent=1) + "\n")
