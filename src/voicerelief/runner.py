"""The one event loop: events in, the session decides, effects carried out.

Producers (typed input, the microphone listener) only post events to the queue.
A single thread takes them off, together with timer deadlines, and drives the
session. Each step is committed to the store before anything of it is spoken.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Protocol

from voicerelief.clock import Clock, FakeClock
from voicerelief.session import (COUNTED_FROM_SPEECH_END, AdjustVoice, AlertReport, CancelAlert, CancelTimer, Effect,
                                 Event, Expect, Memory, Quit, Record, Say, SendAlert, Session, SpokeDone, StartTimer,
                                 TimerFired)
from voicerelief.store import Step, Store


@dataclass(frozen=True)
class EndOfInput:
    """The input source has closed (end of typed input)."""


@dataclass(frozen=True)
class Announcement:
    """Words from outside the session, such as news about the microphone."""

    say: Say


class AlertCourier(Protocol):
    """Takes alerts out to the carers, off the runner's thread, and posts `AlertReport` events back."""

    def deliver(self, alert_id: str, carer: str, kind: str, body: str) -> None: ...

    def cancel(self, alert_id: str) -> None: ...


class Runner:
    def __init__(self, session: Session, store: Store, clock: Clock,
                 speak: Callable[[Say], None], adjust_voice: Callable[[AdjustVoice], None] = lambda _: None,
                 on_event: Callable[[], None] = lambda: None,
                 listen_for: Callable[[Expect], None] = lambda _: None,
                 courier: AlertCourier | None = None) -> None:
        self.session = session
        self.courier = courier
        self.listen_for = listen_for
        self.on_event = on_event
        self.store = store
        self.clock = clock
        self.speak = speak
        self.adjust_voice = adjust_voice
        self.timers: dict[str, datetime] = store.pending_timers()
        self.events: queue.Queue[Event | EndOfInput | Announcement] = queue.Queue()
        self.finished = False

    def start(self, greet: bool = True) -> None:
        """Greet, or resume where the saved state left off; deadlines that passed fire at once, alerts go on."""
        self._apply(self.session.boot(self.clock.now(), greet))
        if self.courier is not None:
            for alert_id, carer, kind, body in self.store.open_deliveries():
                self.courier.deliver(alert_id, carer, kind, body)
        self.fire_due_timers()

    def post(self, event: Event | EndOfInput | Announcement) -> None:
        """Thread-safe: producers call this."""
        self.events.put(event)

    def handle(self, event: Event) -> None:
        fired = [event.name] if isinstance(event, TimerFired) else []
        if isinstance(event, AlertReport):
            state = event.outcome if event.outcome in ("sent", "expired", "acknowledged") else "pending"
            self.store.mark_delivery(event.alert_id, event.carer, state, event.tries, event.problem,
                                     event.next_attempt)
        self._apply(self.session.handle(event, self.clock.now()), done_timers=fired)

    def next_due(self) -> tuple[str, datetime] | None:
        if not self.timers:
            return None
        name = min(self.timers, key=lambda n: (self.timers[n], n))
        return name, self.timers[name]

    def fire_next_due(self) -> bool:
        """Fire the earliest timer if it is due; False when none is."""
        upcoming = self.next_due()
        if upcoming is None or upcoming[1] > self.clock.now():
            return False
        name, due = upcoming
        del self.timers[name]
        self.handle(TimerFired(name, due))
        return True

    def fire_due_timers(self) -> None:
        while self.fire_next_due():
            pass

    def advance_to(self, moment: datetime) -> None:
        """With a fake clock: let time pass, firing each timer at its own due time."""
        assert isinstance(self.clock, FakeClock)
        while (upcoming := self.next_due()) is not None and upcoming[1] <= moment:
            self.clock.set(upcoming[1])
            self.fire_due_timers()
        self.clock.set(moment)

    def serve(self, idle_wait: float = 0.5) -> None:
        """Run until goodbye or the end of input: the loop of the live front ends."""
        while not self.finished:
            upcoming = self.next_due()
            wait = idle_wait if upcoming is None else min(idle_wait, self.clock.real_seconds_until(upcoming[1]))
            try:
                event = self.events.get(timeout=max(0.0, wait))
            except queue.Empty:
                event = None
            if event is not None:
                self.on_event()
            if isinstance(event, EndOfInput):
                self.finished = True
            elif isinstance(event, Announcement):
                self.speak(event.say)
            elif event is not None:
                self.handle(event)
            self.fire_due_timers()

    def _apply(self, effects: list[Effect], done_timers: list[str] | None = None) -> None:
        records: list[tuple[str, dict]] = []
        started: dict[str, datetime] = {}
        cancelled: list[str] = list(done_timers or [])
        deliveries = [(effect.alert_id, carer, effect.kind, effect.body)
                      for effect in effects if isinstance(effect, SendAlert) for carer in effect.carers]
        called_off = [effect.alert_id for effect in effects if isinstance(effect, CancelAlert)]
        for effect in effects:
            if isinstance(effect, Record):
                records.append((effect.kind, effect.data))
            elif isinstance(effect, StartTimer):
                started[effect.name] = effect.due
                if effect.name in cancelled:
                    cancelled.remove(effect.name)
            elif isinstance(effect, CancelTimer):
                started.pop(effect.name, None)
                cancelled.append(effect.name)
        memory: Memory = self.session.memory
        self.store.commit(Step(self.clock.now(), memory.episode, records, started, cancelled, memory.to_dict(),
                               deliveries, called_off))
        for name in cancelled:
            self.timers.pop(name, None)
        self.timers.update(started)
        spoke = False
        for effect in effects:
            if isinstance(effect, Say):
                self.speak(effect)
                spoke = True
            elif isinstance(effect, AdjustVoice):
                self.adjust_voice(effect)
            elif isinstance(effect, Expect):
                self.listen_for(effect)
            elif isinstance(effect, Quit):
                self.finished = True
            elif isinstance(effect, CancelAlert) and self.courier is not None:
                self.courier.cancel(effect.alert_id)
            elif isinstance(effect, SendAlert) and self.courier is not None:
                for carer in effect.carers:
                    self.courier.deliver(effect.alert_id, carer, effect.kind, effect.body)
        if spoke and self.timers.keys() & COUNTED_FROM_SPEECH_END:
            # Speaking takes time: the wait for an answer counts from the end of the question.
            self._apply(self.session.handle(SpokeDone(), self.clock.now()))
