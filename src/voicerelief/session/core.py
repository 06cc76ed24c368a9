"""The session: events in, effects out, with the phases of the protocol put together on one machine."""

from __future__ import annotations

from datetime import datetime, timedelta

from transitions import Machine

from voicerelief.call_numbers import CallNumbers
from voicerelief.carers import spoken_names
from voicerelief.commands import NUMBER, ONSET, PAIN_WORD, PhraseTable
from voicerelief.prompts import Prompts, placeholders
from voicerelief.protocol import Timings
from voicerelief.red_flags import RedFlagQuestion
from voicerelief.routine import Stretch
from voicerelief.session.base import each_value, time_of
from voicerelief.session.call_for_help import TIMERS_OF_ALERTS, CallForHelp
from voicerelief.session.cold_and_heat import TIMERS_OF_HEAT, ColdAndHeat
from voicerelief.session.events import (AdjustVoice, AlertReport, Effect, Event, Expect, NotUnderstood, Quit, Said,
                                        SpokeDone, TimerFired)
from voicerelief.session.machine import (ANSWERED_IN_STATE, INTERNAL_TRIGGERS, PAIN_QUESTIONS, PAIN_WORD_QUESTIONS,
                                         QUESTION_STATES, STARTING_INTENTS, STATE_NAMES, STATES, STRETCH_STATES,
                                         TRANSITIONS, heard_in_state, one_trigger_each)
from voicerelief.session.memory import Memory
from voicerelief.session.progress import Progress
from voicerelief.session.screening import Screening
from voicerelief.session.stretches import TIMERS_OF_STRETCH, Stretches, counts_said

# Every prompt the session speaks, and the placeholders any prompt may use: checked at start.
PROMPT_KEYS = frozenset({
    "alert_acknowledged", "alert_called_off", "alert_cancelled", "alert_countdown", "alert_expired",
    "alert_failing", "alert_ice_overdue", "alert_none", "alert_open", "alert_reached", "alert_resumed",
    "alert_room_call", "alert_sending", "cold_or_heat", "confirm_end", "disclaimer", "emergency_confirm", "ended",
    "ended_with_ice", "faster", "getting_up", "goodbye", "guidance_stopped", "heat_done", "heat_on", "heat_ready",
    "heat_remove", "heat_remove_again", "help", "help_between", "help_more", "help_more_between", "help_urgent",
    "ice_back", "ice_first_off", "ice_halfway", "ice_not_today", "ice_off", "ice_on", "ice_one_minute", "ice_ready",
    "ice_remove", "ice_remove_again", "ice_remove_urgent", "ice_round_done", "ice_second", "ice_too_late", "idle",
    "late_deadline", "louder", "medication", "next_heat", "next_ice", "no_answer_emergency", "not_ended", "not_now",
    "not_understood", "number_not_set", "offer_help", "onset", "pain_after", "pain_before", "pain_confirm",
    "pain_misheard", "pain_not_heard", "pain_words", "pain_words_again", "paused", "progress_none", "progress_pain",
    "progress_rounds", "quieter", "reassure", "recheck_intro", "redflag_ask_again", "redflag_confirm",
    "redflag_confirm_unsure", "redflag_intro", "redflag_not_heard", "redflag_unclear", "reprompt", "rest",
    "restored_heat", "restored_ice", "restored_ice_off", "resumed", "safety_net", "see_someone",
    "see_someone_recurring", "see_someone_worse", "session_end", "skin_check", "skin_damaged", "skin_still_numb",
    "slower", "stay_active", "still_paused", "stretch_begin", "stretch_count", "stretch_done", "stretch_first_side",
    "stretch_hold", "stretch_hurt", "stretch_intro", "stretch_left_out", "stretch_offer", "stretch_release",
    "stretch_rep", "stretch_rest", "stretch_rules", "stretch_side", "stretch_skipped_double", "stretch_step",
    "stretches_finished", "stretches_none", "summary_pain", "summary_rounds", "symptom_confirm", "symptom_misheard",
    "time_left_heat", "time_left_ice", "time_left_ice_off", "time_left_none", "urgent_again_emergency",
    "urgent_again_today", "urgent_emergency", "urgent_take_off", "urgent_today", "urgent_today_no_line", "welcome",
    "welcome_back",
})
PROMPT_FIELDS = frozenset({"after", "ago", "answers", "before", "best", "carer", "carers", "count", "emergency",
                           "first", "heat", "heat_today", "ice", "ice_today", "late", "latest", "left", "minutes", "name",
                           "names", "rep", "reps", "score", "seconds", "side", "step", "symptom", "timer", "urgent",
                           "wait", "what"})
DURATION_KEYS = frozenset({"under_a_minute", "one_minute", "minutes", "about_minutes", "over_an_hour", "now", "in_minutes",
                           "in_one_hour", "in_hours"})

MOST_ANSWERS_SUGGESTED = 4
# Counts of rounds said in a summary are rendered ahead up to this many (three or four a day for a few days).
COUNTS_SAID_AHEAD = 20
# The messages a carer reads, each with the time it was written.
ALERT_KEYS = frozenset({"help", "red_flag", "ice_overdue", "cancelled", "test", "discreet"})
# Timers that count from the end of what was said, not from when it was decided (rendering takes time).
COUNTED_FROM_SPEECH_END = frozenset({"silence", "alert_send"})
# Intents handled the same way in every state.
VOICE_STEPS = {"slower": AdjustVoice(rate_step=-20), "faster": AdjustVoice(rate_step=20),
               "louder": AdjustVoice(volume_step=0.15), "quieter": AdjustVoice(volume_step=-0.15)}


class Session(Screening, ColdAndHeat, Stretches, Progress, CallForHelp):
    """The relief protocol. Call ``handle(event, now)``; it returns the effects to carry out."""

    def __init__(self, prompts: Prompts, timings: Timings, routine: tuple[Stretch, ...], table: PhraseTable,
                 red_flags: tuple[RedFlagQuestion, ...], numbers: CallNumbers, memory: Memory | None = None,
                 carers: tuple[str, ...] = (), discreet_alerts: bool = False) -> None:
        self.prompts = prompts
        self.timings = timings
        self.routine = routine
        self.table = table
        self.red_flags = red_flags
        self.numbers = numbers
        self.carers = carers
        self.discreet_alerts = discreet_alerts
        self.memory = memory or Memory()
        self._effects: list[Effect] = []
        self._listening: frozenset[str] = frozenset()
        self.now = datetime.min
        self.machine = Machine(
            model=self, states=[state["name"] for state in STATES], transitions=one_trigger_each(TRANSITIONS),
            initial="boot",
            auto_transitions=False, ignore_invalid_triggers=False, model_attribute="state",
            after_state_change="_after_state_change",
        )
        if self.memory.state != "boot":
            # Restoring: the state is set back without re-entering it, so nothing is said or
            # started twice; timers come back from the store.
            self.machine.set_state(self.memory.state)

    def foreseeable_texts(self) -> list[str]:
        """Everything the session may say whose words are known before it is needed, for a slow voice to
        render ahead: the red-flag questions, the fixed prompts, and the prompts filled from content (the
        routine, the red-flag questions, the carers, the timings, the answers each state suggests) or from a
        small range (pain scores, counts of rounds, spans of time in whole minutes or hours)."""
        filled_by_text = {"emergency", "urgent"}
        texts = [text for question in self.red_flags for text in (question.ask, question.why, question.then_say)
                 if text]
        for name, fills in self._foreseeable_fills().items():
            key = f"session.{name}"
            needed = placeholders(self.prompts.texts[key]) - filled_by_text
            texts += [self._text(key, **fields) for fields in fills if needed <= fields.keys()]
        return list(dict.fromkeys(texts))

    def _foreseeable_fills(self) -> dict[str, list[dict[str, object]]]:
        """For each session prompt, the fields it can be filled with (one empty set for a fixed prompt)."""
        fills: dict[str, list[dict[str, object]]] = {name: [{}] for name in sorted(PROMPT_KEYS)}
        routine, half = self.routine, self.timings.ice_on_minutes // 2
        carers = [{"carers": spoken_names(self.carers)}] if self.carers else []
        red_flags = [{"what": question.heard_as} for question in self.red_flags]
        # The answers suggested in each state, and "yes or no" for the questions asked over any state.
        asked = sorted({"yes or no"} | {self._answers_in(state) for state in QUESTION_STATES})
        between = sorted({self._answers_in(state) for state in STATE_NAMES if state not in QUESTION_STATES})
        fills.update({
            "help": [{"answers": answers} for answers in asked],
            "help_between": [{"answers": answers} for answers in between],
            "reprompt": [{"answers": answers} for answers in asked],
            "pain_confirm": [{"score": score} for score in [*range(11), *self.table.phrases_for(PAIN_WORD)]],
            "redflag_unclear": red_flags,
            "redflag_confirm": red_flags,
            "redflag_confirm_unsure": red_flags,
            "symptom_confirm": [{"symptom": question.said_back} for question in self.red_flags if question.said_back],
            # Halfway is said from the clock, so a minute either side of it.
            "ice_halfway": [{"minutes": minutes} for minutes in (half - 1, half, half + 1)],
            "heat_on": [{"minutes": self.timings.heat_minutes}],
            "stretch_intro": [{"name": stretch.name} for stretch in routine],
            "stretch_step": [{"step": step} for stretch in routine for step in stretch.steps],
            "stretch_side": [{"side": side.capitalize()} for stretch in routine for side in stretch.sides],
            "stretch_first_side": [{"side": stretch.sides[0]} for stretch in routine if stretch.sides],
            "stretch_hold": [{"seconds": stretch.hold_seconds} for stretch in routine],
            "stretch_count": [{"count": count} for stretch in routine for count in counts_said(stretch.hold_seconds)],
            "stretch_rep": [{"rep": rep, "reps": stretch.reps} for stretch in routine
                            for rep in range(1, stretch.reps + 1)],
        })
        fills.update(self._foreseeable_spans_and_counts())
        for name in ("alert_open", "alert_countdown", "alert_sending", "alert_called_off", "alert_ice_overdue"):
            fills[name] = carers
        for name in ("alert_reached", "alert_acknowledged", "alert_expired"):
            fills[name] = [{"carer": carer} for carer in self.carers]
        return fills

    def _foreseeable_spans_and_counts(self) -> dict[str, list[dict[str, object]]]:
        """The fills of the prompts that say a span of time or a count: each a whole number in a small range.
        Each of these prompts holds one fill per sentence, so every value of each fill is enough."""
        timings = self.timings
        spans = [self._span(minutes) for minutes in range(61)]  # up to "more than an hour"
        agos = list(dict.fromkeys(self._ago(minutes) for minutes in range(61)))
        ice_left = spans[:timings.ice_on_minutes + 1]
        off_left = spans[:timings.ice_off_minutes + 1]
        heat_left = spans[:timings.heat_minutes + 1]
        hours = max(timings.ice_next_round_hours, timings.heat_next_round_hours)
        waits = list(dict.fromkeys(self._wait(minute * 60) for minute in range(int(hours * 60) + 1)))
        scores, counts = range(11), range(COUNTS_SAID_AHEAD + 1)
        return {
            "time_left_ice": each_value(left=ice_left),
            "time_left_ice_off": each_value(left=off_left),
            "time_left_heat": each_value(left=heat_left),
            "ended_with_ice": each_value(left=ice_left),
            "alert_resumed": each_value(carers=[spoken_names(self.carers)] if self.carers else [], ago=agos),
            "late_deadline": each_value(timer=["ice", "ice break", "heat"], late=agos[1:]),
            "ice_remove_again": each_value(minutes=range(timings.ice_on_minutes, timings.ice_on_minutes + 11)),
            "next_ice": each_value(wait=waits),
            "next_heat": each_value(wait=waits),
            "summary_pain": each_value(before=scores, after=scores),
            "summary_rounds": each_value(ice=counts, heat=counts),
            "progress_pain": each_value(first=scores, latest=scores, best=scores),
            "progress_rounds": each_value(ice_today=counts, ice=counts, heat_today=counts, heat=counts),
        }

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
        self.tell_open_alert()
        self._expect_changes()
        return self._take_effects()

    def handle(self, event: Event, now: datetime) -> list[Effect]:
        self.now = now
        if isinstance(event, SpokeDone):
            if self.memory.flag_said:
                self._start("silence", seconds=self.timings.reprompt_seconds)
            elif self._is_question() and not self.memory.paused and not self.memory.confirming_end:
                self._start("silence", seconds=self._silence_delay())
            if self.memory.alert_countdown:
                self.restart_countdown()
        elif isinstance(event, TimerFired):
            self._on_timer(event)
        elif isinstance(event, NotUnderstood):
            self._on_not_understood()
        elif isinstance(event, AlertReport):
            self.on_alert_report(event.alert_id, event.carer, event.outcome)
        else:
            self._on_said(event)
        self.memory.state = self.state
        self._expect_changes()
        return self._take_effects()

    def expected_intents(self) -> list[str]:
        """The intents that move the protocol on from the current state."""
        return self._expected_intents_in(self.state)

    def _expected_intents_in(self, state: str) -> list[str]:
        return [t for t in self.machine.get_triggers(state) if t not in INTERNAL_TRIGGERS]

    def awaits_the_person(self) -> bool:
        """A session is under way, or a yes-or-no is asked: answers need no wake phrase now."""
        memory = self.memory
        return (self.state not in ("idle", "urgent") or memory.confirming_end or bool(memory.confirming_flag)
                or memory.alert_countdown)

    def listening_for(self) -> frozenset[str]:
        """Every intent the session acts on now: what the recognizer should listen for."""
        if self._asking_yes_or_no():
            return frozenset({"yes", "no"}) | self.table.always
        return heard_in_state(self.state, self.table, paused=self.memory.paused)

    def _on_said(self, said: Said) -> None:
        memory = self.memory
        self._restart_silence()
        if said.intent != "help":
            memory.help_given = False
        self.stop_repeating_advice()
        if self.is_emergency_said(said.intent):
            memory.confirming_end = False
            self.hear_emergency(said.intent)
            return
        if said.intent == "call_help":
            self.on_call_for_help()
            return
        if said.intent == "cancel" and self.cancel_alert():
            return
        if memory.confirming_flag:
            self.on_flag_answer(said.intent)
            return
        if memory.confirming_end:
            self._on_end_answer(said)
            return
        if said.intent not in self.listening_for():
            # Not something this moment listens for (typed, or heard before the grammar changed).
            if self.state == "urgent":
                self.remind_urgent()
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
        if said.intent in (NUMBER, PAIN_WORD):
            self.hear_score(said.value, self._pain_word(said), said.confidence)
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
            self.remind_urgent()
            return
        if said.intent in self.machine.get_triggers(self.state):
            self.trigger(said.intent)
        else:
            self._reprompt()

    def _on_everywhere_intent(self, said: Said) -> bool:
        memory = self.memory
        intent = said.intent
        if intent == "help":
            if memory.help_given:
                self._say("session.help_more" if self._is_question() else "session.help_more_between")
            else:
                self._say_help()
            memory.help_given = not memory.help_given
        elif intent == "repeat":
            self._repeat_last_prompt()
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
            self._carry_on()
        elif intent == "goodbye" and self.state == "idle":
            self._say("session.goodbye")
            self._emit(Quit())
        else:
            return False
        return True

    def _say_help(self) -> None:
        """What can be said now: the answers to this moment first, then what else is listened for."""
        if self.state == "urgent" and not self._asking_yes_or_no():
            self._say("session.help_urgent")
            return
        key = "session.help" if self._is_question() else "session.help_between"
        self._say(key, answers=self._answers())

    def _on_end_answer(self, said: Said) -> None:
        memory = self.memory
        if said.intent == "yes":
            memory.confirming_end = False
            memory.paused = False
            self._record("session_end", {"state": self.state, "by": "request"})
            ice_left = self._ice_minutes_left()
            for name in TIMERS_OF_STRETCH + TIMERS_OF_HEAT + ("silence", "ice_back"):
                self._cancel(name)
            self.trigger("end_session")
            self._say_closing_advice()
            if ice_left is not None:
                memory.session_closed = True
                self._say("session.ended_with_ice", left=self._span(ice_left))
            else:
                self._say("session.ended")
        elif said.intent == "no":
            memory.confirming_end = False
            self._say("session.not_ended")
            self._carry_on()
        else:
            self._say("session.reprompt", answers="yes or no")

    def _pain_word(self, said: Said) -> str:
        if said.intent != PAIN_WORD:
            return ""
        return next(phrase for phrase in self.table.phrases_for(PAIN_WORD) if self.table.phrases[phrase].value == said.value)

    def _on_not_understood(self) -> None:
        memory = self.memory
        if not memory.paused and not self._asking_yes_or_no():
            if self.state in PAIN_QUESTIONS | PAIN_WORD_QUESTIONS and self.pain_missed():
                return
            if self.state == "redFlags":
                self._restart_silence()
                self.red_flag_missed()
                return
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
            self._say("session.late_deadline", timer=timer, late=self._ago(late_minutes))
        name = fired.name
        # A warning that comes due while the machine was off is stale: the welcome back has said where the ice stands.
        on_time = late_minutes < 1
        if name in TIMERS_OF_ALERTS:
            self.on_alert_timer(name)
        elif name == "silence":
            self._on_silence()
        elif name == "ice_halfway" and self.state == "iceOn" and on_time:
            self._say("session.ice_halfway", minutes=self._ice_minutes_left() or 0)
        elif name == "ice_one_minute" and self.state == "iceOn" and on_time:
            self._say("session.ice_one_minute", urgency=1)
        elif name == "ice_remind" and self.state == "iceRemove":
            memory.ice_reminders += 1
            minutes = int((self.now - time_of(memory.ice_on_since)).total_seconds() // 60)
            key = "session.ice_remove_urgent" if memory.ice_reminders >= 3 else "session.ice_remove_again"
            self._say(key, minutes=minutes, urgency=1 + memory.ice_reminders)
            self._start("ice_remind", seconds=self.timings.ice_reminder_seconds)
            self.alert_if_ice_unanswered(minutes - self.timings.ice_on_minutes)
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
        if memory.flag_said:
            self.on_said_flag_silence()
            return
        if memory.paused or not self._is_question():
            return
        if self.state in PAIN_QUESTIONS:
            self.pain_missed()
            return
        if self.state == "redFlags" and not memory.confirming_flag:
            # An answer said too softly to be heard is silence to the app: a miss, never a "no".
            self._restart_silence()
            self.red_flag_missed()
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

    def session_closed(self) -> bool:
        return self.memory.session_closed

    def _after_state_change(self) -> None:
        self.memory.state = self.state
        self.memory.silence = self.memory.misses = 0
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
            self._say_closing_advice()
            self._say("session.session_end")

    def _welcome_back(self) -> None:
        """Welcome back, and where the running timer stands; a timer that ran out while away is told by its deadline."""
        memory = self.memory
        self._say("session.welcome_back")
        restored = {"iceOn": (memory.ice_due, "session.restored_ice"),
                    "iceOff": (memory.ice_back_at, "session.restored_ice_off"),
                    "heatOn": (memory.heat_due, "session.restored_heat")}
        deadline, key = restored.get(self.state, ("", ""))
        if deadline:
            if time_of(deadline) > self.now:
                self._say(key)
                self._say_time_left()
        elif memory.last_prompt and self.state != "idle":
            self._repeat_last_prompt()
        else:
            self._say("session.idle")

    def _answers(self) -> str:
        """The answers to suggest now: no more than four, so that they can be held after one hearing."""
        return "yes or no" if self._asking_yes_or_no() else self._answers_in(self.state)

    def _answers_in(self, state: str) -> str:
        spoken = []
        for intent in self._expected_intents_in(state):
            if intent == NUMBER:
                spoken.append("a number from zero to ten")
            elif intent == ONSET:
                spoken.append("when it began, like yesterday")
            elif intent == PAIN_WORD:
                words = self.table.phrases_for(PAIN_WORD)
                spoken.append(", ".join(words[:-1]) + " or " + words[-1])
            else:
                phrases = self.table.phrases_for(intent)
                if phrases:
                    spoken.append(phrases[0])
        spoken = spoken[:MOST_ANSWERS_SUGGESTED]
        if not spoken:
            return "help"
        return spoken[0] if len(spoken) == 1 else ", ".join(spoken[:-1]) + " or " + spoken[-1]

    def _asking_yes_or_no(self) -> bool:
        """One of the questions asked over whatever the state asks: end?, is that right?, send an alert?"""
        memory = self.memory
        return memory.confirming_end or bool(memory.confirming_flag)

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

    def _expect_changes(self) -> None:
        """Tell the listener when what can be said has changed."""
        intents = self.listening_for()
        if intents != self._listening:
            self._listening = intents
            self._emit(Expect(intents))

    def _take_effects(self) -> list[Effect]:
        effects, self._effects = self._effects, []
        return effects
