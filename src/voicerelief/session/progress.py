"""Progress: pain scores before and after (each confirmed), the summary, and "how am I doing"."""

from __future__ import annotations

from datetime import timedelta

from voicerelief.session.base import SessionBase, count_on_day, time_of
from voicerelief.session.machine import PAIN_QUESTIONS


# Pain this many points above the episode's first score is "getting worse".
WORSE_BY = 2


class Progress(SessionBase):
    def score_is_certain(self) -> bool:
        return self.memory.pending_certain

    def hear_score(self, value: int | None, word: str, confidence: float | None) -> None:
        """A score said (a number, or a word of the verbal scale): certain only when the recognizer was sure
        and it is not a score often heard in place of another."""
        memory = self.memory
        table = self.table
        memory.pending_score, memory.pending_word = value, word
        memory.pending_certain = (confidence is not None and confidence >= table.certain_confidence
                                  and (bool(word) or value not in table.always_confirm))

    def pain_missed(self) -> bool:
        """The pain question heard but not understood, or not answered: asked again with words to choose from
        (no pain, mild, moderate, severe: far apart in sound); missed there too, once, how to be heard. False
        when the usual "not understood" is left to say."""
        memory = self.memory
        if self.state in PAIN_QUESTIONS:
            self._say("session.pain_not_heard")
            self.trigger("pain_unclear")
            return True
        memory.misses += 1
        if memory.misses > 1:
            return False
        self._ask("session.pain_words_again")
        self._restart_silence()
        return True

    def score_misheard(self) -> None:
        self._say("session.pain_misheard")

    def on_enter_painBefore(self) -> None:
        self._ask("session.pain_before")

    def on_enter_painWordsBefore(self) -> None:
        self._ask("session.pain_words")

    def on_enter_painWordsAfter(self) -> None:
        self._ask("session.pain_words")

    def on_enter_confirmPainBefore(self) -> None:
        self._ask("session.pain_confirm", score=self._pending_said())

    def on_enter_rest(self) -> None:
        memory = self.memory
        memory.pain_before = memory.pending_score
        memory.pains.append((self.now.isoformat(), memory.pain_before))
        self._record("pain", self._pain_record("before"))
        self._say_once("session.reassure")
        self._ask("session.rest")

    def on_enter_painAfter(self) -> None:
        self._ask("session.pain_after")

    def on_enter_confirmPainAfter(self) -> None:
        self._ask("session.pain_confirm", score=self._pending_said())

    def _pending_said(self) -> str | int | None:
        return self.memory.pending_word or self.memory.pending_score

    def _pain_record(self, when: str) -> dict[str, object]:
        record: dict[str, object] = {"score": self.memory.pending_score, "when": when}
        if self.memory.pending_word:
            record["scale"] = "words"
        return record

    def summarize(self) -> None:
        memory = self.memory
        memory.pain_after = memory.pending_score
        memory.pains.append((self.now.isoformat(), memory.pain_after))
        self._record("pain", self._pain_record("after"))
        if memory.pain_before is not None:
            self._say("session.summary_pain", before=memory.pain_before, after=memory.pain_after)
        today = self.now.date().isoformat()
        self._say("session.summary_rounds",
                  ice=count_on_day(memory.ice_rounds, today), heat=count_on_day(memory.heat_rounds, today))
        if (memory.pain_after or 0) >= 7:
            self._say("session.medication")
        if self._getting_worse() and not memory.see_someone_said:
            memory.see_someone_said = True
            self._say("session.see_someone_worse")
        self._say_next_due()
        self._say_closing_advice()
        self._say("session.session_end")
        self._record("session_end", {"state": "summary", "by": "protocol"})

    def _say_progress(self) -> None:
        memory = self.memory
        scores = [score for _, score in memory.pains]
        if not scores:
            self._say("session.progress_none")
        else:
            self._say("session.progress_pain", first=scores[0], latest=scores[-1], best=min(scores))
        today = self.now.date().isoformat()
        self._say("session.progress_rounds",
                  ice_today=count_on_day(memory.ice_rounds, today), ice=len(memory.ice_rounds),
                  heat_today=count_on_day(memory.heat_rounds, today), heat=len(memory.heat_rounds))
        if memory.ice_rounds or memory.heat_rounds:
            self._say_next_due()
        not_easing = not scores or (scores[-1] >= scores[0] - 1 and scores[-1] > 2)
        if self._hours_since_onset() >= 24 * self.timings.see_someone_days and not_easing:
            memory.see_someone_said = True
            self._say("session.see_someone")

    def _getting_worse(self) -> bool:
        scores = [score for _, score in self.memory.pains if score is not None]
        return len(scores) >= 2 and scores[-1] >= scores[0] + WORSE_BY

    def _say_next_due(self) -> None:
        memory = self.memory
        if memory.ice_rounds and self.ice_allowed():
            due = time_of(memory.ice_rounds[-1]) + timedelta(hours=self.timings.ice_next_round_hours)
            self._say("session.next_ice", wait=self._wait((due - self.now).total_seconds()))
        elif memory.heat_rounds:
            due = time_of(memory.heat_rounds[-1]) + timedelta(hours=self.timings.heat_next_round_hours)
            self._say("session.next_heat", wait=self._wait((due - self.now).total_seconds()))
