"""Screening: the safety questions, a red-flag "yes" confirmed before it counts, and the urgent stop in two tiers."""

from __future__ import annotations

from voicerelief.red_flags import EMERGENCY, FIRST, LATER, NOTED, TODAY, RedFlagQuestion, said_symptom
from voicerelief.session.base import SessionBase
from voicerelief.session.cold_and_heat import TIMERS_OF_HEAT, TIMERS_OF_ICE
from voicerelief.session.stretches import TIMERS_OF_STRETCH

# What `confirming_flag` holds when the bare word "emergency", not a symptom, is being confirmed.
EMERGENCY_PHRASE = "emergency phrase"
# Unanswered, the confirmation of an emergency said at any moment is asked again once, then taken as a yes:
# a person who said "I can't feel my legs" and then nothing may not be able to answer.
SAID_FLAG_SILENCES = 2
# A third episode or more: spasms that keep coming back are worth a clinician's look.
RECURRING_EPISODES = 3


class Screening(SessionBase):
    def episode_is_urgent(self) -> bool:
        return self._episode_is_current() and self.memory.urgent

    def episode_is_known(self) -> bool:
        return self._episode_is_current() and bool(self.memory.onset)

    def new_episode(self) -> bool:
        return self.memory.screening == FIRST

    def more_red_flags(self) -> bool:
        return self._next_question_index() is not None

    def answer_needs_confirming(self) -> bool:
        return self._question().means not in NOTED

    def note_caution(self) -> None:
        """A yes to a caution or a gate: noted for the episode, and what must be known at once is said."""
        question = self._question()
        if question.means in NOTED and question.name not in self.memory.yes_answers:
            self.memory.yes_answers.append(question.name)
            self._record("caution", {"question": question.name})
            if question.then_say:
                self._say_text(question.then_say, f"{question.key}.then_say")

    def ask_next_red_flag(self) -> None:
        index = self._next_question_index()
        assert index is not None, "more_red_flags guards this"
        self.memory.red_flag = index
        self._ask_question()

    def begin_episode(self) -> None:
        memory = self.memory
        self._open_episode()
        self._record("session_start", {"episode": memory.episode})
        self._say("session.disclaimer")
        if not self.numbers.chosen_for_this_place():
            self._say_once("session.number_not_set")
        if memory.episode >= RECURRING_EPISODES:
            self._say("session.see_someone_recurring")
        self._say("session.redflag_intro")

    def begin_later_session(self) -> None:
        memory = self.memory
        self._open_session(LATER)
        self._record("session_start", {"episode": memory.episode})
        self._say("session.welcome_back")
        if (self._hours_since_onset() >= 24 * self.timings.see_someone_days and not memory.see_someone_said
                and self._pain_not_gone()):
            memory.see_someone_said = True
            self._say("session.see_someone")
        self._say("session.recheck_intro")

    def red_flag_missed(self) -> None:
        """A safety answer heard but not understood: never a "no". Once: how to be heard, and the question
        again; twice: counted as "not sure", if the person agrees (a caution or a gate simply as a yes)."""
        memory = self.memory
        memory.misses += 1
        question = self._question()
        if memory.misses == 1:
            self._say("session.redflag_not_heard")
            self._repeat_last_prompt()
        elif question.means in NOTED:
            self.trigger("unsure")
        else:
            memory.confirming_flag, memory.flag_unsure = question.name, True
            self._cancel("silence")
            self._ask("session.redflag_unclear", what=question.heard_as)

    def on_enter_redFlags(self) -> None:
        self._ask_question()

    def on_enter_onset(self) -> None:
        self._record("red_flag", {"question": "all", "answer": "no"})
        self._ask("session.onset")

    def confirm_red_flag(self, unsure: bool = False) -> None:
        """A yes (or "not sure") to a red-flag question: ask again before it ends the guidance."""
        question = self._question()
        self.memory.confirming_flag, self.memory.flag_unsure = question.name, unsure
        self._cancel("silence")
        key = "session.redflag_confirm_unsure" if unsure else "session.redflag_confirm"
        self._ask(key, what=question.heard_as)

    def confirm_unsure(self) -> None:
        self.confirm_red_flag(unsure=True)

    def is_emergency_said(self, intent: str) -> bool:
        """The bare word, or a phrase naming an emergency symptom ("wet myself")."""
        return intent == "emergency" or said_symptom(self.red_flags, intent) is not None

    def hear_emergency(self, intent: str) -> None:
        """An emergency said in any state. The symptom is confirmed ("You said you wet yourself. Is that
        right?"), the bare word asked about ("Is this an emergency?"); the advice comes with the yes, and
        once given it is never taken back. Already locked as an emergency, the advice is said again."""
        memory = self.memory
        if memory.urgent and memory.urgent_tier == EMERGENCY:
            self.remind_urgent()
            return
        if not memory.flag_said:
            memory.interrupted_prompt = memory.last_prompt
        symptom = said_symptom(self.red_flags, intent)
        memory.confirming_flag = symptom.name if symptom else EMERGENCY_PHRASE
        memory.flag_unsure, memory.flag_said, memory.silence = False, True, 0
        if symptom:
            self._ask("session.symptom_confirm", urgency=1, symptom=symptom.said_back)
        else:
            self._ask("session.emergency_confirm", urgency=1)
        self._start("silence", seconds=self.timings.reprompt_seconds)

    def on_flag_answer(self, intent: str) -> None:
        """The answer to "is that right?": a yes locks the episode, a no takes the answer back."""
        memory = self.memory
        flag, unsure, said = memory.confirming_flag, memory.flag_unsure, memory.flag_said
        if intent not in ("yes", "no"):
            self._say("session.reprompt", answers="yes or no")
            return
        memory.confirming_flag, memory.flag_unsure, memory.flag_said = "", False, False
        if intent == "no":
            self._record("red_flag", {"question": flag, "answer": "not confirmed"})
            if said:
                memory.last_prompt = memory.interrupted_prompt
                self._say("session.symptom_misheard")
                self._carry_on()
            else:
                self._say("session.redflag_ask_again")
                self._ask_question()
            return
        tier = EMERGENCY if flag == EMERGENCY_PHRASE else TODAY if unsure else self._question_named(flag).means
        self._record("red_flag", {"question": flag, "answer": "not sure" if unsure else "yes", "means": tier})
        self._stop_for_safety(tier, self._question_named(flag))

    def on_said_flag_silence(self) -> None:
        """No answer to the confirmation of an emergency said at any moment: ask once more, then act on it."""
        memory = self.memory
        memory.silence += 1
        if memory.silence < SAID_FLAG_SILENCES:
            self._repeat_last_prompt()
            self._start("silence", seconds=self.timings.reprompt_seconds)
            return
        flag = memory.confirming_flag
        memory.confirming_flag, memory.flag_unsure, memory.flag_said = "", False, False
        self._record("red_flag", {"question": flag, "answer": "no answer", "means": EMERGENCY})
        self._say("session.no_answer_emergency", urgency=1)
        self._stop_for_safety(EMERGENCY, self._question_named(flag))

    def remind_urgent(self) -> None:
        self._say(f"session.urgent_again_{self.memory.urgent_tier}", urgency=1)

    def _stop_for_safety(self, tier: str, question: RedFlagQuestion | None) -> None:
        """Lock the episode in its tier: no ice, heat or stretches until a new episode. An emergency is
        never left in silence (`after_emergency_advice`)."""
        memory = self.memory
        if not self._episode_is_current():
            # Said before any session (or long after the last): the lock needs an episode to hold it, or
            # the next "start" would open a new one and guide as if nothing had been said.
            self._open_episode()
        if not memory.urgent or tier == EMERGENCY:
            memory.urgent_tier = tier
        memory.urgent = True
        for name in ("silence", "ice_back") + TIMERS_OF_ICE + TIMERS_OF_HEAT + TIMERS_OF_STRETCH:
            self._cancel(name)
        if memory.ice_due or memory.heat_due:
            self._say("session.urgent_take_off", urgency=1)
        memory.ice_due = memory.ice_back_at = memory.heat_due = ""
        self._say_tier_advice(memory.urgent_tier)
        if question and question.then_say:
            self._say_text(question.then_say, f"{question.key}.then_say", urgency=1)
        self._say("session.guidance_stopped")
        self.trigger("declare_urgent")
        if memory.urgent_tier == EMERGENCY:
            self.after_emergency_advice()

    def _say_tier_advice(self, tier: str) -> None:
        """The advice is what "repeat" says from now on: no question is waiting any more."""
        numbers = self.numbers
        if tier == EMERGENCY:
            self._ask("session.urgent_emergency", urgency=1)
        elif numbers.urgent:
            self._ask("session.urgent_today", urgency=1)
        else:
            self._ask("session.urgent_today_no_line", urgency=1)

    def _open_episode(self) -> None:
        memory = self.memory
        memory.episode += 1
        memory.onset, memory.urgent, memory.see_someone_said = "", False, False
        memory.ice_rounds, memory.heat_rounds, memory.cold_stopped_on, memory.pains = [], [], "", []
        memory.uncomfortable, memory.yes_answers, memory.said_once = [], [], []
        self._open_session(FIRST)
        self._record("episode_start", {"episode": memory.episode})

    def _open_session(self, screening: str) -> None:
        memory = self.memory
        memory.session_closed = False
        memory.last_session = self.now.isoformat()
        memory.screening = screening
        memory.red_flag = 0

    def _questions(self) -> list[RedFlagQuestion]:
        return [q for q in self.red_flags if q.asked == self.memory.screening]

    def _question(self) -> RedFlagQuestion:
        return self._questions()[self.memory.red_flag]

    def _question_named(self, name: str) -> RedFlagQuestion | None:
        return next((question for question in self.red_flags if question.name == name), None)

    def _next_question_index(self) -> int | None:
        questions = self._questions()
        for index in range(self.memory.red_flag + 1, len(questions)):
            condition = questions[index].only_if
            if not condition or condition in self.memory.yes_answers:
                return index
        return None

    def _ask_question(self) -> None:
        question = self._question()
        self.memory.misses = 0
        self.memory.last_prompt = question.ask
        self._say_text(question.ask, question.key)

    def _pain_not_gone(self) -> bool:
        """Advice to see someone is for pain that lingers, never for pain that has gone."""
        scores = [score for _, score in self.memory.pains]
        return not scores or scores[-1] > 2
