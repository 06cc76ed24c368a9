"""The version the benchmarks compare against: the last commit before per-state grammars.

Checked out as a git worktree beside the benchmark, so "before" is measured by the
code that ran before, on the same machine, in the same run.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Iterator

# Before per-state grammars, the quick end of a phrase and the shorter deaf time.
BASELINE_COMMIT = "9c05b1f"
REPOSITORY = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def baseline_source(work: Path) -> Iterator[Path]:
    """The baseline's ``src`` folder, for PYTHONPATH; removed afterwards."""
    with commit_source(BASELINE_COMMIT, work / "baseline") as source:
        yield source


@contextlib.contextmanager
def commit_source(commit: str, target: Path) -> Iterator[Path]:
    """The ``src`` folder of ``commit``, checked out as a worktree at ``target``; removed afterwards."""
    subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", str(target), commit],
                   check=True, capture_output=True)
    try:
        yield target / "src"
    finally:
        subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "remove", "--force", str(target)],
                       capture_output=True)
