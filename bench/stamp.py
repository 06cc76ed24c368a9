"""What a bench result is stamped with: the commit it measured and whether the measured code differed from it."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def result_stamp(bench: str) -> dict[str, object]:
    """The bench's name, the commit, a dirty flag for uncommitted changes to src/ or bench/ (results aside), the date."""
    def git(*arguments: str) -> str:
        return subprocess.run(["git", "-C", str(REPOSITORY), *arguments], capture_output=True, text=True).stdout.strip()

    dirty = bool(git("status", "--porcelain", "--", "src", "bench", ":(exclude)bench/results"))
    return {"bench": bench, "commit": git("rev-parse", "--short", "HEAD"), "dirty": dirty,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
