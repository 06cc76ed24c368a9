"""The set-up-once appliance: the settings file, and the systemd unit that starts the assistant at boot."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audio_rig import AudioRig, RunningApp
from harness import FIRST_SAFETY_QUESTIONS

from voicerelief.commands import Intent
from voicerelief.config import Config, load_config
from voicerelief.devices import NO_MICROPHONE
from voicerelief.errors import ContentError, VoiceReliefError
from voicerelief.recognizer import load_model


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


def test_the_echo_canceller_is_chosen_by_name_and_doctor_says_which(tmp_path):
    env = {"VOICERELIEF_CONFIG": str(tmp_path / "config.toml"), "PULSE_SERVER": "unix:/nonexistent/pulse"}
    assert voicerelief("config", "set", "echo_cancellation", "on", env=env).returncode == 0
    refused = voicerelief("config", "set", "echo_canceller", "both", env=env)
    assert refused.returncode == 1 and "must be app or sound-server" in refused.stderr
    assert load_config(tmp_path / "config.toml") == Config(echo_cancellation=True, echo_canceller="app")
    doctor = voicerelief("doctor", "--data-dir", str(tmp_path / "d"), env=env).stdout.splitlines()
    [line] = [line for line in doctor if "echo cancellation" in line]
    assert line.startswith("OK  echo cancellation: on, in the app: WebRTC's AEC3"), line
    assert voicerelief("config", "set", "echo_canceller", "sound-server", env=env).returncode == 0
    doctor = voicerelief("doctor", "--data-dir", str(tmp_path / "d"), env=env).stdout.splitlines()
    [line] = [line for line in doctor if "echo cancellation" in line]
    assert line.startswith("FIX echo cancellation: no sound server answers"), line


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
    assert "RestartPreventExitStatus=78" in text
    assert f"ExecStart={sys.executable} -m voicerelief run --wait-for-microphone" in text
    assert shutil.which("systemd-analyze"), "systemd-analyze comes with systemd"
    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr


def test_without_a_user_session_service_commands_say_why(tmp_path):
    no_session = {"XDG_RUNTIME_DIR": str(tmp_path), "DBUS_SESSION_BUS_ADDRESS": "", "HOME": str(tmp_path)}
    for action in ("status", "install", "uninstall"):
        result = voicerelief("service", action, env=no_session)
        assert result.returncode == 1, result.stdout
        assert result.stderr.strip().count("\n") == 0 and "voicerelief:" in result.stderr
    assert not (tmp_path / ".config").exists(), "a failed install leaves nothing behind"


@pytest.fixture
def rig(tmp_path):
    audio = AudioRig(tmp_path / "pulse")
    audio.start()
    yield audio
    audio.stop()


def _heard_speech_after(rig: AudioRig, since: float, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rig.first_sound_after(since) is not None:
            return True
        time.sleep(0.1)
    return False


def test_a_missing_model_is_said_aloud_and_logged(rig, tmp_path):
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "voicerelief", "run", "--input-device", "pulse", "--output-device", "pulse",
         "--model", str(tmp_path / "no-model"), "--data-dir", str(tmp_path / "data")],
        env=rig.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 78, "a missing model is not retried by the service manager"
    assert "Relief: I cannot start yet: my speech model is missing." in result.stdout
    assert result.stderr.startswith("voicerelief: ") and "model" in result.stderr
    assert _heard_speech_after(rig, began, timeout=10), "the problem was spoken on the speaker"


def test_a_missing_microphone_is_said_aloud_and_logged(rig, tmp_path):
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "voicerelief", "run", "--input-device", "usb speakerphone", "--output-device", "pulse",
         "--data-dir", str(tmp_path / "data")], env=rig.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Relief: I cannot find my microphone." in result.stdout
    assert "'usb speakerphone'" in result.stderr.splitlines()[0]
    assert _heard_speech_after(rig, began, timeout=10), "the problem was spoken on the speaker"


def test_the_service_mode_keeps_the_ice_timer_while_it_waits_for_a_microphone(tmp_path):
    data = tmp_path / "data"
    ice_on = ["start"] + ["no"] * FIRST_SAFETY_QUESTIONS + ["minutes ago", "seven", "yes", "ready", "ice", "ready"]
    typed = subprocess.run([sys.executable, "-m", "voicerelief", "run", "--text", "--quiet", "--data-dir", str(data)],
                           input="\n".join(ice_on) + "\n", capture_output=True, text=True, timeout=120)
    assert "Ice is on." in typed.stdout, typed.stderr
    rig = AudioRig(tmp_path / "pulse")  # never started: no microphone, and no speaker either
    # 20 minutes of ice pass in 8 s of real time.
    app = RunningApp(rig, data, "--wait-for-microphone", "--speed", "150")
    try:
        app.wait_for("I cannot find my microphone", timeout=60)
        # The log comes through its own pipe and reader: it may arrive after the spoken line is printed.
        app.wait_for_log(NO_MICROPHONE, timeout=10)
        app.wait_for("Time is up. Take the ice off now.", timeout=60)
        assert app.process.poll() is None, "it must keep waiting for the microphone"
    finally:
        app.stop()


def test_the_service_mode_says_it_is_ready_once_a_microphone_arrives(tmp_path):
    rig = AudioRig(tmp_path / "pulse")
    app = RunningApp(rig, tmp_path / "data", "--wait-for-microphone")
    try:
        app.wait_for("I cannot find my microphone", timeout=60)
        app.wait_for_log("no microphone yet (try 3)")
        assert app.process.poll() is None, "it must keep waiting"
        assert "Say hey relief to begin" not in " ".join(app.said())
        rig.start()
        ready = app.wait_for("Say hey relief to begin", timeout=60)
        assert _heard_speech_after(rig, ready)
    finally:
        app.stop()
        rig.stop()


@pytest.fixture
def user_manager(rig, tmp_path):
    """A real systemd user manager, as on a Pi where the person who set it up has lingering enabled.

    In a container whose first process is not systemd, the manager refuses to start unless
    /run/systemd/system exists; as root the test creates it for its own duration.
    """
    executable = next((p for p in ("/usr/lib/systemd/systemd", "/lib/systemd/systemd") if os.path.exists(p)), None)
    assert executable, "systemd comes with `./quickstart test`"
    marker = Path("/run/systemd/system")
    created = not marker.exists()
    if created:
        if os.geteuid() != 0:
            pytest.skip("no systemd here, and only root can let a user manager start; CI runs as root")
        marker.mkdir(parents=True)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    # As installed on a Pi: the settings in their default place, and the sound server found where every
    # PulseAudio client looks for it (the runtime folder), not through variables set for the test.
    home = tmp_path / "home"
    settings = home / ".config" / "voicerelief" / "config.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text('input_device = "pulse"\noutput_device = "pulse"\n')
    (runtime / "pulse").mkdir()
    (runtime / "pulse" / "native").symlink_to(rig.socket)
    env = {**rig.env, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime),
           "DBUS_SESSION_BUS_ADDRESS": f"unix:path={runtime}/bus"}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "VOICERELIEF_CONFIG",
                 "PULSE_SERVER", "PULSE_RUNTIME_PATH"):
        env.pop(name, None)
    manager = subprocess.Popen([executable, "--user"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["systemctl", "--user", "is-system-running"], env=env,
                             capture_output=True).returncode != 0:
            assert manager.poll() is None and time.monotonic() < deadline, "the systemd user manager did not start"
            time.sleep(0.2)
        yield env
    finally:
        manager.terminate()
        manager.wait(timeout=30)
        if created:
            marker.rmdir()


def test_the_service_installs_starts_speaks_and_uninstalls(rig, user_manager):
    env = user_manager
    unit = Path(env["HOME"]) / ".config" / "systemd" / "user" / "voicerelief.service"
    began = time.monotonic()
    installed = voicerelief("service", "install", env=env)
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.startswith("Installed and started") and unit.exists()
    assert _heard_speech_after(rig, began), "the service said its ready line on the speaker"
    status = voicerelief("service", "status", env=env)
    assert "active (running)" in status.stdout and "--wait-for-microphone" in status.stdout
    enabled = subprocess.run(["systemctl", "--user", "is-enabled", "voicerelief.service"], env=env,
                             capture_output=True, text=True)
    assert enabled.stdout.strip() == "enabled"

    removed = voicerelief("service", "uninstall", env=env)
    assert removed.returncode == 0, removed.stderr
    assert not unit.exists()
    active = subprocess.run(["systemctl", "--user", "is-active", "voicerelief.service"], env=env,
                            capture_output=True, text=True)
    assert active.stdout.strip() in ("inactive", "unknown")
