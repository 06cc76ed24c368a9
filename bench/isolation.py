"""Benches run on settings, cache and data folders of their own, never the user's: a setting, a warm speech cache
or a saved episode of whoever runs them would change what is measured."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path


def isolate_from_the_user() -> Path:
    """Point this process, and every process it starts, at fresh folders; returns their parent."""
    folder = Path(tempfile.mkdtemp(prefix="voicerelief-bench-home-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ.update({
        "VOICERELIEF_CONFIG": str(folder / "config.toml"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_CACHE_HOME": str(folder / "cache"),
        "XDG_DATA_HOME": str(folder / "data"),
    })
    return folder
