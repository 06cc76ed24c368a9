"""Alerts to Home Assistant: a real Mosquitto broker on 127.0.0.1, a real paho-mqtt client standing for Home Assistant."""

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from harness import Harness
from test_call_for_help import ONLY_THE_CARERS_HOST
from voicerelief.app import load_content
from voicerelief.carers import Carer, add_carer, carers_path, remove_carer
from voicerelief.errors import VoiceReliefError

USER, PASSWORD = "relief", "s3cret word"
NODE = "bedroom"
ALERT_TOPIC = f"voicerelief/{NODE}/alert"
HELP_TOPIC = f"voicerelief/{NODE}/help_needed"
AVAILABILITY_TOPIC = f"voicerelief/{NODE}/availability"
ACKNOWLEDGE_TOPIC = f"voicerelief/{NODE}/acknowledge"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    """Mosquitto from Debian's package, on a port of its own, with a password file; can be stopped and started."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("mosquitto", path="/usr/sbin:" + os.environ.get("PATH", "")) is None:
            raise RuntimeError("mosquitto is not installed; `./quickstart test` installs it")
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        passwords = folder / "passwords"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), USER, PASSWORD], check=True,
                       capture_output=True)
        passwords.chmod(0o600)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n"
                               f"persistence false\nlog_dest file {folder / 'mosquitto.log'}\n"
                               # Started as root, mosquitto would switch to its own user, who cannot read our files.
                               f"user {getpass.getuser()}\n")
        self.process: subprocess.Popen | None = None

    def url(self, password: str = PASSWORD) -> str:
        return f"homeassistant://{USER}:{password.replace(' ', '%20')}@127.0.0.1:{self.port}/{NODE}"

    def start(self) -> None:
        self.process = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(self.config)])
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.process.poll() is None and time.monotonic() < deadline, "mosquitto did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class HomeAssistant:
    """What Home Assistant does on the broker: reads every VoiceRelief topic and can press the button."""

    def __init__(self, broker: Broker) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        # When each message arrived (monotonic), for bench/alert.py.
        self.arrival_times: list[float] = []
        self.arrived = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"home-assistant-{time.time_ns()}")
        self.client.username_pw_set(USER, PASSWORD)
        self.client.on_connect = lambda client, *_: client.subscribe([("voicerelief/#", 1), ("homeassistant/#", 1)])
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        with self.arrived:
            self.messages.append(message)
            self.arrival_times.append(time.monotonic())
            self.arrived.notify_all()

    def wait_for(self, topic: str, payload: str | None = None, count: int = 1, timeout: float = 30.0) -> list:
        def matching() -> list:
            return [m for m in self.messages if m.topic == topic
                    and (payload is None or m.payload.decode() == payload)]
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(matching()) >= count, timeout), \
                f"{topic} {payload}: {[(m.topic, m.payload[:60]) for m in self.messages]}"
            return matching()

    def on(self, topic: str) -> list[mqtt.MQTTMessage]:
        with self.arrived:
            return [m for m in self.messages if m.topic == topic]

    def press(self, topic: str, payload: str = "PRESS") -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path):
    started = Broker(tmp_path / "mosquitto")
    started.start()
    yield started
    started.stop()


@pytest.fixture
def home_assistant(broker):
    watching = HomeAssistant(broker)
    yield watching
    watching.close()


def with_home_assistant(tmp_path, broker: Broker) -> Harness:
    return Harness(tmp_path / "data", content=load_content(carers=(Carer("Sam", broker.url()),)))


def test_home_assistant_finds_the_device_gets_one_alert_and_the_carer_answers(tmp_path, broker, home_assistant):
    run = with_home_assistant(tmp_path, broker)
    home_assistant.wait_for(AVAILABILITY_TOPIC, "online")
    late = HomeAssistant(broker)  # connects after the device announced itself: sees only what is retained
    try:
        configs = {m.topic: json.loads(m.payload) for m in late.wait_for(
            f"homeassistant/event/{NODE}/alert/config") + late.wait_for(
            f"homeassistant/binary_sensor/{NODE}/help_needed/config") + late.wait_for(
            f"homeassistant/button/{NODE}/acknowledge/config")}
        assert all(m.retain for m in late.messages if m.topic in configs)
        assert late.wait_for(AVAILABILITY_TOPIC, "online")[0].retain
        event = configs[f"homeassistant/event/{NODE}/alert/config"]
        assert set(event["event_types"]) == {"help", "red_flag", "ice_overdue", "test", "cancelled"}
        assert event["availability_topic"] == AVAILABILITY_TOPIC and event["unique_id"]
        assert configs[f"homeassistant/button/{NODE}/acknowledge/config"]["command_topic"] == ACKNOWLEDGE_TOPIC

        run.first_session_to_rest()
        run.say("get help")
        run.wait(seconds=10)
        run.until_said("reached Sam's phone service")
        [alert] = home_assistant.wait_for(ALERT_TOPIC)
        body = json.loads(alert.payload)
        assert body["event_type"] == "help" and body["alert_id"] == run.memory.alert_id
        assert "help is needed" in body["message"] and alert.qos == 1 and not alert.retain
        assert home_assistant.wait_for(HELP_TOPIC, "ON")
    finally:
        late.close()
    after_the_event = HomeAssistant(broker)
    try:
        assert after_the_event.wait_for(HELP_TOPIC, "ON")[0].retain, "the sensor's state is kept"
        assert after_the_event.on(ALERT_TOPIC) == [], "the event is not kept: a restart must not replay it"
    finally:
        after_the_event.close()
    alert_id = run.memory.alert_id
    assert run.wait(minutes=1)[-1] == "Help is needed in this room. Please come."

    home_assistant.press(ACKNOWLEDGE_TOPIC)
    assert run.until_said("answered")[-1] == "Sam answered: on my way."
    home_assistant.wait_for(HELP_TOPIC, "OFF")
    assert run.wait(minutes=3) == [], "no more calls in the room once the carer answered"
    assert run.store.deliveries() == [(alert_id, "Sam", "help", "acknowledged", 1)]
    assert len(home_assistant.on(ALERT_TOPIC)) == 1, "sent once"
    run.close()


def test_a_press_with_no_alert_open_says_nothing(tmp_path, broker, home_assistant):
    run = with_home_assistant(tmp_path, broker)
    home_assistant.wait_for(AVAILABILITY_TOPIC, "online")
    home_assistant.press(ACKNOWLEDGE_TOPIC)
    home_assistant.press(f"voicerelief/{NODE}/unrelated")
    # Home Assistant back online makes the device announce itself again. The broker passes one client's messages
    # on in order and the device handles them in order, so once the new announcement is out, the presses have
    # been handled and anything they caused is in the queue.
    home_assistant.press("homeassistant/status", "online")
    home_assistant.wait_for(f"homeassistant/event/{NODE}/alert/config", count=2)
    assert not any("answered" in line for line in run.drain())
    run.close()


def test_home_assistant_back_online_gets_the_discovery_again(tmp_path, broker, home_assistant):
    run = with_home_assistant(tmp_path, broker)
    config_topic = f"homeassistant/event/{NODE}/alert/config"
    home_assistant.wait_for(config_topic)
    home_assistant.press("homeassistant/status", "online")
    again = home_assistant.wait_for(config_topic, count=2)
    assert json.loads(again[1].payload)["state_topic"] == ALERT_TOPIC
    run.close()


def test_the_broker_down_while_sending_then_back_gets_the_same_alert(tmp_path, broker):
    run = with_home_assistant(tmp_path, broker)
    watcher = HomeAssistant(broker)
    watcher.wait_for(AVAILABILITY_TOPIC, "online")
    watcher.close()
    broker.stop()
    run.say("get help")
    run.wait(seconds=10)
    assert run.until_said("I cannot reach the alert service")[-1].startswith("I cannot reach the alert service.")
    alert_id = run.memory.alert_id
    [(carer, kind, _, tries, next_attempt, last_error)] = run.store.undelivered()
    assert (carer, kind) == ("Sam", "help") and tries >= 1 and "cannot be reached" in last_error
    assert next_attempt > datetime.now().isoformat(timespec="seconds")[:-3], "the next try is kept, to the minute"
    broker.start()
    home_assistant = HomeAssistant(broker)
    try:
        run.until_said("reached Sam's phone service")
        [alert] = home_assistant.wait_for(ALERT_TOPIC)
        assert json.loads(alert.payload)["alert_id"] == alert_id
        assert run.store.deliveries()[0][3] == "sent" and run.store.deliveries()[0][4] >= 2
    finally:
        home_assistant.close()
    run.close()


def test_a_killed_app_is_marked_offline_by_its_last_will(tmp_path, broker, home_assistant):
    config = tmp_path / "config.toml"
    add_carer(carers_path(config), "Sam", broker.url())
    app = subprocess.Popen([sys.executable, "-c", ONLY_THE_CARERS_HOST, "127.0.0.1", "run", "--text", "--quiet",
                            "--data-dir", str(tmp_path / "d")], env={**os.environ, "VOICERELIEF_CONFIG": str(config)},
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        home_assistant.wait_for(AVAILABILITY_TOPIC, "online")
        app.send_signal(signal.SIGKILL)
        app.wait(timeout=10)
        home_assistant.wait_for(AVAILABILITY_TOPIC, "offline")
        later = HomeAssistant(broker)
        assert later.wait_for(AVAILABILITY_TOPIC)[0].payload == b"offline", "kept for Home Assistant's next start"
        later.close()
    finally:
        if app.poll() is None:
            app.kill()
        app.communicate()
    assert app.returncode == -signal.SIGKILL


def test_home_assistant_set_up_mistakes_get_one_sentence_each(tmp_path, broker):
    path = carers_path(tmp_path / "config.toml")
    with pytest.raises(VoiceReliefError, match="needs the address of your MQTT broker"):
        add_carer(path, "Sam", "homeassistant:///bedroom")
    with pytest.raises(VoiceReliefError, match="not a number"):
        add_carer(path, "Sam", "homeassistant://broker:http/bedroom")
    add_carer(path, "Sam", broker.url())
    add_carer(path, "Ana", broker.url(password="wrong"))
    add_carer(path, "Kim", f"homeassistant://127.0.0.1:{free_port()}/hall")
    env = {**os.environ, "VOICERELIEF_CONFIG": str(tmp_path / "config.toml")}
    result = subprocess.run([sys.executable, "-m", "voicerelief", "alert", "test"], env=env, capture_output=True,
                            text=True, timeout=120)
    lines = result.stdout.splitlines()
    assert result.returncode == 1
    assert lines[0].startswith("OK  Sam (homeassistant://127.0.0.1:")
    assert lines[1].startswith("FIX Ana") and "refused us" in lines[1] and "wrong" not in result.stdout
    assert lines[2].startswith("FIX Kim") and "cannot be reached" in lines[2]
    assert PASSWORD not in result.stdout + result.stderr

    remove_carer(path, "Ana")
    remove_carer(path, "Kim")
    assert doctor_line(tmp_path, env).startswith("OK  carers to alert: Sam (homeassistant://127.0.0.1:")
    broker.stop()
    line = doctor_line(tmp_path, env)
    assert line.startswith("FIX") and "Sam cannot be alerted now" in line and "cannot be reached" in line


def doctor_line(tmp_path, env: dict) -> str:
    doctor = subprocess.run([sys.executable, "-m", "voicerelief", "doctor", "--data-dir", str(tmp_path / "d")],
                            env={**env, "PULSE_SERVER": "unix:/nonexistent/pulse"}, capture_output=True, text=True,
                            timeout=120)
    [line] = [line for line in doctor.stdout.splitlines() if "carers to alert" in line]
    return line
