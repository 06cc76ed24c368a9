"""Screening: the red-flag questions of a new episode, the re-check of a known one, and the urgent stop."""

from __future__ import annotations

from voicerelief.session.base import SessionBase

RED_FLAG_SECTION = "redflag_questions"


class Screening(SessionBase):
    def episode_is_urgent(self) -> bool:
        return self._episode_is_current() and self.memory.urgent

    def episode_is_known(self) -> bool:
        return self._episode_is_current() and bool(self.memory.onset)

    def more_red_flags(self) -> bool:
        return self.memory.red_flag + 1 < len(self.red_flag_keys)

    def ask_next_red_flag(self) -> None:
        self.memory.red_flag += 1
        self._ask(self.red_flag_keys[self.memory.red_flag])

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
