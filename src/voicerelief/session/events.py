"""What reaches the session (events) and what it asks the adapters to do (effects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# ---- events: what reaches the session ------------------------------------------------


@dataclass(frozen=True)
class Said:
    """An intent the person said (recognized, or typed in text mode)."""

    intent: str
    value: int | None = None
    # How sure the recognizer was (its least sure word, 0 to 1); None where nothing measured it (typed).
    confidence: float | None = None


@dataclass(frozen=True)
class NotUnderstood:
    """Speech was heard but matched no phrase."""

    text: str = ""


@dataclass(frozen=True)
class TimerFired:
    name: str
    due: datetime


@dataclass(frozen=True)
class SpokeDone:
    """Everything said in answer to the last event has been spoken: waiting for an answer starts now."""


@dataclass(frozen=True)
class AlertReport:
    """News of one alert to one carer: "sent" (their service took it), "failing" (a try failed; another is
    due at ``next_attempt``), "expired" (given up), "acknowledged" (the carer answered)."""

    alert_id: str
    carer: str
    outcome: str
    tries: int = 1
    problem: str = ""
    next_attempt: str = ""


Event = Said | NotUnderstood | TimerFired | SpokeDone | AlertReport

# ---- effects: what the adapters must do ----------------------------------------------


@dataclass(frozen=True)
class Say:
    text: str
    key: str
    # 0: plain speech; 1 and up: an alert, announced by a chime that grows louder with each reminder.
    urgency: int = 0


@dataclass(frozen=True)
class StartTimer:
    name: str
    due: datetime


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class Record:
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class AdjustVoice:
    """Change speech rate (words per minute) or volume (0 to 1) by a step."""

    rate_step: int = 0
    volume_step: float = 0.0


@dataclass(frozen=True)
class Quit:
    """The person said goodbye: the front end may stop."""


@dataclass(frozen=True)
class Expect:
    """What the person may say now: the recognizer listens for these intents only."""

    intents: frozenset[str]


@dataclass(frozen=True)
class SendAlert:
    """Send this message to every carer, until each has it: written to the outbox before the first try."""

    alert_id: str
    kind: str
    body: str
    carers: tuple[str, ...]


@dataclass(frozen=True)
class CancelAlert:
    """Stop retrying an alert (a cancellation message follows as an alert of its own)."""

    alert_id: str


Effect = Say | StartTimer | CancelTimer | Record | AdjustVoice | Quit | Expect | SendAlert | CancelAlert
