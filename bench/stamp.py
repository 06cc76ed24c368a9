"""What a bench result is stamped with: the commit it measured and whether the measured code differed from it."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
# What each bench measures: when one of these files differs from what a result was measured on,
# the published figures say they predate the change.
MEASURES: dict[str, tuple[str, ...]] = {
    "barge_in": ("src/voicerelief/listener.py", "src/voicerelief/echo_cancel.py", "src/voicerelief/microphone.py",
                 "src/voicerelief/speak.py", "bench/barge_in.py"),
    "dialogue": ("src/voicerelief/session", "src/voicerelief/content", "src/voicerelief/recognizer.py",
                 "src/voicerelief/voice_gate.py", "src/voicerelief/front_end.py", "src/voicerelief/commands.py",
                 "src/voicerelief/rooms.py", "bench/dialogue.py"),
    "soak": ("src/voicerelief/runner.py", "src/voicerelief/store.py", "src/voicerelief/recognizer.py",
             "src/voicerelief/session", "bench/soak.py"),
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
