"""Screening: the safety questions, a red-flag "yes" confirmed before it counts, and the urgent stop in two tiers."""

from __future__ import annotations

from voicerelief.red_flags import CAUTION, EMERGENCY, FIRST, LATER, TODAY, RedFlagQuestion
from voicerelief.session.base import SessionBase
from voicerelief.session.cold_and_heat import TIMERS_OF_HEAT, TIMERS_OF_ICE
from voicerelief.session.stretches import TIMERS_OF_STRETCH
from voicerelief.session.events import Say

# What `confirming_flag` holds when the emergency phrase, not a question, is being confirmed.
EMERGENCY_PHRASE = "emergency phrase"
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
        return self._question().means != CAUTION

    def note_caution(self) -> None:
        question = self._question()
        if question.means == CAUTION and question.name not in self.memory.yes_answers:
            self.memory.yes_answers.append(question.name)
            self._record("caution", {"question": question.name})

    def ask_next_red_flag(self) -> None:
        index = self._next_question_index()
        assert index is not None, "more_red_flags guards this"
        self.memory.red_flag = index
        self._ask_question()

    def begin_episode(self) -> None:
        memory = self.memory
        memory.episode += 1
        memory.onset, memory.urgent, memory.see_someone_said = "", False, False
        memory.ice_rounds, memory.heat_rounds, memory.cold_stopped_on, memory.pains = [], [], "", []
        memory.uncomfortable, memory.hurts, memory.yes_answers, memory.said_once = [], 0, [], []
        self._open_session(FIRST)
        self._record("episode_start", {"episode": memory.episode})
        self._record("session_start", {"episode": memory.episode})
        self._say("session.disclaimer")
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

    def hear_emergency(self) -> None:
        """The emergency phrase, in any state: the advice at once, then whether to stop the guidance."""
        memory = self.memory
        self._say_tier_advice(EMERGENCY)
        if memory.urgent and memory.urgent_tier == EMERGENCY:
            return
        memory.interrupted_prompt = memory.last_prompt
        memory.confirming_flag, memory.flag_unsure = EMERGENCY_PHRASE, False
        self._cancel("silence")
        self._ask("session.emergency_confirm")

    def on_flag_answer(self, intent: str) -> None:
        """The answer to "is that right?": a yes locks the episode, a no takes the answer back."""
        memory = self.memory
        flag, unsure = memory.confirming_flag, memory.flag_unsure
        if intent not in ("yes", "no"):
            self._say("session.reprompt", answers="yes or no")
            return
        memory.confirming_flag, memory.flag_unsure = "", False
        if intent == "no":
            self._record("red_flag", {"question": flag, "answer": "not confirmed"})
            if flag == EMERGENCY_PHRASE:
                memory.last_prompt = memory.interrupted_prompt
                self._say("session.not_ended")
                self._repeat_last_prompt()
            else:
                self._say("session.redflag_ask_again")
                self._ask_question()
            return
        tier = EMERGENCY if flag == EMERGENCY_PHRASE else TODAY if unsure else self._question().means
        self._record("red_flag", {"question": flag, "answer": "not sure" if unsure else "yes", "means": tier})
        self._stop_for_safety(tier, advice_given=flag == EMERGENCY_PHRASE)

    def remind_urgent(self) -> None:
        self._say(f"session.urgent_again_{self.memory.urgent_tier}", urgency=1)

    def _stop_for_safety(self, tier: str, advice_given: bool) -> None:
        """Lock the episode in its tier: no ice, heat or stretches until a new episode."""
        memory = self.memory
        if not memory.urgent or tier == EMERGENCY:
            memory.urgent_tier = tier
        memory.urgent = True
        for name in ("silence", "ice_back") + TIMERS_OF_ICE + TIMERS_OF_HEAT + TIMERS_OF_STRETCH:
            self._cancel(name)
        if memory.ice_due or memory.heat_due:
            self._say("session.urgent_take_off", urgency=1)
        memory.ice_due = memory.ice_back_at = memory.heat_due = ""
        if not advice_given:
            self._say_tier_advice(memory.urgent_tier)
        self._say("session.guidance_stopped")
        self.trigger("declare_urgent")
        if memory.urgent_tier == EMERGENCY:
            self.offer_alert()

    def _say_tier_advice(self, tier: str) -> None:
        numbers = self.numbers
        if tier == EMERGENCY:
            self._say("session.urgent_emergency", urgency=1)
        elif numbers.urgent:
            self._say("session.urgent_today", urgency=1)
        else:
            self._say("session.urgent_today_no_line", urgency=1)

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

    def _next_question_index(self) -> int | None:
        questions = self._questions()
        for index in range(self.memory.red_flag + 1, len(questions)):
            condition = questions[index].only_if
            if not condition or condition in self.memory.yes_answers:
                return index
        return None

    def _ask_question(self) -> None:
        question = self._question()
        self.memory.last_prompt = question.ask
        self._emit(Say(question.ask, question.key))

    def _pain_not_gone(self) -> bool:
        """Advice to see someone is for pain that lingers, never for pain that has gone."""
        scores = [score for _, score in self.memory.pains]
        return not scores or scores[-1] > 2
