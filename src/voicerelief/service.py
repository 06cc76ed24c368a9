"""Starting the assistant at boot: a systemd user unit (with lingering, so it runs without a login)."""

from __future__ import annotations

import getpass
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from voicerelief.errors import VoiceReliefError

UNIT_NAME = "voicerelief.service"


def unit_text() -> str:
    """The unit file: restarts on failure, starts after the sound server, logs to the journal.

    It waits for a microphone that is not plugged in yet (USB devices can come up after the service).
    """
    command = shlex.join([sys.executable, "-m", "voicerelief", "run", "--wait-for-microphone"])
    return f"""[Unit]
Description=VoiceRelief, a hands-free back relief assistant
After=pulseaudio.service pipewire-pulse.service sound.target
Wants=sound.target

[Service]
Type=simple
ExecStart={command}
Restart=on-failure
RestartSec=5
# 78: the speech model is missing; it has been said aloud and logged, and restarting would only repeat it.
RestartPreventExitStatus=78
StandardOutput=journal
StandardError=journal

[Install]
WantedBy=default.target
"""


def unit_path() -> Path:
    return Path.home() / ".config" / "systemd" / "user" / UNIT_NAME


def install() -> str:
    _require_systemctl()
    _systemctl("show-environment")
    path = unit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit_text(), encoding="utf-8")
    _systemctl("daemon-reload")
    _systemctl("enable", "--now", UNIT_NAME)
    user = getpass.getuser()
    linger = subprocess.run(["loginctl", "enable-linger", user], check=False, capture_output=True)
    if linger.returncode != 0:
        return (f"Installed and started {path}, but lingering could not be enabled, so it starts only after "
                f"{user} logs in; run `sudo loginctl enable-linger {user}` to start it at every boot.")
    return f"Installed and started {path}; it will start at every boot."


def uninstall() -> str:
    _require_systemctl()
    _systemctl("show-environment")
    path = unit_path()
    if path.exists():
        _systemctl("disable", "--now", UNIT_NAME)
        path.unlink()
        _systemctl("daemon-reload")
    return f"Removed {path}."


def status() -> str:
    _require_systemctl()
    result = subprocess.run(["systemctl", "--user", "status", "--no-pager", UNIT_NAME],
                            capture_output=True, text=True)
    if "Failed to connect to bus" in result.stderr:
        raise VoiceReliefError("There is no systemd user session here, so no service can run; "
                               "log in on the machine, or enable lingering with `loginctl enable-linger`.")
    return result.stdout.strip() or result.stderr.strip()


def _require_systemctl() -> None:
    if shutil.which("systemctl") is None:
        raise VoiceReliefError("systemd is not available here; start `voicerelief run` another way.")


def _systemctl(*arguments: str) -> None:
    result = subprocess.run(["systemctl", "--user", *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no reason given"])[-1].rstrip(".")
        raise VoiceReliefError(f"systemctl --user {' '.join(arguments)} failed ({reason}); "
                               "is a user session with systemd running? Try `loginctl enable-linger`.")
