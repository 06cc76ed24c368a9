"""Getting an alert to each carer: tried until it is through, cancelled or expired, off the session's thread.

Each delivery (one alert to one carer) is attempted at once, then again with a
capped, jittered exponential back-off. Outcomes go back to the runner as
`AlertReport` events: the first success ("sent"), each failure ("failing"),
and giving up ("expired"); a carer's Home Assistant may also answer ("acknowledged").
Apprise and paho-mqtt are imported only here, only when a carer is set up, so a
household without carers never loads a network library.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Protocol

from voicerelief.carers import Carer
from voicerelief.home_assistant import SCHEME as HOME_ASSISTANT
from voicerelief.session import AlertReport

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 2.0
LONGEST_RETRY_SECONDS = 60.0
EXPIRES_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class Delivery:
    alert_id: str
    carer: Carer
    kind: str
    body: str


class Channel(Protocol):
    """The way to one carer: ``send`` returns None once the service took the alert, else what went wrong."""

    def ready(self, timeout: float) -> str | None:
        """None once the channel can send (waiting at most ``timeout`` s), else why it cannot."""
        ...

    def send(self, alert_id: str, kind: str, body: str) -> str | None: ...

    def close(self) -> None: ...


class AppriseChannel:
    """Any service Apprise knows (ntfy on the home server, e-mail, Matrix, a webhook...): "sent", never "seen"."""

    def __init__(self, url: str) -> None:
        self.url = url

    def ready(self, timeout: float) -> str | None:
        return None

    def send(self, alert_id: str, kind: str, body: str) -> str | None:
        # The id in the title lets a receiver drop a repeat of an alert it already has.
        title = f"VoiceRelief {'TEST' if kind == 'test' else 'alert'} {alert_id}"
        return send_with_apprise(self.url, title, body)

    def close(self) -> None:
        pass


def open_channel(carer: Carer, acknowledged: Callable[[str], None],
                 connected: Callable[[], None] = lambda: None) -> Channel:
    """The channel a carer's URL names; ``acknowledged`` hears each alert id the carer answers,
    ``connected`` each time a lasting connection is made (again)."""
    if carer.url.startswith(f"{HOME_ASSISTANT}://"):
        from voicerelief.home_assistant import HomeAssistantChannel

        return HomeAssistantChannel(carer.url, acknowledged, connected)
    return AppriseChannel(carer.url)


def reach(carer: Carer, seconds: float, test_alert: tuple[str, str] | None = None) -> str | None:
    """None when the carer's service answers within ``seconds`` (and takes ``test_alert``, an alert id
    and its text, when one is given); else what went wrong, in a few words."""
    channel = open_channel(carer, lambda alert_id: None)
    try:
        problem = channel.ready(seconds)
        if problem is None and test_alert is not None:
            problem = channel.send(test_alert[0], "test", test_alert[1])
        return problem
    finally:
        channel.close()


@dataclass(order=True)
class _Attempt:
    due: float
    delivery: Delivery = field(compare=False)
    tries: int = field(default=0, compare=False)
    expires: float = field(default=0.0, compare=False)


def send_with_apprise(url: str, title: str, body: str) -> str | None:
    """None when the service took the message, else what went wrong, in a few words."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return "the URL is not one Apprise can use"
    return None if notifier.notify(title=title, body=body) else "the service did not take the message"


def retry_delay(tries: int, jitter: Callable[[], float] = random.random) -> float:
    """Seconds before try ``tries + 1``: doubling from 2 s, at most 60 s, each shortened by up to half at random."""
    ceiling = min(LONGEST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (tries - 1))
    return ceiling * (0.5 + 0.5 * jitter())


class AlertSender:
    """The runner's courier: each alert to each carer by name, retried on a thread of its own."""

    def __init__(self, carers: tuple[Carer, ...], report: Callable[[AlertReport], None]) -> None:
        self._carers = {carer.name: carer for carer in carers}
        self._report = report
        self._queue: list[_Attempt] = []
        self._cancelled: set[str] = set()
        self._wake = threading.Condition()
        self._closed = False
        # Last: a channel may call back (connected) from its own thread at once.
        self._channels = {carer.name: open_channel(carer, self._acknowledged_by(carer.name),
                                                   self._retry_now_for(carer.name)) for carer in carers}
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()

    def deliver(self, alert_id: str, carer: str, kind: str, body: str) -> None:
        if carer not in self._carers:
            log.warning("An alert for %s was not sent: %s is no longer set up as a carer.", carer, carer)
            self._report(AlertReport(alert_id, carer, "expired", 0))
            return
        delivery = Delivery(alert_id, self._carers[carer], kind, body)
        with self._wake:
            now = time.monotonic()
            heapq.heappush(self._queue, _Attempt(now, delivery, 0, now + EXPIRES_AFTER_SECONDS))
            self._wake.notify()

    def cancel(self, alert_id: str) -> None:
        with self._wake:
            self._cancelled.add(alert_id)
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=5)
        for channel in self._channels.values():
            channel.close()

    def _retry_now_for(self, carer: str) -> Callable[[], None]:
        """The carer's service is back: whatever waits for it goes now, not at its next back-off."""
        def retry_now() -> None:
            with self._wake:
                now = time.monotonic()
                for attempt in self._queue:
                    if attempt.delivery.carer.name == carer:
                        attempt.due = min(attempt.due, now)
                heapq.heapify(self._queue)
                self._wake.notify()
        return retry_now

    def _acknowledged_by(self, carer: str) -> Callable[[str], None]:
        def acknowledged(alert_id: str) -> None:
            self.cancel(alert_id)
            self._report(AlertReport(alert_id, carer, "acknowledged", 0))
        return acknowledged

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (not self._queue or self._queue[0].due > time.monotonic()):
                    self._wake.wait(None if not self._queue else self._queue[0].due - time.monotonic())
                if self._closed:
                    return
                attempt = heapq.heappop(self._queue)
                if attempt.delivery.alert_id in self._cancelled:
                    continue
            self._try(attempt)

    def _try(self, attempt: _Attempt) -> None:
        delivery = attempt.delivery
        try:
            problem = self._channels[delivery.carer.name].send(delivery.alert_id, delivery.kind, delivery.body)
        except Exception as error:  # a plug-in's own failure must not end the thread that retries
            problem = f"{type(error).__name__}"
        attempt.tries += 1
        if problem is None:
            self._report(AlertReport(delivery.alert_id, delivery.carer.name, "sent", attempt.tries))
            return
        log.warning("Alert to %s (%s) failed, try %d: %s", delivery.carer.name, delivery.carer.redacted(),
                    attempt.tries, problem)
        delay = retry_delay(attempt.tries)
        attempt.due = time.monotonic() + delay
        if attempt.due > attempt.expires:
            self._report(AlertReport(delivery.alert_id, delivery.carer.name, "expired", attempt.tries, problem))
            return
        next_attempt = (datetime.now() + timedelta(seconds=delay)).isoformat(timespec="seconds")
        self._report(AlertReport(delivery.alert_id, delivery.carer.name, "failing", attempt.tries, problem,
                                 next_attempt))
        with self._wake:
            heapq.heappush(self._queue, attempt)
