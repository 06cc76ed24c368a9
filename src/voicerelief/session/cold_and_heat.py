"""Cold and heat: the ice round (20 on, skin check, 20 off, 20 on), heat, and the time left on either."""

from __future__ import annotations

from datetime import timedelta

from voicerelief.session.base import SessionBase, minutes_between, time_of

TIMERS_OF_ICE = ("ice_halfway", "ice_one_minute", "ice_due", "ice_remind")
TIMERS_OF_HEAT = ("heat_due", "heat_remind")


class ColdAndHeat(SessionBase):
    def ice_allowed(self) -> bool:
        if self.skin_rests_today():
            return False
        return self._hours_since_onset() < self.timings.ice_window_hours

    def skin_rests_today(self) -> bool:
        """Skin still numb, or damaged, earlier today: no ice and no heat on it until tomorrow."""
        return self.memory.cold_stopped_on == self.now.date().isoformat()

    def first_round(self) -> bool:
        return not self.memory.ice_rounds and not self.memory.heat_rounds

    def ice_chosen(self) -> bool:
        """Ice, unless heat was all this episode has used."""
        return bool(self.memory.ice_rounds) or not self.memory.heat_rounds

    def first_ice_part(self) -> bool:
        return self.memory.ice_part == 1

    def explain_no_ice(self) -> None:
        self._say("session.ice_too_late")

    def explain_skin_rest(self) -> None:
        self._say("session.ice_not_today")

    def stop_cold_for_today(self) -> None:
        """Blisters, or skin that stays white or hard: no cold today, and a pharmacist or doctor to look."""
        self.memory.cold_stopped_on = self.now.date().isoformat()
        self._record("skin", {"problem": "damaged"})
        self._say("session.skin_damaged")

    def skin_still_numb(self) -> None:
        """Numbness that outlasts the break: no cold until the skin feels normal, which today may not."""
        self.memory.cold_stopped_on = self.now.date().isoformat()
        self._record("skin", {"problem": "numb"})
        self._say("session.skin_still_numb")

    def finish_ice_round(self) -> None:
        self.memory.ice_rounds.append(self.now.isoformat())
        self._record("ice_round", {"rounds_in_episode": len(self.memory.ice_rounds)})
        self._say("session.ice_round_done")

    def finish_heat(self) -> None:
        memory = self.memory
        for name in TIMERS_OF_HEAT:
            self._cancel(name)
        memory.heat_rounds.append(self.now.isoformat())
        self._record("heat_off", {"minutes": minutes_between(memory.heat_since, self.now)})
        memory.heat_due = ""
        self._say("session.heat_done")

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
        late = max(0, int((self.now - time_of(memory.ice_due)).total_seconds())) if memory.ice_due else 0
        self._record("ice_off", {"part": memory.ice_part, "minutes_on": minutes_between(memory.ice_on_since, self.now),
                                 "late_seconds": late, "late": late > self.timings.ice_late_after_seconds})
        memory.ice_due = ""
        self._ask("session.skin_check")

    def on_enter_iceOff(self) -> None:
        memory = self.memory
        memory.ice_part = 2
        memory.ice_back_at = (self.now + timedelta(minutes=self.timings.ice_off_minutes)).isoformat()
        self._start("ice_back", seconds=self.timings.ice_off_minutes * 60)
        self._ask("session.ice_off")

    def on_enter_coldOrHeat(self) -> None:
        self._ask("session.cold_or_heat")

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

    def _say_time_left(self) -> None:
        memory = self.memory
        for due, key in ((memory.ice_due, "session.time_left_ice"), (memory.ice_back_at, "session.time_left_ice_off"),
                         (memory.heat_due, "session.time_left_heat")):
            if due:
                seconds_left = (time_of(due) - self.now).total_seconds()
                self._say(key, left=self._span(int(seconds_left / 60 + 0.5) if seconds_left >= 60 else 0))
                return
        self._say("session.time_left_none")
