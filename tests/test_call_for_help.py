"""Calling a carer: the real session, runner, SQLite outbox and Apprise, sending to a local HTTP server."""

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from audio_rig import RunningApp
from harness import Harness
from voicerelief.app import load_content
from voicerelief.carers import Carer, add_carer, carers_path, load_carers, remove_carer
from voicerelief.config import Config
from voicerelief.errors import VoiceReliefError
from voicerelief.store import Store


class CarerPhoneService:
    """A local HTTP server standing for a carer's notification service (Apprise's json:// target)."""

    def __init__(self, answers: list[int] | None = None, port: int = 0) -> None:
        self.received: list[dict] = []
        # When each message arrived (monotonic), for bench/alert.py.
        self.arrival_times: list[float] = []
        self.answers = list(answers or [])
        self.arrived = threading.Condition()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                status = service.answers.pop(0) if service.answers else 200
                if status == 200:
                    with service.arrived:
                        service.received.append(body)
                        service.arrival_times.append(time.monotonic())
                        service.arrived.notify_all()
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_port
        self.url = f"json://127.0.0.1:{self.port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for_messages(self, count: int, timeout: float = 30.0) -> list[dict]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), self.received
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service():
    started = CarerPhoneService()
    yield started
    started.close()


def with_carer(tmp_path, url: str) -> Harness:
    return Harness(tmp_path / "data", content=load_content(carers=(Carer("Sam", url),)))


def test_call_for_help_then_silence_sends_and_says_only_what_the_service_said(tmp_path, service):
    run = with_carer(tmp_path, service.url)
    run.first_session_to_rest()
    assert run.say("please get help") == ["Sending an alert to Sam in ten seconds. Say cancel to stop."]
    assert run.wait(seconds=9) == [] and run.store.deliveries() == []
    assert run.wait(seconds=1) == ["Sending the alert to Sam now."]
    spoken = run.until_said("reached Sam's phone service")
    assert spoken == ["The alert reached Sam's phone service. I cannot tell yet if Sam has seen it."]
    [message] = service.received
    alert_id = run.memory.alert_id
    assert message["title"] == f"VoiceRelief alert {alert_id}" and "help is needed" in message["message"]
    assert "08:" in message["message"]
    assert run.store.deliveries() == [(alert_id, "Sam", "help", "sent", 1)]
    assert run.wait(minutes=1)[-1] == "Help is needed in this room. Please come."
    assert run.state == "rest", "the session goes on where it was"
    run.close()


def test_cancel_in_the_countdown_sends_nothing(tmp_path, service):
    run = with_carer(tmp_path, service.url)
    run.say("hey relief")
    run.say("get help")
    assert run.runner.session.awaits_the_person(), "cancel needs no wake phrase during the countdown"
    assert run.say("cancel") == ["All right. No alert was sent."]
    run.wait(minutes=5)
    assert run.store.deliveries() == [] and run.records("alert") == []
    run.close()


def test_cancel_after_sending_tells_the_carer_no_help_is_needed(tmp_path, service):
    run = with_carer(tmp_path, service.url)
    run.say("get help")
    run.wait(seconds=10)
    run.until_said("reached")
    assert run.say("cancel") == ["All right. I will tell Sam that no help is needed."]
    assert [m["message"].split(".")[0] for m in service.wait_for_messages(2)] == [
        "VoiceRelief: help is needed", "VoiceRelief: no help is needed any more"]
    assert run.wait(minutes=3) == [], "no more calls in the room"
    run.close()


def test_a_failing_service_is_retried_and_the_person_told_to_shout_meanwhile(tmp_path):
    failing_first = CarerPhoneService(answers=[500])
    try:
        run = with_carer(tmp_path, failing_first.url)
        run.say("get help")
        run.wait(seconds=10)
        spoken = run.until_said("reached Sam's phone service")
        assert spoken[0].startswith("I cannot reach the alert service. I will keep trying.")
        assert len(failing_first.received) == 1
        assert run.store.deliveries()[0][3:] == ("sent", 2)
        run.close()
    finally:
        failing_first.close()


def test_an_alert_pending_at_a_crash_is_sent_once_after_the_restart(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = with_carer(tmp_path, f"json://127.0.0.1:{port}/")
    run.say("get help")
    run.wait(seconds=10)
    run.until_said("I cannot reach the alert service")
    sent_at = run.clock.now().strftime("%H:%M")
    run.close()
    service = CarerPhoneService(port=port)
    try:
        resumed = run.restart(after_minutes=10)
        assert ("The alert to Sam is still open. It went out 10 minutes ago. Say cancel if you no longer need help."
                in resumed)
        run.until_said("reached Sam's phone service")
        [message] = service.received
        assert f"at {sent_at}" in message["message"], "the message keeps the time it was first sent"
        assert [row[3] for row in run.store.deliveries()] == ["sent"]
        run.close()
    finally:
        service.close()


def test_without_a_carer_the_person_is_told_how_else_to_get_help(tmp_path):
    run = Harness(tmp_path / "data")
    spoken = run.say("get help")
    assert spoken[0].startswith("No carer is set up to be alerted. If you can, shout for help, or call")
    assert run.store.deliveries() == []


def test_a_confirmed_emergency_alerts_the_carer_unless_cancelled(tmp_path, service):
    run = with_carer(tmp_path, service.url)
    run.say("start")
    run.say("yes")
    spoken = run.say("yes")
    assert spoken[-1] == "Sending an alert to Sam in ten seconds. Say cancel to stop."
    assert run.wait(seconds=11)[0] == "Sending the alert to Sam now."
    run.until_said("reached")
    message = service.received[0]["message"]
    assert message.startswith("VoiceRelief EMERGENCY:") and "Call them now; if they do not answer, call 112." in message
    run.close()


def test_silence_after_an_emergency_said_sends_the_alert(tmp_path, service):
    run = with_carer(tmp_path, service.url)
    run.first_session_to_rest()
    assert run.say("i can't feel my legs") == ["You said you cannot feel your legs. Is that right?"]
    assert run.wait(seconds=21) == ["You said you cannot feel your legs. Is that right?"]
    spoken = run.wait(seconds=21)
    assert spoken[0] == "I heard no answer, so I will treat this as an emergency."
    assert spoken[-1] == "Sending an alert to Sam in ten seconds. Say cancel to stop."
    assert run.state == "urgent"
    assert run.wait(seconds=11)[0] == "Sending the alert to Sam now."
    run.until_said("reached")
    run.close()


def test_carers_are_kept_private_and_a_public_server_or_unknown_scheme_refused(tmp_path):
    path = carers_path(tmp_path / "config.toml")
    with pytest.raises(VoiceReliefError, match="public"):
        add_carer(path, "Sam", "ntfy://backpain-alerts")
    with pytest.raises(VoiceReliefError, match="not an alert service"):
        add_carer(path, "Sam", "carrierpigeon://loft/")
    add_carer(path, "Sam", "json://user:secret@192.168.1.20:8080/")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_carers(path)[0].redacted() == "json://192.168.1.20:8080/…"
    env = {**os.environ, "VOICERELIEF_CONFIG": str(tmp_path / "config.toml")}
    listed = subprocess.run([sys.executable, "-m", "voicerelief", "alert", "list"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0 and "Sam" in listed.stdout and "secret" not in listed.stdout


def test_alert_test_sends_through_every_carer_and_reports_each(tmp_path, service):
    env = {**os.environ, "VOICERELIEF_CONFIG": str(tmp_path / "config.toml")}
    add_carer(carers_path(tmp_path / "config.toml"), "Sam", service.url)
    add_carer(carers_path(tmp_path / "config.toml"), "Ana", "json://127.0.0.1:1/")
    result = subprocess.run([sys.executable, "-m", "voicerelief", "alert", "test"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("OK  Sam") and lines[1].startswith("FIX Ana")
    assert service.received[0]["message"].startswith("VoiceRelief TEST")
    doctor = subprocess.run([sys.executable, "-m", "voicerelief", "doctor", "--data-dir", str(tmp_path / "d")],
                            env={**env, "PULSE_SERVER": "unix:/nonexistent/pulse"}, capture_output=True, text=True,
                            timeout=120)
    [alerts] = [line for line in doctor.stdout.splitlines() if "carers to alert" in line]
    assert alerts.startswith("FIX") and "Ana never got a test alert through" in alerts
    remove_carer(carers_path(tmp_path / "config.toml"), "Ana")
    doctor = subprocess.run([sys.executable, "-m", "voicerelief", "doctor", "--data-dir", str(tmp_path / "d")],
                            env={**env, "PULSE_SERVER": "unix:/nonexistent/pulse"}, capture_output=True, text=True,
                            timeout=120)
    [alerts] = [line for line in doctor.stdout.splitlines() if "carers to alert" in line]
    assert alerts.startswith("OK  carers to alert: Sam (json://127.0.0.1:") and "last test through" in alerts


# Stops the process at a connection or name lookup anywhere but the one host a carer's URL names.
ONLY_THE_CARERS_HOST = """
import os, sys
allowed = sys.argv.pop(1)
def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.sendto", "socket.sendmsg"):
        target = args[1] if event == "socket.connect" else args[0]
        host = target[0] if isinstance(target, tuple) else target
        if str(host) != allowed:
            os.write(2, f"NETWORK {event} {host}\\n".encode())
            os._exit(99)
sys.addaudithook(refuse)
from voicerelief.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_with_a_carer_only_the_carers_host_is_reached(tmp_path, service):
    env = {**os.environ, "VOICERELIEF_CONFIG": str(tmp_path / "config.toml")}
    add_carer(carers_path(tmp_path / "config.toml"), "Sam", service.url)
    app = subprocess.Popen([sys.executable, "-c", ONLY_THE_CARERS_HOST, "127.0.0.1", "run", "--text", "--quiet",
                            "--speed", "100", "--data-dir", str(tmp_path / "d")],
                           env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        app.stdin.write("get help\n")
        app.stdin.flush()
        [message] = service.wait_for_messages(1, timeout=60)
        assert "help is needed" in message["message"]
    finally:
        out, errors = app.communicate(timeout=60)
    assert "NETWORK" not in errors and app.returncode == 0, errors[-500:]
    assert "Sending the alert to Sam now." in out


def test_ice_left_on_five_minutes_past_its_deadline_unanswered_alerts_the_carer_once(tmp_path, service):
    run = with_carer(tmp_path, service.url)
    run.first_session_to_rest()
    run.ice_on()
    assert not any("letting Sam know" in line for line in run.wait(minutes=24))
    assert "The ice is still on. I am letting Sam know, so someone can check on you." in run.wait(minutes=1)
    run.until_said("reached Sam's phone service")
    run.wait(minutes=10)
    [message] = service.wait_for_messages(1)
    assert "ice pack is still on" in message["message"]
    assert [row[2] for row in run.store.deliveries()] == ["ice_overdue"]
    run.close()


def wait_until_listening(app: RunningApp, since: int, timeout: float = 30.0) -> None:
    """Until the app logs (it runs with --verbose) that its microphone listens again."""
    deadline = time.monotonic() + timeout
    while not any("listening again" in line for line in app.errors[since:]):
        assert time.monotonic() < deadline, app.errors[since:]
        time.sleep(0.05)


def test_spoken_get_help_is_cancelled_by_voice_and_then_reaches_the_carer(rig, tmp_path, service):
    """Through the virtual microphone: "cancel" stops the countdown; silence after it sends."""
    (tmp_path / "config.toml").write_text('voice = "espeak"\n')
    add_carer(carers_path(tmp_path / "config.toml"), "Sam", service.url)
    app = RunningApp(rig, tmp_path / "data", settings=tmp_path / "config.toml")
    try:
        app.wait_for("Say hey relief to begin")
        app.wait_until_done_talking(rig)
        began, _ = rig.speak("hey relief get help")
        app.wait_for("Sending an alert to Sam in ten seconds", after=began)
        # The ten seconds start once the sentence has been played and the microphone listens again.
        wait_until_listening(app, since=len(app.errors))
        began, _ = rig.speak("cancel")
        app.wait_for("No alert was sent", after=began)
        app.wait_until_done_talking(rig)
        began, _ = rig.speak("hey relief get help")
        app.wait_for("Sending the alert to Sam now", after=began, timeout=40)
        [message] = service.wait_for_messages(1)
        assert "help is needed" in message["message"]
        app.wait_for("reached Sam's phone service", after=began)
    finally:
        app.stop()
    store = Store(tmp_path / "data")
    assert [row[2:4] for row in store.deliveries()] == [("help", "sent")]
    store.close()


def test_discreet_alerts_say_nothing_of_symptoms(tmp_path, service):
    content = load_content(settings=Config(discreet_alerts=True), carers=(Carer("Sam", service.url),))
    run = Harness(tmp_path / "data", content=content)
    run.say("start")
    run.say("yes")
    run.say("yes")
    run.wait(seconds=11)
    [message] = service.wait_for_messages(1)
    assert message["message"].startswith("VoiceRelief needs you.") and "back" not in message["message"]
    run.close()
