"""The guided relief session: a `transitions` state machine that turns events into effects.

The session is pure. It reads no clock, touches no disk and plays no sound: every
event carries the time it happened, and every consequence comes back as an effect
(say, start or cancel a timer, record a row) for the adapters to carry out. So the
whole protocol runs the same under a fake clock in tests, under `--text`, in the
demo and with a real microphone.

States and transitions are declared as data below; the callbacks only decide what
to say and which timers to set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from transitions import Machine

from voicerelief.commands import NUMBER, ONSET, PhraseTable
from voicerelief.prompts import Prompts
from voicerelief.protocol import Timings
from voicerelief.routine import Stretch

# ---- events: what reaches the session ------------------------------------------------


@dataclass(frozen=True)
class Said:
    """An intent the person said (recognized, or typed in text mode)."""

    intent: str
    value: int | None = None


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


Event = Said | NotUnderstood | TimerFired | SpokeDone

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
    # A question was just asked: the answer is expected within moments, not whenever.
    question: bool = False


Effect = Say | StartTimer | CancelTimer | Record | AdjustVoice | Quit | Expect

# Every prompt the session speaks, and the placeholders any prompt may use: checked at start.
PROMPT_KEYS = frozenset({
    "confirm_end", "disclaimer", "ended", "ended_with_ice", "faster", "goodbye", "heat_done", "heat_on",
    "heat_ready", "heat_remove", "heat_remove_again", "help", "help_between", "ice_back", "ice_first_off", "ice_halfway",
    "ice_not_today", "ice_off", "ice_on", "ice_one_minute", "ice_ready", "ice_remove", "ice_remove_again",
    "ice_remove_urgent", "ice_round_done", "ice_second", "ice_too_late", "idle", "late_deadline", "louder",
    "medication", "next_heat", "next_ice", "not_ended", "not_now", "not_understood", "offer_help", "onset", "pain_after",
    "pain_before", "pain_confirm", "paused", "progress_none", "progress_pain", "progress_rounds", "quieter",
    "recheck", "redflag_intro", "reprompt", "rest", "restored_heat", "restored_ice", "restored_ice_off",
    "resumed", "see_someone", "session_end", "skin_check", "skin_stop", "slower", "still_paused",
    "stretch_begin", "stretch_count", "stretch_done", "stretch_hold", "stretch_hurt", "stretch_hurt_again",
    "stretch_intro", "stretch_offer", "stretch_release", "stretch_rep", "stretch_rest", "stretch_rules",
    "stretch_side", "stretch_skipped_double", "stretch_step", "stretches_finished", "summary_pain",
    "summary_rounds", "time_left_heat", "time_left_ice", "time_left_ice_off", "time_left_none", "urgent",
    "urgent_again", "welcome", "welcome_back",
})
PROMPT_FIELDS = frozenset({"after", "answers", "before", "best", "count", "elapsed", "first", "heat", "heat_today",
                           "ice", "ice_today", "late", "latest", "left", "minutes", "name", "rep", "reps", "score",
                           "seconds", "side", "step", "time", "timer"})
RED_FLAG_SECTION = "redflag_questions"


# ---- the machine, declared as data ---------------------------------------------------

# A question state waits for an answer: silence there re-prompts, then pauses quietly.
STATES: list[dict[str, Any]] = [
    {"name": "boot"},
    {"name": "idle"},
    {"name": "redFlags", "question": True},
    {"name": "recheck", "question": True},
    {"name": "urgent"},
    {"name": "onset", "question": True},
    {"name": "painBefore", "question": True},
    {"name": "confirmPainBefore", "question": True},
    {"name": "rest", "question": True},
    {"name": "iceReady", "question": True},
    {"name": "iceOn"},
    {"name": "iceRemove"},
    {"name": "skinCheck", "question": True},
    {"name": "iceOff"},
    {"name": "heatReady", "question": True},
    {"name": "heatOn"},
    {"name": "heatRemove"},
    {"name": "stretchOffer", "question": True},
    {"name": "stretchIntro", "question": True},
    {"name": "stretchHold"},
    {"name": "stretchRest"},
    {"name": "painAfter", "question": True},
    {"name": "confirmPainAfter", "question": True},
]

STRETCH_STATES = ["stretchIntro", "stretchHold", "stretchRest"]
# States from which a new activity (ice, heat, stretches) may be started by name.
BETWEEN_ACTIVITIES = ["rest", "stretchOffer", "painAfter", "iceReady", "heatReady"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "power_on", "source": "boot", "dest": "idle"},
    # Starting: a new episode asks the red-flag questions; a known one re-checks once.
    {"trigger": "start", "source": ["idle", "urgent"], "dest": "urgent", "conditions": "episode_is_urgent"},
    {"trigger": "start", "source": ["idle", "urgent"], "dest": "recheck", "conditions": "episode_is_known"},
    {"trigger": "start", "source": ["idle", "urgent"], "dest": "redFlags"},
    {"trigger": "yes", "source": ["redFlags", "recheck"], "dest": "urgent"},
    {"trigger": "no", "source": "redFlags", "dest": None, "conditions": "more_red_flags",
     "after": "ask_next_red_flag"},
    {"trigger": "no", "source": "redFlags", "dest": "onset"},
    {"trigger": "no", "source": "recheck", "dest": "painBefore"},
    {"trigger": "onset", "source": "onset", "dest": "painBefore"},
    # Pain before, confirmed.
    {"trigger": "number", "source": "painBefore", "dest": "confirmPainBefore"},
    {"trigger": "no", "source": "confirmPainBefore", "dest": "painBefore"},
    {"trigger": "number", "source": "confirmPainBefore", "dest": "confirmPainBefore"},
    {"trigger": "yes", "source": "confirmPainBefore", "dest": "rest"},
    # After rest: ice in the first hours, heat after.
    {"trigger": "next", "source": "rest", "dest": "iceReady", "conditions": "ice_allowed"},
    {"trigger": "next", "source": "rest", "dest": "heatReady"},
    {"trigger": "start_ice", "source": BETWEEN_ACTIVITIES, "dest": "iceReady", "conditions": "ice_allowed"},
    {"trigger": "start_ice", "source": BETWEEN_ACTIVITIES, "dest": "heatReady", "after": "explain_no_ice"},
    {"trigger": "start_heat", "source": BETWEEN_ACTIVITIES, "dest": "heatReady"},
    {"trigger": "stretches", "source": BETWEEN_ACTIVITIES, "dest": "stretchIntro", "before": "begin_routine"},
    # The ice round: on, remove, skin check, off, on again, remove, skin check.
    {"trigger": ["next", "yes"], "source": "iceReady", "dest": "iceOn"},
    {"trigger": "ice_due", "source": "*", "dest": "iceRemove"},
    {"trigger": "ice_off", "source": ["iceOn", "iceRemove"], "dest": "skinCheck"},
    {"trigger": "next", "source": "iceRemove", "dest": "skinCheck"},
    {"trigger": "yes", "source": "skinCheck", "dest": "idle", "conditions": "session_closed",
     "before": "stop_cold_for_today"},
    {"trigger": "yes", "source": "skinCheck", "dest": "stretchOffer", "before": "stop_cold_for_today"},
    {"trigger": "no", "source": "skinCheck", "dest": "idle", "conditions": "session_closed"},
    {"trigger": "no", "source": "skinCheck", "dest": "iceOff", "conditions": "first_ice_part"},
    {"trigger": "no", "source": "skinCheck", "dest": "stretchOffer", "before": "finish_ice_round"},
    {"trigger": "ice_back", "source": "iceOff", "dest": "iceReady"},
    # Heat.
    {"trigger": ["next", "yes"], "source": "heatReady", "dest": "heatOn"},
    {"trigger": "heat_due", "source": "heatOn", "dest": "heatRemove"},
    {"trigger": ["next", "ice_off"], "source": ["heatOn", "heatRemove"], "dest": "stretchOffer",
     "before": "finish_heat"},
    # Stretches.
    {"trigger": "yes", "source": "stretchOffer", "dest": "stretchIntro", "before": "begin_routine"},
    {"trigger": "no", "source": "stretchOffer", "dest": "painAfter"},
    {"trigger": ["next", "yes"], "source": "stretchIntro", "dest": "stretchHold"},
    {"trigger": ["hold_end", "next"], "source": "stretchHold", "dest": "stretchRest", "conditions": "more_reps"},
    {"trigger": ["hold_end", "next"], "source": "stretchHold", "dest": "stretchIntro",
     "conditions": "advance_stretch", "before": "finish_stretch"},
    {"trigger": ["hold_end", "next"], "source": "stretchHold", "dest": "painAfter",
     "before": ["finish_stretch", "finish_routine"]},
    {"trigger": ["rest_end", "next"], "source": "stretchRest", "dest": "stretchHold"},
    {"trigger": "skip", "source": STRETCH_STATES, "dest": "stretchIntro",
     "conditions": "advance_stretch", "before": "skip_stretch"},
    {"trigger": "skip", "source": STRETCH_STATES, "dest": "painAfter", "before": ["skip_stretch", "finish_routine"]},
    {"trigger": "hurts", "source": STRETCH_STATES, "dest": "stretchIntro", "conditions": "first_hurt_and_more",
     "before": "stop_stretch"},
    {"trigger": "hurts", "source": STRETCH_STATES, "dest": "painAfter", "before": "stop_routine"},
    # Pain after, confirmed, then the summary.
    {"trigger": "number", "source": "painAfter", "dest": "confirmPainAfter"},
    {"trigger": "no", "source": "confirmPainAfter", "dest": "painAfter"},
    {"trigger": "number", "source": "confirmPainAfter", "dest": "confirmPainAfter"},
    {"trigger": "yes", "source": "confirmPainAfter", "dest": "idle", "before": "summarize"},
    # Ending on request (after a spoken confirmation).
    {"trigger": "end_session", "source": "*", "dest": "idle"},
]

# Intents handled the same way in every state.
VOICE_STEPS = {"slower": AdjustVoice(rate_step=-20), "faster": AdjustVoice(rate_step=20),
               "louder": AdjustVoice(volume_step=0.15), "quieter": AdjustVoice(volume_step=-0.15)}
TIMERS_OF_ICE = ("ice_halfway", "ice_one_minute", "ice_due", "ice_remind")
TIMERS_OF_STRETCH = ("hold_tick", "hold_end", "rest_end")


@dataclass
class Memory:
    """Everything the session knows, saved after every event and restored after a restart."""

    state: str = "boot"
    episode: int = 0
    onset: str = ""
    urgent: bool = False
    last_session: str = ""
    cold_stopped_on: str = ""
    see_someone_said: bool = False
    ice_rounds: list[str] = field(default_factory=list)
    heat_rounds: list[str] = field(default_factory=list)
    pains: list[tuple[str, int]] = field(default_factory=list)
    pain_before: int | None = None
    pain_after: int | None = None
    pending_score: int | None = None
    red_flag: int = 0
    ice_part: int = 1
    ice_on_since: str = ""
    ice_due: str = ""
    ice_back_at: str = ""
    ice_reminders: int = 0
    heat_due: str = ""
    heat_since: str = ""
    session_closed: bool = False
    stretch: int = 0
    side: int = 0
    rep: int = 1
    count: int = 0
    hurts: int = 0
    uncomfortable: list[str] = field(default_factory=list)
    paused: bool = False
    confirming_end: bool = False
    silence: int = 0
    last_prompt: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Memory:
        known = {name for name in cls.__dataclass_fields__}
        memory = cls(**{key: value for key, value in data.items() if key in known})
        memory.pains = [(moment, score) for moment, score in memory.pains]
        return memory


class Session:
    """The relief protocol. Call ``handle(event, now)``; it returns the effects to carry out."""

    def __init__(self, prompts: Prompts, timings: Timings, routine: tuple[Stretch, ...],
                 table: PhraseTable, memory: Memory | None = None) -> None:
        self.prompts = prompts
        self.timings = timings
        self.routine = routine
        self.table = table
        self.memory = memory or Memory()
        self.red_flag_keys = [key for key in prompts.texts if key.startswith(RED_FLAG_SECTION + ".")]
        self._effects: list[Effect] = []
        self._listening: frozenset[str] = frozenset()
        self.now = datetime.min
        self.machine = Machine(
            model=self, states=[state["name"] for state in STATES], transitions=_one_trigger_each(TRANSITIONS),
            initial="boot",
            auto_transitions=False, ignore_invalid_triggers=False, model_attribute="state",
            after_state_change="_after_state_change",
        )
        if self.memory.state != "boot":
            # Restoring: the state is set back without re-entering it, so nothing is said or
            # started twice; timers come back from the store.
            self.machine.set_state(self.memory.state)

    # ---- public API ---------------------------------------------------------------

    def boot(self, now: datetime, greet: bool = True) -> list[Effect]:
        """The first call after the program starts: greet (unless the front end does), or say where things stand."""
        self.now = now
        if self.memory.state == "boot":
            self.trigger("power_on")
            if greet:
                self._say("session.welcome")
                self._ask("session.idle")
        elif self.state == "idle" and not greet:
            pass
        else:
            self._welcome_back()
        self._expect_changes()
        return self._take_effects()

    def handle(self, event: Event, now: datetime) -> list[Effect]:
        self.now = now
        if isinstance(event, SpokeDone):
            if self._is_question() and not self.memory.paused and not self.memory.confirming_end:
                self._start("silence", seconds=self._silence_delay())
        elif isinstance(event, TimerFired):
            self._on_timer(event)
        elif isinstance(event, NotUnderstood):
            self._on_not_understood()
        else:
            self._on_said(event)
        self.memory.state = self.state
        self._expect_changes()
        return self._take_effects()

    def expected_intents(self) -> list[str]:
        """The intents that move the protocol on from the current state."""
        return [t for t in self.machine.get_triggers(self.state) if t not in INTERNAL_TRIGGERS]

    def listening_for(self) -> frozenset[str]:
        """Every intent the session acts on now: what the recognizer should listen for."""
        if self.memory.confirming_end:
            return frozenset({"yes", "no"}) | self.table.always
        return heard_in_state(self.state, self.table, paused=self.memory.paused)

    # ---- events -------------------------------------------------------------------

    def _on_said(self, said: Said) -> None:
        memory = self.memory
        self._restart_silence()
        if memory.confirming_end:
            self._on_end_answer(said)
            return
        if said.intent not in self.listening_for():
            # Not something this moment listens for (typed, or heard before the grammar changed).
            if self.state == "urgent":
                self._say("session.urgent_again", urgency=1)
            elif memory.paused:
                self._say("session.still_paused")
            else:
                self._say("session.not_now")
                self._say_help()
            return
        if self._on_everywhere_intent(said):
            return
        if memory.paused:
            if said.intent not in self.machine.get_triggers(self.state):
                self._say("session.still_paused")
                return
            # An answer to the question that was waiting is the person coming back: never ignore it.
            memory.paused = False
        if said.intent == NUMBER:
            memory.pending_score = said.value
        if said.intent == ONSET:
            memory.onset = (self.now - timedelta(hours=said.value or 0)).isoformat()
            self._record("onset", {"hours_ago": said.value, "onset": memory.onset})
        if said.intent == "stop" and self.state in STRETCH_STATES:
            said = Said("hurts")
        if said.intent in ("stop", "cancel") or (said.intent == "goodbye" and self.state != "idle"):
            memory.confirming_end = True
            self._say("session.confirm_end")
            return
        if said.intent in ANSWERED_IN_STATE["iceOn"] and self.state in ("iceOn", "iceRemove"):
            self._say("session.ice_first_off")
            return
        if said.intent in STARTING_INTENTS and self.state in ("idle", "urgent"):
            said = Said("start")
        elif self.state == "urgent":
            self._say("session.urgent_again", urgency=1)
            return
        if said.intent in self.machine.get_triggers(self.state):
            self.trigger(said.intent)
        else:
            self._reprompt()

    def _on_everywhere_intent(self, said: Said) -> bool:
        memory = self.memory
        intent = said.intent
        if intent == "help":
            self._say_help()
        elif intent == "repeat":
            if memory.last_prompt:
                self._emit(Say(memory.last_prompt, "repeat"))
        elif intent == "time_left":
            self._say_time_left()
        elif intent == "progress":
            self._say_progress()
        elif intent in VOICE_STEPS:
            self._emit(VOICE_STEPS[intent])
            self._say(f"session.{intent}")
        elif intent == "pause" and not memory.paused:
            memory.paused = True
            self._cancel("silence")
            self._say("session.paused")
        elif intent == "resume" and memory.paused:
            memory.paused = False
            self._say("session.resumed")
            if memory.last_prompt:
                self._emit(Say(memory.last_prompt, "repeat"))
        elif intent == "goodbye" and self.state == "idle":
            self._say("session.goodbye")
            self._emit(Quit())
        else:
            return False
        return True

    def _say_help(self) -> None:
        """What can be said now: the answers to this moment first, then what else is listened for."""
        key = "session.help" if self._is_question() else "session.help_between"
        self._say(key, answers=self._answers())

    def _on_end_answer(self, said: Said) -> None:
        memory = self.memory
        if said.intent == "yes":
            memory.confirming_end = False
            memory.paused = False
            self._record("session_end", {"state": self.state, "by": "request"})
            ice_left = self._ice_minutes_left()
            for name in TIMERS_OF_STRETCH + ("silence", "ice_back", "heat_due", "heat_remind"):
                self._cancel(name)
            self.trigger("end_session")
            if ice_left is not None:
                memory.session_closed = True
                self._say("session.ended_with_ice", minutes=ice_left)
            else:
                self._say("session.ended")
        elif said.intent == "no":
            memory.confirming_end = False
            self._say("session.not_ended")
            if memory.last_prompt:
                self._emit(Say(memory.last_prompt, "repeat"))
        else:
            self._say("session.reprompt", answers="yes or no")

    def _on_not_understood(self) -> None:
        self._restart_silence()
        self._say("session.not_understood")
        if self.memory.silence >= 1:
            self._say("session.offer_help")
        else:
            self._say("session.reprompt", answers=self._answers())
        self.memory.silence += 1

    def _on_timer(self, fired: TimerFired) -> None:
        memory = self.memory
        late_minutes = int((self.now - fired.due).total_seconds() // 60)
        if late_minutes >= 1 and fired.name in ("ice_due", "ice_back", "heat_due"):
            timer = {"ice_due": "ice", "ice_back": "ice break", "heat_due": "heat"}[fired.name]
            self._say("session.late_deadline", timer=timer, late=late_minutes)
        name = fired.name
        if name == "silence":
            self._on_silence()
        elif name == "ice_halfway" and self.state == "iceOn":
            self._say("session.ice_halfway", minutes=self._ice_minutes_left() or 0)
        elif name == "ice_one_minute" and self.state == "iceOn":
            self._say("session.ice_one_minute", urgency=1)
        elif name == "ice_remind" and self.state == "iceRemove":
            memory.ice_reminders += 1
            minutes = int((self.now - _time(memory.ice_on_since)).total_seconds() // 60)
            key = "session.ice_remove_urgent" if memory.ice_reminders >= 3 else "session.ice_remove_again"
            self._say(key, minutes=minutes, urgency=1 + memory.ice_reminders)
            self._start("ice_remind", seconds=self.timings.ice_reminder_seconds)
        elif name == "heat_remind" and self.state == "heatRemove":
            self._say("session.heat_remove_again", urgency=1)
            self._start("heat_remind", seconds=self.timings.heat_reminder_seconds)
        elif name == "hold_tick" and self.state == "stretchHold":
            self._count_hold()
        elif name in ("ice_due", "ice_back", "heat_due", "hold_end", "rest_end"):
            if name in self.machine.get_triggers(self.state):
                self.trigger(name)

    def _on_silence(self) -> None:
        memory = self.memory
        if memory.paused or not self._is_question():
            return
        memory.silence += 1
        if memory.silence == 1:
            self._say("session.reprompt", answers=self._answers())
            self._start("silence", seconds=self._silence_delay())
        elif memory.silence == 2:
            self._say("session.offer_help")
            self._start("silence", seconds=self._silence_delay())
        else:
            memory.paused = True
            self._record("paused", {"reason": "silence", "state": self.state})

    # ---- conditions ---------------------------------------------------------------

    def episode_is_urgent(self) -> bool:
        return self._episode_is_current() and self.memory.urgent

    def episode_is_known(self) -> bool:
        return self._episode_is_current() and bool(self.memory.onset)

    def more_red_flags(self) -> bool:
        return self.memory.red_flag + 1 < len(self.red_flag_keys)

    def ice_allowed(self) -> bool:
        memory = self.memory
        if memory.cold_stopped_on == self.now.date().isoformat():
            return False
        return self._hours_since_onset() < self.timings.ice_window_hours

    def first_ice_part(self) -> bool:
        return self.memory.ice_part == 1

    def session_closed(self) -> bool:
        return self.memory.session_closed

    def more_reps(self) -> bool:
        stretch = self.routine[self.memory.stretch]
        return self.memory.rep < stretch.reps or self.memory.side + 1 < max(1, len(stretch.sides))

    def advance_stretch(self) -> bool:
        return self._next_stretch_index() is not None

    def first_hurt_and_more(self) -> bool:
        return self.memory.hurts == 0 and self.advance_stretch()

    # ---- transition actions -------------------------------------------------------

    def ask_next_red_flag(self) -> None:
        self.memory.red_flag += 1
        self._ask(self.red_flag_keys[self.memory.red_flag])

    def explain_no_ice(self) -> None:
        key = "session.ice_not_today" if self.memory.cold_stopped_on == self.now.date().isoformat() \
            else "session.ice_too_late"
        self._say(key)

    def stop_cold_for_today(self) -> None:
        self.memory.cold_stopped_on = self.now.date().isoformat()
        self._record("skin", {"problem": True})
        self._say("session.skin_stop")

    def finish_ice_round(self) -> None:
        self.memory.ice_rounds.append(self.now.isoformat())
        self._record("ice_round", {"rounds_in_episode": len(self.memory.ice_rounds)})
        self._say("session.ice_round_done")

    def finish_heat(self) -> None:
        memory = self.memory
        self._cancel("heat_due")
        self._cancel("heat_remind")
        memory.heat_rounds.append(self.now.isoformat())
        self._record("heat_off", {"minutes": _minutes_between(memory.heat_since, self.now)})
        memory.heat_due = ""
        self._say("session.heat_done")

    def begin_routine(self) -> None:
        memory = self.memory
        memory.stretch, memory.side, memory.rep, memory.hurts = 0, 0, 1, 0
        memory.uncomfortable = []
        self._say("session.stretch_rules")

    def finish_stretch(self) -> None:
        self._cancel_stretch_timers()
        self._record("stretch", {"name": self._stretch().name, "outcome": "done"})
        self._say("session.stretch_done")
        self._move_to_next_stretch()

    def skip_stretch(self) -> None:
        self._cancel_stretch_timers()
        stretch = self._stretch()
        self.memory.uncomfortable.append(stretch.name)
        self._record("stretch", {"name": stretch.name, "outcome": "skipped"})
        self._move_to_next_stretch()

    def stop_stretch(self) -> None:
        self._stop_current_stretch()
        self.memory.uncomfortable.append(self._stretch().name)
        self._say("session.stretch_hurt", urgency=1)
        self._move_to_next_stretch()

    def stop_routine(self) -> None:
        self._stop_current_stretch()
        self._say("session.stretch_hurt" if self.memory.hurts == 1 else "session.stretch_hurt_again", urgency=1)

    def _stop_current_stretch(self) -> None:
        """Pain during a stretch: end it at once, count it, and record it."""
        self._cancel_stretch_timers()
        self.memory.hurts += 1
        self._record("stretch", {"name": self._stretch().name, "outcome": "stopped"})

    def finish_routine(self) -> None:
        self._cancel_stretch_timers()
        self._say("session.stretches_finished")

    def summarize(self) -> None:
        memory = self.memory
        memory.pain_after = memory.pending_score
        memory.pains.append((self.now.isoformat(), memory.pain_after))
        self._record("pain", {"score": memory.pain_after, "when": "after"})
        if memory.pain_before is not None:
            self._say("session.summary_pain", before=memory.pain_before, after=memory.pain_after)
        today = self.now.date().isoformat()
        self._say("session.summary_rounds",
                  ice=_on_day(memory.ice_rounds, today), heat=_on_day(memory.heat_rounds, today))
        if (memory.pain_after or 0) >= 7:
            self._say("session.medication")
        self._say_next_due()
        self._say("session.session_end")
        self._record("session_end", {"state": "summary", "by": "protocol"})

    # ---- entering states ----------------------------------------------------------

    def _after_state_change(self) -> None:
        self.memory.state = self.state
        self.memory.silence = 0
        if self._is_question():
            self._restart_silence()
        else:
            self._cancel("silence")
        self._record("transition", {"to": self.state})

    def on_enter_idle(self) -> None:
        memory = self.memory
        memory.pain_before = memory.pain_after = memory.pending_score = None
        memory.ice_part, memory.ice_back_at = 1, ""
        memory.last_prompt = self.prompts.say("session.idle")
        if memory.session_closed:
            memory.session_closed = False
            self._say("session.session_end")

    def on_enter_redFlags(self) -> None:
        memory = self.memory
        memory.episode += 1
        memory.onset, memory.urgent, memory.see_someone_said = "", False, False
        memory.ice_rounds, memory.heat_rounds, memory.cold_stopped_on, memory.pains = [], [], "", []
        memory.uncomfortable, memory.hurts = [], 0
        memory.session_closed = False
        self._record("episode_start", {"episode": memory.episode})
        self._record("session_start", {"episode": memory.episode})
        memory.last_session = self.now.isoformat()
        self._say("session.disclaimer")
        self._say("session.redflag_intro")
        memory.red_flag = 0
        self._ask(self.red_flag_keys[0])

    def on_enter_recheck(self) -> None:
        memory = self.memory
        memory.session_closed = False
        memory.last_session = self.now.isoformat()
        self._record("session_start", {"episode": memory.episode})
        self._say("session.welcome_back")
        if self._hours_since_onset() >= 24 * self.timings.see_someone_days and not memory.see_someone_said:
            memory.see_someone_said = True
            self._say("session.see_someone")
        self._ask("session.recheck")

    def on_enter_urgent(self) -> None:
        memory = self.memory
        if not memory.urgent:
            question = self.red_flag_keys[memory.red_flag] if memory.state == "redFlags" else "recheck"
            memory.urgent = True
            self._record("red_flag", {"question": question.split(".")[-1], "answer": "yes"})
            self._say("session.urgent", urgency=1)
        else:
            self._say("session.urgent_again", urgency=1)

    def on_enter_onset(self) -> None:
        self._record("red_flag", {"question": "all", "answer": "no"})
        self._ask("session.onset")

    def on_enter_painBefore(self) -> None:
        self._ask("session.pain_before")

    def on_enter_confirmPainBefore(self) -> None:
        self._ask("session.pain_confirm", score=self.memory.pending_score)

    def on_enter_rest(self) -> None:
        memory = self.memory
        memory.pain_before = memory.pending_score
        memory.pains.append((self.now.isoformat(), memory.pain_before))
        self._record("pain", {"score": memory.pain_before, "when": "before"})
        self._ask("session.rest")

    def on_enter_iceReady(self) -> None:
        self._ask("session.ice_back" if self.memory.ice_part == 2 else "session.ice_ready")

    def on_enter_iceOn(self) -> None:
        memory = self.memory
        on = timedelta(minutes=self.timings.ice_on_minutes)
        memory.ice_on_since = self.now.isoformat()
        memory.ice_due = (self.now + on).isoformat()
        memory.ice_reminders = 0
        self._record("ice_on", {"part": memory.ice_part, "due": memory.ice_due})
        self._start("ice_halfway", seconds=on.total_seconds() / 2)
        self._start("ice_one_minute", seconds=on.total_seconds() - 60)
        self._start("ice_due", seconds=on.total_seconds())
        if memory.ice_part == 2:
            self._say("session.ice_second")
        self._ask("session.ice_on")

    def on_enter_iceRemove(self) -> None:
        self._cancel("ice_halfway")
        self._cancel("ice_one_minute")
        self._start("ice_remind", seconds=self.timings.ice_reminder_seconds)
        self._ask("session.ice_remove", urgency=1)

    def on_enter_skinCheck(self) -> None:
        memory = self.memory
        for name in TIMERS_OF_ICE:
            self._cancel(name)
        late = max(0, int((self.now - _time(memory.ice_due)).total_seconds())) if memory.ice_due else 0
        self._record("ice_off", {"part": memory.ice_part, "minutes_on": _minutes_between(memory.ice_on_since, self.now),
                                 "late_seconds": late, "late": late > self.timings.ice_late_after_seconds})
        memory.ice_due = ""
        self._ask("session.skin_check")

    def on_enter_iceOff(self) -> None:
        memory = self.memory
        memory.ice_part = 2
        memory.ice_back_at = (self.now + timedelta(minutes=self.timings.ice_off_minutes)).isoformat()
        self._start("ice_back", seconds=self.timings.ice_off_minutes * 60)
        self._ask("session.ice_off")

    def on_enter_heatReady(self) -> None:
        self._ask("session.heat_ready")

    def on_enter_heatOn(self) -> None:
        memory = self.memory
        minutes = self.timings.heat_minutes
        memory.heat_since = self.now.isoformat()
        memory.heat_due = (self.now + timedelta(minutes=minutes)).isoformat()
        self._record("heat_on", {"due": memory.heat_due})
        self._start("heat_due", seconds=minutes * 60)
        self._ask("session.heat_on", minutes=minutes)

    def on_enter_heatRemove(self) -> None:
        self._start("heat_remind", seconds=self.timings.heat_reminder_seconds)
        self._ask("session.heat_remove", urgency=1)

    def on_enter_stretchOffer(self) -> None:
        memory = self.memory
        if memory.ice_part == 2 or memory.cold_stopped_on:
            memory.ice_part = 1
        memory.ice_back_at = ""
        self._ask("session.stretch_offer")

    def on_enter_stretchIntro(self) -> None:
        stretch = self._stretch()
        self._say("session.stretch_intro", name=stretch.name)
        for step in stretch.steps:
            self._say("session.stretch_step", step=step)
        self._ask("session.stretch_begin")

    def on_enter_stretchHold(self) -> None:
        memory = self.memory
        stretch = self._stretch()
        if stretch.sides:
            self._say("session.stretch_side", side=stretch.sides[memory.side].capitalize())
        if stretch.reps > 1:
            self._say("session.stretch_rep", rep=memory.rep, reps=stretch.reps)
        memory.count = 0
        self._ask("session.stretch_hold", seconds=stretch.hold_seconds)
        self._start_next_count(stretch)
        self._start("hold_end", seconds=stretch.hold_seconds)

    def on_enter_stretchRest(self) -> None:
        memory = self.memory
        stretch = self._stretch()
        self._cancel("hold_tick")
        self._cancel("hold_end")
        self._say("session.stretch_release")
        if memory.side + 1 < len(stretch.sides):
            memory.side += 1
        else:
            memory.side = 0
            memory.rep += 1
        self._ask("session.stretch_rest")
        self._start("rest_end", seconds=max(1, stretch.rest_seconds))

    def on_enter_painAfter(self) -> None:
        self._ask("session.pain_after")

    def on_enter_confirmPainAfter(self) -> None:
        self._ask("session.pain_confirm", score=self.memory.pending_score)

    # ---- helpers ------------------------------------------------------------------

    def _stretch(self) -> Stretch:
        return self.routine[self.memory.stretch]

    def _next_stretch_index(self) -> int | None:
        memory = self.memory
        for index in range(memory.stretch + 1, len(self.routine)):
            condition = self.routine[index].only_if_comfortable
            if not condition or condition not in memory.uncomfortable:
                return index
        return None

    def _move_to_next_stretch(self) -> None:
        memory = self.memory
        following = self._next_stretch_index()
        skipped_for_safety = [s for s in self.routine[memory.stretch + 1:following]
                              if s.only_if_comfortable in memory.uncomfortable]
        if skipped_for_safety:
            self._say("session.stretch_skipped_double")
        if following is not None:
            memory.stretch, memory.side, memory.rep = following, 0, 1

    def _cancel_stretch_timers(self) -> None:
        for name in TIMERS_OF_STRETCH:
            self._cancel(name)

    def _count_hold(self) -> None:
        memory = self.memory
        stretch = self._stretch()
        memory.count += _count_step(stretch.hold_seconds)
        self._say("session.stretch_count", count=memory.count)
        self._start_next_count(stretch)

    def _start_next_count(self, stretch: Stretch) -> None:
        step = _count_step(stretch.hold_seconds)
        if self.memory.count + step < stretch.hold_seconds:
            self._start("hold_tick", seconds=step)

    def _say_time_left(self) -> None:
        memory = self.memory
        for due, key in ((memory.ice_due, "session.time_left_ice"), (memory.ice_back_at, "session.time_left_ice_off"),
                         (memory.heat_due, "session.time_left_heat")):
            if due:
                left = max(0, int((_time(due) - self.now).total_seconds()))
                self._say(key, minutes=left // 60, seconds=left % 60)
                return
        self._say("session.time_left_none")

    def _say_progress(self) -> None:
        memory = self.memory
        scores = [score for _, score in memory.pains]
        if not scores:
            self._say("session.progress_none")
        else:
            self._say("session.progress_pain", first=scores[0], latest=scores[-1], best=min(scores))
        today = self.now.date().isoformat()
        self._say("session.progress_rounds",
                  ice_today=_on_day(memory.ice_rounds, today), ice=len(memory.ice_rounds),
                  heat_today=_on_day(memory.heat_rounds, today), heat=len(memory.heat_rounds))
        if memory.ice_rounds or memory.heat_rounds:
            self._say_next_due()
        not_easing = not scores or scores[-1] >= scores[0] - 1
        if self._hours_since_onset() >= 24 * self.timings.see_someone_days and not_easing:
            memory.see_someone_said = True
            self._say("session.see_someone")

    def _say_next_due(self) -> None:
        memory = self.memory
        if memory.ice_rounds and self.ice_allowed():
            last = _time(memory.ice_rounds[-1])
            self._say("session.next_ice", time=_clock_time(last + timedelta(hours=self.timings.ice_next_round_hours)))
        else:
            last = _time(memory.heat_rounds[-1]) if memory.heat_rounds else self.now
            self._say("session.next_heat", time=_clock_time(last + timedelta(hours=self.timings.heat_next_round_hours)))

    def _welcome_back(self) -> None:
        memory = self.memory
        self._say("session.welcome_back")
        if self.state == "iceOn" and memory.ice_due:
            elapsed = _minutes_between(memory.ice_on_since, self.now)
            left = max(0, -_minutes_between(memory.ice_due, self.now))
            self._say("session.restored_ice", elapsed=elapsed, left=left)
        elif self.state == "iceOff" and memory.ice_back_at:
            left = max(0, -_minutes_between(memory.ice_back_at, self.now))
            self._say("session.restored_ice_off", elapsed=self.timings.ice_off_minutes - left, left=left)
        elif self.state == "heatOn" and memory.heat_due:
            left = max(0, -_minutes_between(memory.heat_due, self.now))
            self._say("session.restored_heat", elapsed=_minutes_between(memory.heat_since, self.now), left=left)
        elif memory.last_prompt and self.state != "idle":
            self._emit(Say(memory.last_prompt, "repeat"))
        else:
            self._say("session.idle")

    def _ice_minutes_left(self) -> int | None:
        if not self.memory.ice_due:
            return None
        return max(0, -_minutes_between(self.memory.ice_due, self.now))

    def _hours_since_onset(self) -> float:
        if not self.memory.onset:
            return 0.0
        return (self.now - _time(self.memory.onset)).total_seconds() / 3600

    def _episode_is_current(self) -> bool:
        memory = self.memory
        if not memory.episode or not memory.last_session:
            return False
        return self.now - _time(memory.last_session) < timedelta(days=self.timings.episode_days)

    def _is_question(self) -> bool:
        return self.state in QUESTION_STATES

    def _answers(self) -> str:
        spoken = []
        for intent in self.expected_intents():
            if intent == NUMBER:
                spoken.append("a number from zero to ten")
            elif intent == ONSET:
                spoken.append("when it began, like yesterday")
            else:
                phrases = self.table.phrases_for(intent)
                if phrases:
                    spoken.append(phrases[0])
        if not spoken:
            return "help"
        return spoken[0] if len(spoken) == 1 else ", ".join(spoken[:-1]) + " or " + spoken[-1]

    def _silence_delay(self) -> int:
        """Seconds from now to the next step of the silence ladder: re-prompt, offer help, pause."""
        talk = self.timings
        steps = [talk.reprompt_seconds, talk.offer_help_seconds - talk.reprompt_seconds,
                 talk.pause_seconds - talk.offer_help_seconds]
        return steps[min(self.memory.silence, 2)]

    def _restart_silence(self) -> None:
        if self._is_question() and not self.memory.paused:
            self._start("silence", seconds=self.timings.reprompt_seconds)

    def _reprompt(self) -> None:
        self._say("session.reprompt", answers=self._answers())

    def _ask(self, key: str, urgency: int = 0, **fields: Any) -> None:
        text = self.prompts.say(key, **fields)
        self.memory.last_prompt = text
        self._emit(Say(text, key, urgency))

    def _say(self, key: str, urgency: int = 0, **fields: Any) -> None:
        self._emit(Say(self.prompts.say(key, **fields), key, urgency))

    def _start(self, name: str, seconds: float) -> None:
        self._emit(StartTimer(name, self.now + timedelta(seconds=seconds)))

    def _cancel(self, name: str) -> None:
        self._emit(CancelTimer(name))

    def _record(self, kind: str, data: dict[str, Any]) -> None:
        self._emit(Record(kind, data))

    def _emit(self, effect: Effect) -> None:
        self._effects.append(effect)

    def _expect_changes(self) -> None:
        """Tell the listener when what can be said has changed (or a question was asked again)."""
        intents = self.listening_for()
        question = self._is_question() and any(isinstance(effect, Say) for effect in self._effects)
        if intents != self._listening or question:
            self._listening = intents
            self._emit(Expect(intents, question))

    def _take_effects(self) -> list[Effect]:
        effects, self._effects = self._effects, []
        return effects


QUESTION_STATES = frozenset(state["name"] for state in STATES if state.get("question"))
# Triggers that come from timers and the session itself, never from the person.
INTERNAL_TRIGGERS = frozenset({"power_on", "ice_due", "ice_back", "heat_due", "hold_end", "rest_end", "end_session"})
# Said where nothing is under way, each of these starts a session.
STARTING_INTENTS = frozenset({"start", "start_ice", "start_heat", "stretches"})
# Intents a state answers without a transition of its own: starting from idle, "take the ice
# off first" while it is on, and "stop" during a stretch, which means it hurts.
ANSWERED_IN_STATE = {
    "idle": STARTING_INTENTS, "urgent": STARTING_INTENTS,
    "iceOn": frozenset({"start_heat", "stretches"}), "iceRemove": frozenset({"start_heat", "stretches"}),
    **{state: frozenset({"hurts"}) for state in STRETCH_STATES},
}
STATE_NAMES = tuple(state["name"] for state in STATES if state["name"] != "boot")


def heard_in_state(state: str, table: PhraseTable, paused: bool = False) -> frozenset[str]:
    """The intents a state acts on, read from the transition table, and those heard everywhere."""
    triggers = {transition["trigger"] for transition in _one_trigger_each(TRANSITIONS)
                if _includes(transition["source"], state)} - INTERNAL_TRIGGERS
    triggers |= ANSWERED_IN_STATE.get(state, frozenset())
    heard = triggers | table.always
    if state not in QUESTION_STATES:
        heard |= table.between_questions | {"wake"}
    if paused:
        heard.add("resume")
    return frozenset(heard)


def _includes(source: str | list[str], state: str) -> bool:
    return source == "*" or source == state or (isinstance(source, list) and state in source)


def _one_trigger_each(transitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table allows a list of triggers for one transition; `transitions` wants one each."""
    expanded = []
    for transition in transitions:
        triggers = transition["trigger"]
        for trigger in triggers if isinstance(triggers, list) else [triggers]:
            expanded.append({**transition, "trigger": trigger})
    return expanded


def _on_day(moments: list[str], day: str) -> int:
    """How many of the ISO moments fall on the ISO ``day``."""
    return sum(moment.startswith(day) for moment in moments)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _minutes_between(start: str, end: datetime) -> int:
    return int((end - _time(start)).total_seconds() // 60) if start else 0


def _count_step(hold_seconds: int) -> int:
    """Count every second for short holds, every five seconds for long ones."""
    return 1 if hold_seconds <= 10 else 5


def _clock_time(moment: datetime) -> str:
    return moment.strftime("%H:%M")
