"""Drives the real session, runner and SQLite store under a fake clock, with typed intents."""

from __future__ import annotations

import queue
import time
from datetime import datetime, timedelta
from pathlib import Path

from voicerelief.app import Content, intent_event, load_content, open_runner, send_alerts
from voicerelief.clock import FakeClock
from voicerelief.red_flags import load_red_flags
from voicerelief.session import Say
from voicerelief.store import Store

MONDAY_8AM = datetime(2026, 3, 2, 8, 0, 0)
# How many safety questions a first session asks when every answer is no.
FIRST_SAFETY_QUESTIONS = sum(q.asked == "first" and not q.only_if for q in load_red_flags())
LATER_SAFETY_QUESTIONS = sum(q.asked == "later" and not q.only_if for q in load_red_flags())


class Harness:
    def __init__(self, data_dir: Path, start: datetime = MONDAY_8AM, routine: Path | None = None,
                 content: Content | None = None) -> None:
        self.data_dir = data_dir
        self.clock = FakeClock(start)
        self.content = content or load_content(routine)
        self.spoken: list[Say] = []
        self._open()

    def _open(self) -> None:
        self.store = Store(self.data_dir)
        self.runner = open_runner(self.content, self.store, self.clock, self.spoken.append)
        self.sender = send_alerts(self.runner, self.content)
        self.runner.start()

    def until_said(self, fragment: str, timeout: float = 30.0) -> list[str]:
        """Handle events from other threads (alert reports) until a line with ``fragment`` is spoken."""
        before = len(self.spoken)
        deadline = time.monotonic() + timeout
        while not any(fragment in s.text for s in self.spoken[before:]):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{fragment!r} was not said; said: {[s.text for s in self.spoken[before:]]}"
            try:
                event = self.runner.events.get(timeout=remaining)
            except queue.Empty:
                continue
            self.runner.handle(event)
        return [s.text for s in self.spoken[before:]]

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close()
        self.store.close()

    def drain(self) -> list[str]:
        """Handle every event other threads have queued so far (alert reports); returns the texts spoken."""
        before = len(self.spoken)
        while True:
            try:
                event = self.runner.events.get_nowait()
            except queue.Empty:
                return [s.text for s in self.spoken[before:]]
            self.runner.handle(event)

    @property
    def state(self) -> str:
        return self.runner.session.state

    @property
    def memory(self):
        return self.runner.session.memory

    def say(self, text: str) -> list[str]:
        """Type a phrase; returns the texts spoken in answer."""
        before = len(self.spoken)
        self.runner.handle(intent_event(self.content.table, text))
        return [s.text for s in self.spoken[before:]]

    def wait(self, minutes: float = 0, seconds: float = 0) -> list[str]:
        before = len(self.spoken)
        self.runner.advance_to(self.clock.now() + timedelta(minutes=minutes, seconds=seconds))
        return [s.text for s in self.spoken[before:]]

    def restart(self, after_minutes: float = 0) -> list[str]:
        """Stop the program, let time pass while it is down, and start it again."""
        self.close()
        self.clock.advance(after_minutes * 60)
        before = len(self.spoken)
        self._open()
        return [s.text for s in self.spoken[before:]]

    def keys(self) -> list[str]:
        return [s.key for s in self.spoken]

    def records(self, kind: str) -> list[dict]:
        return [data for _, _, k, data in self.store.events([kind]) if k == kind]

    def first_session_to_rest(self, onset: str = "minutes ago", pain: str = "seven") -> None:
        self.say("start")
        self.answer_every_safety_question("no")
        self.say(onset)
        self.say(pain)
        self.say("yes")
        assert self.state == "rest"

    def answer_every_safety_question(self, answer: str) -> int:
        """Answer each safety question the same way; returns how many were asked."""
        asked = 0
        while self.state == "redFlags" and not self.memory.confirming_flag:
            self.say(answer)
            asked += 1
        return asked

    def ice_on(self) -> None:
        self.say("ready")
        if self.state == "coldOrHeat":
            self.say("ice")
        assert self.state == "iceReady"
        self.say("ready")
        assert self.state == "iceOn"

    def ice_round(self, minutes_late: int = 0) -> None:
        """A whole round from rest: 20 on (removed ``minutes_late`` after the prompt), skin fine, 20 off, 20 on."""
        self.ice_on()
        self.wait(minutes=20 + minutes_late)
        self.say("done")
        self.say("no")
        self.wait(minutes=20)
        self.say("ready")
        self.wait(minutes=20)
        self.say("ice off")
        self.say("no")
        assert self.state == "stretchOffer"
