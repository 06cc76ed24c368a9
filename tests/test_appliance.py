"""The set-up-once appliance: the settings file, and the systemd unit that starts the assistant at boot."""

import os
import shutil
import subprocess
import sys

import pytest

from voicerelief.commands import Intent
from voicerelief.config import Config, load_config
from voicerelief.errors import ContentError, VoiceReliefError
from voicerelief.recognizer import load_model
from voicerelief.service import unit_text


def voicerelief(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicerelief", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_settings_are_shown_changed_and_checked(tmp_path):
    env = {"VOICERELIEF_CONFIG": str(tmp_path / "config.toml")}
    assert 'wake_phrase = "hey relief"' in voicerelief("config", "show", env=env).stdout
    assert voicerelief("config", "set", "words_per_minute", "130", env=env).returncode == 0
    assert voicerelief("config", "set", "input_device", "USB Speakerphone", env=env).returncode == 0
    before = (tmp_path / "config.toml").read_text()
    refused = voicerelief("config", "set", "volume", "3", env=env)
    assert refused.returncode == 1 and "from 0.2 to 1.0" in refused.stderr
    assert voicerelief("config", "set", "colour", "red", env=env).returncode == 1
    assert (tmp_path / "config.toml").read_text() == before
    assert load_config(tmp_path / "config.toml") == Config(input_device="USB Speakerphone", words_per_minute=130)


def test_the_voice_gate_is_switched_on_and_off_in_words(tmp_path):
    env = {"VOICERELIEF_CONFIG": str(tmp_path / "config.toml")}
    assert "voice_gate = true" in voicerelief("config", "show", env=env).stdout
    assert voicerelief("config", "set", "voice_gate", "off", env=env).returncode == 0
    assert load_config(tmp_path / "config.toml").voice_gate is False
    refused = voicerelief("config", "set", "voice_gate", "maybe", env=env)
    assert refused.returncode == 1 and "on or off" in refused.stderr
    assert voicerelief("config", "set", "voice_gate", "on", env=env).returncode == 0
    assert load_config(tmp_path / "config.toml").voice_gate is True


def test_the_settings_choose_the_microphone(tmp_path):
    env = {"VOICERELIEF_CONFIG": str(tmp_path / "config.toml"), "PULSE_SERVER": "unix:/nonexistent/pulse"}
    voicerelief("config", "set", "input_device", "USB Speakerphone", env=env)
    result = voicerelief("doctor", "--data-dir", str(tmp_path / "d"), env=env)
    assert any(line.startswith("FIX microphone") for line in result.stdout.splitlines())


def test_a_broken_settings_file_names_the_key(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text('volume = "loud"\n')
    with pytest.raises(ContentError) as caught:
        load_config(bad)
    assert caught.value.key == "volume"


def test_another_wake_phrase_is_a_real_grammar_phrase(table, model_dir):
    woken = table.with_wake_phrase("hello relief")
    assert woken.match("hello relief") == Intent("wake") and woken.match("hey relief") is None
    assert woken.wake_phrase == "hello relief"
    load_model(model_dir, woken)
    with pytest.raises(VoiceReliefError, match="flibbertigibbet"):
        load_model(model_dir, table.with_wake_phrase("flibbertigibbet relief"))


def test_the_unit_passes_systemd_verification(tmp_path):
    unit = tmp_path / "voicerelief.service"
    unit.write_text(voicerelief("service", "install", "--dry-run").stdout)
    text = unit.read_text()
    assert "Restart=on-failure" in text and "After=pulseaudio.service" in text
    assert f"ExecStart={sys.executable} -m voicerelief run" in text
    assert shutil.which("systemd-analyze"), "systemd-analyze comes with systemd"
    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    assert text == unit_text([]) + "\n"


def test_without_a_user_session_service_commands_say_why(tmp_path):
    no_session = {"XDG_RUNTIME_DIR": str(tmp_path), "DBUS_SESSION_BUS_ADDRESS": "", "HOME": str(tmp_path)}
    for action in ("status", "install", "uninstall"):
        result = voicerelief("service", action, env=no_session)
        assert result.returncode == 1, result.stdout
        assert result.stderr.strip().count("\n") == 0 and "voicerelief:" in result.stderr
    assert not (tmp_path / ".config").exists(), "a failed install leaves nothing behind"
