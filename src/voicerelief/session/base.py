"""What every phase of the session shares: its parts, its memory, and how it says and schedules things."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from transitions import Machine

from voicerelief.call_numbers import CallNumbers
from voicerelief.commands import PhraseTable
from voicerelief.prompts import Prompts
from voicerelief.protocol import Timings
from voicerelief.red_flags import RedFlagQuestion
from voicerelief.routine import Stretch
from voicerelief.session.events import CancelTimer, Effect, Record, Say, StartTimer
from voicerelief.session.machine import QUESTION_STATES
from voicerelief.session.memory import Memory


# States where a timer runs.
TIMED_STATES = frozenset({"iceOn", "iceOff", "heatOn"})


class SessionBase:
    """The parts and helpers the phases use; `Session` puts the phases together."""

    prompts: Prompts
    timings: Timings
    routine: tuple[Stretch, ...]
    table: PhraseTable
    memory: Memory
    machine: Machine
    state: str
    now: datetime
    red_flags: tuple[RedFlagQuestion, ...]
    numbers: CallNumbers
    carers: tuple[str, ...]
    discreet_alerts: bool
    _effects: list[Effect]
    # Bound to each instance by `transitions`.
    trigger: Callable[[str], bool]
    # Supplied by the call-for-help phase, used by screening after an emergency.
    after_emergency_advice: Callable[[], None]
    # Supplied by the cold-and-heat phase.
    _say_time_left: Callable[[], None]

    def _span(self, minutes: int) -> str:
        """A span of whole minutes as said: under one is "less than a minute", an hour or more "more than an hour"."""
        if minutes < 1:
            return self.prompts.say("durations.under_a_minute")
        if minutes == 1:
            return self.prompts.say("durations.one_minute")
        if minutes < 60:
            return self.prompts.say("durations.minutes", minutes=minutes)
        return self.prompts.say("durations.over_an_hour")

    def _ago(self, minutes: int) -> str:
        """How long ago, as said: exact up to ten minutes, then about so many (in fives), then more than an hour."""
        if minutes <= 10 or minutes >= 60:
            return self._span(minutes)
        return self.prompts.say("durations.about_minutes", minutes=min(55, 5 * round(minutes / 5)))

    def _wait(self, seconds: float) -> str:
        """How long until something may start, as said: "now", about so many minutes (in fives), or hours."""
        minutes = seconds / 60
        if minutes <= 0:
            return self.prompts.say("durations.now")
        if minutes <= 55:
            return self.prompts.say("durations.in_minutes", minutes=5 * math.ceil(minutes / 5))
        if minutes < 90:
            return self.prompts.say("durations.in_one_hour")
        return self.prompts.say("durations.in_hours", hours=round(minutes / 60))

    def _ice_minutes_left(self) -> int | None:
        if not self.memory.ice_due:
            return None
        return max(0, -minutes_between(self.memory.ice_due, self.now))

    def _hours_since_onset(self) -> float:
        if not self.memory.onset:
            return 0.0
        return (self.now - time_of(self.memory.onset)).total_seconds() / 3600

    def _episode_is_current(self) -> bool:
        memory = self.memory
        if not memory.episode or not memory.last_session:
            return False
        return self.now - time_of(memory.last_session) < timedelta(days=self.timings.episode_days)

    def _is_question(self) -> bool:
        return self.state in QUESTION_STATES

    def _ask(self, key: str, urgency: int = 0, **fields: Any) -> None:
        text = self._text(key, **fields)
        self.memory.last_prompt = text
        self._emit(Say(text, key, urgency))

    def _say_text(self, text: str, key: str, urgency: int = 0) -> None:
        """Say words from content other than the prompts (a safety question, a caution's reason)."""
        self._emit(Say(text, key, urgency))

    def _say(self, key: str, urgency: int = 0, **fields: Any) -> None:
        self._emit(Say(self._text(key, **fields), key, urgency))

    def _repeat_last_prompt(self) -> None:
        if self.memory.last_prompt:
            self._emit(Say(self.memory.last_prompt, "repeat"))

    def _carry_on(self) -> None:
        """Back to what was under way after an interruption: where a timer runs, the time left (not "I will
        tell you when twenty minutes are up", some of which have gone); elsewhere the waiting prompt."""
        if self.state in TIMED_STATES:
            self._say_time_left()
        else:
            self._repeat_last_prompt()

    def _say_once(self, key: str, **fields: Any) -> None:
        """Advice a person needs once per episode, not at every session."""
        if key not in self.memory.said_once:
            self.memory.said_once.append(key)
            self._say(key, **fields)

    def _say_closing_advice(self) -> None:
        """What every session ends with: the safety net, and once per episode how to stay active and get up."""
        self._say_once("session.stay_active")
        self._say_once("session.getting_up")
        self._say("session.safety_net")

    def _text(self, key: str, **fields: Any) -> str:
        numbers = self.numbers
        return self.prompts.say(key, emergency=numbers.spoken_emergency(), urgent=numbers.spoken_urgent(), **fields)

    def _start(self, name: str, seconds: float) -> None:
        self._emit(StartTimer(name, self.now + timedelta(seconds=seconds)))

    def _cancel(self, name: str) -> None:
        self._emit(CancelTimer(name))

    def _record(self, kind: str, data: dict[str, Any]) -> None:
        self._emit(Record(kind, data))

    def _emit(self, effect: Effect) -> None:
        self._effects.append(effect)


def each_value(**values: Iterable[object]) -> list[dict[str, object]]:
    """Fills that between them give each field every one of its values, the shorter lists repeating: enough to know
    every sentence of a prompt whose sentences each hold one field. A field without values gives no fills."""
    lists = {name: list(field_values) for name, field_values in values.items()}
    if not all(lists.values()):
        return []
    longest = max(len(field_values) for field_values in lists.values())
    return [{name: field_values[i % len(field_values)] for name, field_values in lists.items()} for i in range(longest)]


def time_of(text: str) -> datetime:
    return datetime.fromisoformat(text)


def minutes_between(start: str, end: datetime) -> int:
    return int((end - time_of(start)).total_seconds() // 60) if start else 0


def count_on_day(moments: list[str], day: str) -> int:
    """How many of the ISO moments fall on the ISO ``day``."""
    return sum(moment.startswith(day) for moment in moments)


def clock_time(moment: datetime) -> str:
    """A time of day, for a carer's message (the assistant itself says spans of time, never clock times)."""
    return moment.strftime("%H:%M")
