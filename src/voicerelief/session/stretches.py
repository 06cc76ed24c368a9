"""Stretches: the routine from the content file, held and counted, skipped or stopped on pain."""

from __future__ import annotations

from voicerelief.routine import Stretch
from voicerelief.session.base import SessionBase

TIMERS_OF_STRETCH = ("hold_tick", "hold_end", "rest_end")


class Stretches(SessionBase):
    def more_reps(self) -> bool:
        stretch = self.routine[self.memory.stretch]
        return self.memory.rep < stretch.reps or self.memory.side + 1 < max(1, len(stretch.sides))

    def advance_stretch(self) -> bool:
        return self._next_stretch_index() is not None

    def no_safe_stretch(self) -> bool:
        return not any(self._is_safe(stretch) for stretch in self.routine)

    def explain_no_stretches(self) -> None:
        self._say_why_left_out(self.routine)
        self._say("session.stretches_none")

    def begin_routine(self) -> None:
        memory = self.memory
        memory.uncomfortable = []
        memory.stretch, memory.side, memory.rep = self._stretch_after(-1) or 0, 0, 1
        left_out = [stretch for stretch in self.routine if not self._is_safe(stretch)]
        if left_out:
            self._say("session.stretch_left_out", names=_spoken_list([stretch.name for stretch in left_out]))
            self._say_why_left_out(left_out)
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

    def stop_routine(self) -> None:
        """Pain during a stretch: end it at once, and the stretches for today; rest comes first."""
        self._cancel_stretch_timers()
        self.memory.uncomfortable.append(self._stretch().name)
        self._record("stretch", {"name": self._stretch().name, "outcome": "stopped"})
        self._say("session.stretch_hurt", urgency=1)

    def finish_routine(self) -> None:
        self._cancel_stretch_timers()
        self._say("session.stretches_finished")

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
        if stretch.sides:
            # Which leg, before the person moves: "Left side." after "ready" would come too late.
            self._say("session.stretch_first_side", side=stretch.sides[0])
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

    def _stretch(self) -> Stretch:
        return self.routine[self.memory.stretch]

    def _next_stretch_index(self) -> int | None:
        return self._stretch_after(self.memory.stretch)

    def _stretch_after(self, index: int) -> int | None:
        for following in range(index + 1, len(self.routine)):
            stretch = self.routine[following]
            condition = stretch.only_if_comfortable
            if self._is_safe(stretch) and (not condition or condition not in self.memory.uncomfortable):
                return following
        return None

    def _is_safe(self, stretch: Stretch) -> bool:
        return not set(stretch.avoid_with) & set(self.memory.yes_answers)

    def _say_why_left_out(self, stretches: tuple[Stretch, ...] | list[Stretch]) -> None:
        """Each caution answered yes that leaves these stretches out, in its own words."""
        avoided = {name for stretch in stretches for name in stretch.avoid_with}
        for question in self.red_flags:
            if question.name in avoided and question.name in self.memory.yes_answers:
                self._say_text(question.why, f"{question.key}.why")

    def _move_to_next_stretch(self) -> None:
        memory = self.memory
        following = self._next_stretch_index()
        skipped_for_safety = [s for s in self.routine[memory.stretch + 1:following]
                              if self._is_safe(s) and s.only_if_comfortable in memory.uncomfortable]
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


def _spoken_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _count_step(hold_seconds: int) -> int:
    """Count every second for short holds, every five seconds for long ones."""
    return 1 if hold_seconds <= 10 else 5


def counts_said(hold_seconds: int) -> range:
    """The counts said during a hold: one every step, up to but not at its end (the release is said then)."""
    step = _count_step(hold_seconds)
    return range(step, hold_seconds, step)
