"""Calling for help: an alert to the carers, from any state, with a spoken countdown that silence lets through.

The person may not be able to press anything, so nothing needs pressing: "get help",
or a confirmed emergency, starts a ten-second countdown that only "cancel" stops. While an alert is open
the assistant also calls out in the room once a minute, for anyone in the house who
is not on the network. It never says help is coming: only what the services said.
"""

from __future__ import annotations

from datetime import datetime

from voicerelief.carers import spoken_names
from voicerelief.session.base import SessionBase, clock_time
from voicerelief.session.events import CancelAlert, SendAlert

COUNTDOWN_SECONDS = 10
# Ice this long past its deadline, every reminder unanswered: someone should come and look.
ICE_OVERDUE_MINUTES = 5
ROOM_CALL_SECONDS = 60
ROOM_CALLS = 10
# With no carer to alert, the emergency advice is said again this often, until the person answers.
ADVICE_REPEAT_SECONDS = 60
ADVICE_REPEATS = 10
TIMERS_OF_ALERTS = ("alert_send", "room_call", "advice_repeat")


class CallForHelp(SessionBase):
    def on_call_for_help(self) -> None:
        memory = self.memory
        if not self.carers:
            self._say("session.alert_none", urgency=1)
        elif memory.alert_id:
            self._say("session.alert_open", carers=spoken_names(self.carers))
        else:
            self._count_down_to_alert("help")

    def after_emergency_advice(self) -> None:
        """Nobody is left in silence: the carers are alerted unless the person says cancel, or, with no
        carer, the advice is said again every minute until the person answers."""
        memory = self.memory
        if self.carers and not memory.alert_id and not memory.alert_countdown:
            self._count_down_to_alert("red_flag")
        elif not self.carers:
            memory.advice_repeats_left = ADVICE_REPEATS
            self._start("advice_repeat", seconds=ADVICE_REPEAT_SECONDS)

    def stop_repeating_advice(self) -> None:
        """The person answered: they can hear, and the advice need not be said again."""
        if self.memory.advice_repeats_left:
            self.memory.advice_repeats_left = 0
            self._cancel("advice_repeat")

    def _count_down_to_alert(self, kind: str) -> None:
        memory = self.memory
        memory.alert_countdown, memory.countdown_kind = True, kind
        self._start("alert_send", seconds=COUNTDOWN_SECONDS)
        self._say("session.alert_countdown", urgency=1, carers=spoken_names(self.carers))

    def tell_open_alert(self) -> None:
        """After a restart: an alert still open is still being sent, and can still be called off."""
        memory = self.memory
        if memory.alert_id and memory.alert_sent_at:
            sent = datetime.fromisoformat(memory.alert_sent_at)
            self._say("session.alert_resumed", carers=spoken_names(self.carers),
                      ago=self._ago(int((self.now - sent).total_seconds() // 60)))

    def restart_countdown(self) -> None:
        """The ten seconds to say "cancel" begin when the person has heard that they can."""
        self._start("alert_send", seconds=COUNTDOWN_SECONDS)

    def alert_if_ice_unanswered(self, minutes_overdue: int) -> None:
        """A lower-priority alert, once: no countdown (nobody answers) and no calls in the room."""
        memory = self.memory
        if self.carers and not memory.alert_id and minutes_overdue >= ICE_OVERDUE_MINUTES:
            self._send_alert("ice_overdue", call_the_room=False)

    def cancel_alert(self) -> bool:
        """"Cancel" while an alert counts down or is open: True when it was about the alert."""
        memory = self.memory
        if memory.alert_countdown:
            memory.alert_countdown = False
            self._cancel("alert_send")
            self._say("session.alert_cancelled")
            return True
        if memory.alert_id:
            self._emit(CancelAlert(memory.alert_id))
            self._cancel("room_call")
            memory.alert_id = ""
            self._emit(SendAlert(self._alert_id("cancelled"), "cancelled",
                                 self._text("alerts.cancelled", time=clock_time(self.now)), self.carers))
            self._say("session.alert_called_off", carers=spoken_names(self.carers))
            return True
        return False

    def on_alert_timer(self, name: str) -> None:
        memory = self.memory
        if name == "alert_send" and memory.alert_countdown:
            memory.alert_countdown = False
            self._send_alert(memory.countdown_kind)
        elif name == "advice_repeat" and memory.advice_repeats_left:
            memory.advice_repeats_left -= 1
            self.remind_urgent()
            if memory.advice_repeats_left:
                self._start("advice_repeat", seconds=ADVICE_REPEAT_SECONDS)
        elif name == "room_call" and memory.alert_id:
            memory.room_calls += 1
            self._say("session.alert_room_call", urgency=3)
            if memory.room_calls < ROOM_CALLS:
                self._start("room_call", seconds=ROOM_CALL_SECONDS)

    def on_alert_report(self, alert_id: str, carer: str, outcome: str) -> None:
        memory = self.memory
        if alert_id != memory.alert_id:
            return
        if outcome == "acknowledged":
            # Only now may the person hear that someone is coming: the carer said so.
            memory.alert_id = ""
            self._cancel("room_call")
            self._say("session.alert_acknowledged", urgency=1, carer=carer)
        elif outcome == "sent":
            self._say("session.alert_reached", carer=carer)
        elif outcome == "failing" and not memory.alert_failing_said:
            memory.alert_failing_said = True
            self._say("session.alert_failing", urgency=1)
        elif outcome == "expired":
            self._say("session.alert_expired", urgency=1, carer=carer)

    def _send_alert(self, kind: str, call_the_room: bool = True) -> None:
        memory = self.memory
        memory.alert_id = self._alert_id(kind)
        memory.alert_sent_at = self.now.isoformat()
        memory.alert_failing_said, memory.room_calls = False, 0
        message = "alerts.discreet" if self.discreet_alerts else f"alerts.{kind}"
        # A carer reads the number: digits as written, not as spoken.
        text = self.prompts.say(message, time=clock_time(self.now), emergency=self.numbers.emergency)
        self._emit(SendAlert(memory.alert_id, kind, text, self.carers))
        self._record("alert", {"id": memory.alert_id, "kind": kind})
        if call_the_room:
            self._say("session.alert_sending", urgency=1, carers=spoken_names(self.carers))
            self._start("room_call", seconds=ROOM_CALL_SECONDS)
        else:
            self._say("session.alert_ice_overdue", urgency=1, carers=spoken_names(self.carers))

    def _alert_id(self, kind: str) -> str:
        """Unique per message; a receiver drops a repeat of an id it has seen."""
        return f"{self.memory.episode}-{self.now:%Y%m%dT%H%M%S.%f}-{kind}"
