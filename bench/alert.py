"""Alert benchmark: how long until a carer's service has the message, on 127.0.0.1.

Two channels at once, each with a local stand-in: a real Mosquitto broker read by a
paho-mqtt client (Home Assistant's side), and a local HTTP server (an Apprise
json:// target). Measured, beside a baseline from the same run:

- spoken, end to end: from the last audible 10 ms of "hey relief get help" on the
  PulseAudio virtual microphone to the message at each receiver. The ten-second
  cancel window starts when the countdown sentence has been played, so the total
  holds the recognition, that sentence, the window and the delivery; each part is
  printed. Between runs "cancel" calls the alert off;
- delivery alone: from handing an alert to the app's sender to its arrival at each
  receiver; the baseline is the floor for the same channel, a bare paho QoS 1
  publish round trip and a bare HTTP POST from this process to the same servers;
- the broker coming back: an alert sent while the broker is down, then the broker
  started; from its port accepting connections to the alert's arrival, against a
  fresh paho client connecting and publishing at that moment.

Run: .venv/bin/python bench/alert.py [--spoken 5] [--deliveries 20] [--returns 5]; with the defaults it writes
bench/results/alert.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from audio_rig import AUDIBLE_RMS, AudioRig, RunningApp  # noqa: E402
from test_call_for_help import CarerPhoneService  # noqa: E402
from test_home_assistant import ALERT_TOPIC, AVAILABILITY_TOPIC, PASSWORD, USER, Broker, HomeAssistant  # noqa: E402
from isolation import isolate_from_the_user  # noqa: E402
from stamp import published  # noqa: E402

from voicerelief.alert_delivery import AlertSender  # noqa: E402
from voicerelief.carers import Carer, add_carer, carers_path  # noqa: E402
from voicerelief.session.call_for_help import COUNTDOWN_SECONDS  # noqa: E402


def spread(values: list[float]) -> str:
    """The p50, p95 and trial-count cells of a table row."""
    if not values:
        return "n/a | n/a | 0"
    return f"{np.percentile(values, 50):.3f} s | {np.percentile(values, 95):.3f} s | {len(values)}"


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark waited too long")
        time.sleep(0.005)


def first_arrival(home_assistant: HomeAssistant, since: int, event_type: str) -> float | None:
    """When the first alert event of this type arrived among the messages from index ``since`` on."""
    for message, at in zip(home_assistant.messages[since:], home_assistant.arrival_times[since:]):
        if message.topic == ALERT_TOPIC and json.loads(message.payload).get("event_type") == event_type:
            return at
    return None


def first_http_arrival(service: CarerPhoneService, since: int, needle: str) -> float | None:
    for body, at in zip(service.received[since:], service.arrival_times[since:]):
        if needle in body.get("message", ""):
            return at
    return None


def sentence_span(rig: AudioRig, start: float, pause_seconds: float = 2.0) -> tuple[float, float]:
    """The first and last audible moments on the speaker after ``start``, up to its first pause this long."""
    audible = [at for at, rms in list(rig.levels) if at >= start and rms > AUDIBLE_RMS]
    last = audible[0]
    for at in audible[1:]:
        if at - last >= pause_seconds:
            break
        last = at
    return audible[0], last


def spoken(work: Path, broker: Broker, service: CarerPhoneService, runs: int) -> dict[str, list[float]]:
    config = work / "config.toml"
    add_carer(carers_path(config), "Sam", broker.url())
    add_carer(carers_path(config), "Ana", service.url)
    rig = AudioRig(work / "pulse")
    rig.start()
    home_assistant = HomeAssistant(broker)
    app = RunningApp(rig, work / "data", settings=config)
    parts: dict[str, list[float]] = {"to the countdown sentence": [], "the sentence": [],
                                     "sentence end to broker": [], "words end to broker": [],
                                     "words end to HTTP server": []}
    try:
        app.wait_for("Say hey relief to begin")
        for _ in range(runs):
            app.wait_until_done_talking(rig)
            mqtt_before, http_before = len(home_assistant.messages), len(service.received)
            began, ended = rig.speak("hey relief get help")
            words_end = rig.last_sound_of(began, ended)
            wait_until(lambda: first_arrival(home_assistant, mqtt_before, "help") is not None
                       and first_http_arrival(service, http_before, ": help is needed") is not None)
            at_broker = first_arrival(home_assistant, mqtt_before, "help")
            at_http = first_http_arrival(service, http_before, ": help is needed")
            first, last = sentence_span(rig, words_end)
            parts["to the countdown sentence"].append(first - words_end)
            parts["the sentence"].append(last - first)
            parts["sentence end to broker"].append(at_broker - last)
            parts["words end to broker"].append(at_broker - words_end)
            parts["words end to HTTP server"].append(at_http - words_end)
            app.wait_for("reached", after=began)
            app.wait_until_done_talking(rig)
            said_at = time.monotonic()
            rig.speak("cancel")
            app.wait_for("no help is needed", after=said_at)
    finally:
        app.stop()
        home_assistant.close()
        rig.stop()
    return parts


def delivery(broker: Broker, service: CarerPhoneService, runs: int) -> dict[str, list[float]]:
    home_assistant = HomeAssistant(broker)
    reports = []
    sender = AlertSender((Carer("Sam", broker.url()), Carer("Ana", service.url)), reports.append)
    floor_client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    floor_client.username_pw_set(USER, PASSWORD)
    floor_client.connect("127.0.0.1", broker.port)
    floor_client.loop_start()
    times: dict[str, list[float]] = {"app, broker": [], "bare paho QoS 1 publish": [],
                                     "app, HTTP server": [], "bare HTTP POST": []}
    try:
        home_assistant.wait_for(AVAILABILITY_TOPIC, "online")
        for run in range(runs):
            mqtt_before, http_before = len(home_assistant.messages), len(service.received)
            started = time.monotonic()
            sender.deliver(f"bench-{run}", "Sam", "test", "benchmark")
            sender.deliver(f"bench-{run}", "Ana", "test", "benchmark")
            wait_until(lambda: first_arrival(home_assistant, mqtt_before, "test") is not None
                       and len(service.received) > http_before)
            times["app, broker"].append(first_arrival(home_assistant, mqtt_before, "test") - started)
            times["app, HTTP server"].append(service.arrival_times[http_before] - started)

            mqtt_before, http_before = len(home_assistant.messages), len(service.received)
            started = time.monotonic()
            floor_client.publish(ALERT_TOPIC, json.dumps({"event_type": "test"}), qos=1).wait_for_publish(5)
            wait_until(lambda: len(home_assistant.messages) > mqtt_before)
            times["bare paho QoS 1 publish"].append(home_assistant.arrival_times[mqtt_before] - started)
            started = time.monotonic()
            request = urllib.request.Request(f"http://127.0.0.1:{service.port}/", method="POST",
                                             data=json.dumps({"message": "floor"}).encode(),
                                             headers={"Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=5).close()
            wait_until(lambda: len(service.received) > http_before)
            times["bare HTTP POST"].append(service.arrival_times[http_before] - started)
    finally:
        sender.close()
        floor_client.disconnect()
        floor_client.loop_stop()
        home_assistant.close()
    return times


def broker_return(broker: Broker, runs: int, down_seconds: float = 3.0) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"app's alert after the broker returns": [],
                                     "a fresh client connecting and publishing": []}
    for run in range(runs):
        watching = HomeAssistant(broker)
        sender = AlertSender((Carer("Sam", broker.url()),), lambda report: None)
        watching.wait_for(AVAILABILITY_TOPIC, "online")
        watching.close()
        broker.stop()
        sender.deliver(f"return-{run}", "Sam", "test", "benchmark")
        time.sleep(down_seconds)
        broker.start()
        back = time.monotonic()
        home_assistant = HomeAssistant(broker)
        try:
            wait_until(lambda: first_arrival(home_assistant, 0, "test") is not None, timeout=120)
            times["app's alert after the broker returns"].append(first_arrival(home_assistant, 0, "test") - back)
            floor = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            floor.username_pw_set(USER, PASSWORD)
            before = len(home_assistant.messages)
            started = time.monotonic()
            floor.connect("127.0.0.1", broker.port)
            floor.loop_start()
            floor.publish(ALERT_TOPIC, json.dumps({"event_type": "test"}), qos=1).wait_for_publish(5)
            wait_until(lambda: len(home_assistant.messages) > before)
            times["a fresh client connecting and publishing"].append(home_assistant.arrival_times[before] - started)
            floor.disconnect()
            floor.loop_stop()
        finally:
            home_assistant.close()
            sender.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spoken", type=int, default=5)
    parser.add_argument("--deliveries", type=int, default=20)
    parser.add_argument("--returns", type=int, default=5)
    args = parser.parse_args()
    isolate_from_the_user()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        broker = Broker(work / "mosquitto")
        broker.start()
        service = CarerPhoneService()
        try:
            settings = {"spoken": args.spoken, "deliveries": args.deliveries, "returns": args.returns,
                        "cancel_window_s": COUNTDOWN_SECONDS}
            with published("alert", settings, save=(args.spoken, args.deliveries, args.returns) == (5, 20, 5)) as figures:
                print(f"Alert delivery on 127.0.0.1 (Mosquitto; an HTTP server for Apprise's json://); "
                      f"cancel window {COUNTDOWN_SECONDS} s.")
                for title, measured in (
                        ("Delivery alone: the app's sender against the bare floor of each channel",
                         delivery(broker, service, args.deliveries)),
                        ("The broker back after 3 s down: from its port open to the alert's arrival",
                         broker_return(broker, args.returns)),
                        ("Spoken \"hey relief get help\", then silence: from the words' last audible 10 ms",
                         spoken(work, broker, service, args.spoken))):
                    figures[title] = measured
                    print(f"\n{title}:\n\n| measured | p50 | p95 | trials |\n| --- | ---: | ---: | ---: |")
                    for name, values in measured.items():
                        print(f"| {name} | {spread(values)} |")
        finally:
            service.close()
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
