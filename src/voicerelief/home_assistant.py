"""Home Assistant over MQTT: the assistant as a device a carer's home already knows.

A carer whose URL is ``homeassistant://USER:PASSWORD@BROKER:PORT/NODE`` is reached
through the household's MQTT broker. With MQTT discovery, Home Assistant shows a
device with three entities:

- an event entity, "Alert", fired once per alert (help, red_flag, ice_overdue, test,
  cancelled) at QoS 1 and never retained, so a restart does not replay it;
- a binary sensor, "Help needed", on while an alert is open (retained: it is a state);
- a button, "On my way", whose press is the carer's acknowledgement: the person
  hears that someone answered, the only news that may say help is coming.

Discovery and availability are retained; a last will marks the device offline if
the assistant dies, and discovery is sent again whenever Home Assistant announces
that it is back online. paho-mqtt reconnects by itself; while it is not connected,
a send fails at once and the courier's own back-off tries again.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote, urlsplit

from voicerelief.errors import VoiceReliefError

log = logging.getLogger(__name__)

SCHEME = "homeassistant"
DEFAULT_PORT = 1883
DEFAULT_NODE = "voicerelief"
DISCOVERY_PREFIX = "homeassistant"
HOME_ASSISTANT_STATUS = f"{DISCOVERY_PREFIX}/status"
EVENT_TYPES = ("help", "red_flag", "ice_overdue", "test", "cancelled")
# Kinds after which the person still needs someone; "cancelled" and "test" are not.
NEEDS_HELP = ("help", "red_flag", "ice_overdue")
CONFIRM_SECONDS = 5.0
RECONNECT_SECONDS = (0.5, 4)
KEEPALIVE_SECONDS = 30


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str
    password: str
    node: str


def broker_of(url: str) -> Broker:
    """The broker and node a ``homeassistant://`` URL names; one sentence why not when it is malformed."""
    parts = urlsplit(url)
    node = parts.path.strip("/") or DEFAULT_NODE
    if not parts.hostname:
        raise VoiceReliefError(f"{SCHEME}:// needs the address of your MQTT broker, "
                               f"as {SCHEME}://USER:PASSWORD@BROKER:1883/bedroom.")
    if not node.replace("_", "").replace("-", "").isalnum():
        raise VoiceReliefError(f"{node!r} cannot name the device: use letters, digits, - and _ only.")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise VoiceReliefError(f"The port in {parts.netloc.split('@')[-1]!r} is not a number.") from None
    return Broker(parts.hostname, port, unquote(parts.username or ""), unquote(parts.password or ""), node)


class Topics:
    def __init__(self, node: str) -> None:
        self.node = node
        base = f"voicerelief/{node}"
        self.availability = f"{base}/availability"
        self.alert = f"{base}/alert"
        self.help_needed = f"{base}/help_needed"
        self.acknowledge = f"{base}/acknowledge"

    def discovery(self) -> dict[str, dict]:
        """Each entity's config topic and payload, as Home Assistant's MQTT discovery reads them."""
        device = {"identifiers": [f"voicerelief_{self.node}"], "name": f"VoiceRelief {self.node}",
                  "manufacturer": "VoiceRelief", "model": "hands-free back-pain assistant"}
        common = {"availability_topic": self.availability, "device": device}
        unique = f"voicerelief_{self.node}"
        return {
            f"{DISCOVERY_PREFIX}/event/{self.node}/alert/config": {
                **common, "name": "Alert", "unique_id": f"{unique}_alert", "state_topic": self.alert,
                "event_types": list(EVENT_TYPES), "qos": 1},
            f"{DISCOVERY_PREFIX}/binary_sensor/{self.node}/help_needed/config": {
                **common, "name": "Help needed", "unique_id": f"{unique}_help_needed",
                "state_topic": self.help_needed, "device_class": "problem", "qos": 1},
            f"{DISCOVERY_PREFIX}/button/{self.node}/acknowledge/config": {
                **common, "name": "On my way", "unique_id": f"{unique}_acknowledge",
                "command_topic": self.acknowledge, "qos": 1},
        }


class HomeAssistantChannel:
    """One carer's Home Assistant: a lasting MQTT connection that sends alerts and hears the acknowledgement."""

    def __init__(self, url: str, on_acknowledged: Callable[[str], None],
                 on_connected: Callable[[], None] = lambda: None) -> None:
        import paho.mqtt.client as mqtt

        self.broker = broker_of(url)
        self.topics = Topics(self.broker.node)
        self._on_acknowledged = on_acknowledged
        self._on_connected = on_connected
        self._open_alert = ""
        self._unreached = "the MQTT broker has not answered yet"
        self._refusal = ""
        self._connected = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"voicerelief-{self.broker.node}")
        if self.broker.username:
            self._client.username_pw_set(self.broker.username, self.broker.password or None)
        self._client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        # A broker on the home network is cheap to knock on: an alert waiting for it goes out within seconds of its return.
        self._client.reconnect_delay_set(RECONNECT_SECONDS[0], RECONNECT_SECONDS[1])
        self._client.on_connect = self._connected_to_broker
        self._client.on_disconnect = self._disconnected
        self._client.on_connect_fail = self._unreachable
        self._client.on_message = self._message
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE_SECONDS)
        self._client.loop_start()

    def ready(self, timeout: float) -> str | None:
        """None once connected, else what stands in the way (for `alert test`, which must not wait for ever)."""
        return None if self._connected.wait(timeout) else self._problem

    def send(self, alert_id: str, kind: str, body: str) -> str | None:
        """None once the broker has confirmed the event, else what went wrong, in a few words."""
        if not self._connected.is_set():
            return self._problem
        payload = json.dumps({"event_type": kind, "alert_id": alert_id, "message": body})
        sent = self._client.publish(self.topics.alert, payload, qos=1, retain=False)
        try:
            sent.wait_for_publish(CONFIRM_SECONDS)
        except (RuntimeError, ValueError) as error:
            return f"the broker did not take the message ({error})"
        if not sent.is_published():
            return "the broker did not confirm the message in time"
        if kind in NEEDS_HELP:
            self._open_alert = alert_id
            self._publish_help_needed(True)
        elif kind == "cancelled":
            self._open_alert = ""
            self._publish_help_needed(False)
        return None

    def close(self) -> None:
        if self._connected.is_set():
            self._client.publish(self.topics.availability, "offline", qos=1, retain=True).wait_for_publish(2)
        self._client.disconnect()
        self._client.loop_stop()

    def _publish_help_needed(self, needed: bool) -> None:
        self._client.publish(self.topics.help_needed, "ON" if needed else "OFF", qos=1, retain=True)

    def _announce(self) -> None:
        for topic, config in self.topics.discovery().items():
            self._client.publish(topic, json.dumps(config), qos=1, retain=True)
        self._client.publish(self.topics.availability, "online", qos=1, retain=True)
        self._publish_help_needed(bool(self._open_alert))

    def _connected_to_broker(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refusal = f"the MQTT broker at {self.broker.host}:{self.broker.port} refused us: {reason_code}"
            log.warning("%s", self._refusal)
            return
        self._refusal = ""
        client.subscribe([(HOME_ASSISTANT_STATUS, 1), (self.topics.acknowledge, 1)])
        self._announce()
        self._connected.set()
        self._on_connected()

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self._unreachable(client, userdata)

    @property
    def _problem(self) -> str:
        return self._refusal or self._unreached

    def _unreachable(self, client, userdata) -> None:
        self._unreached = f"the MQTT broker at {self.broker.host}:{self.broker.port} cannot be reached"

    def _message(self, client, userdata, message) -> None:
        text = message.payload.decode("utf-8", "replace")
        if message.topic == HOME_ASSISTANT_STATUS and text == "online":
            self._announce()
        elif message.topic == self.topics.acknowledge and self._open_alert:
            acknowledged, self._open_alert = self._open_alert, ""
            self._publish_help_needed(False)
            self._on_acknowledged(acknowledged)
