"""The stretch routine: loaded from a TOML file and checked, so no absurd stretch is ever spoken."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voicerelief.errors import ContentError
from voicerelief.protocol import whole_number
from voicerelief.prompts import content_path, table_entries
from voicerelief.red_flags import CAUTION, load_red_flags

SIDES = ("left", "right")
KEYS = {"name", "steps", "hold_seconds", "reps", "sides", "rest_seconds", "only_if_comfortable", "avoid_with"}


@dataclass(frozen=True)
class Stretch:
    name: str
    steps: tuple[str, ...]
    hold_seconds: int
    reps: int
    sides: tuple[str, ...]
    rest_seconds: int
    only_if_comfortable: str = ""
    # The caution answers (names of red-flag questions) that leave this stretch out.
    avoid_with: tuple[str, ...] = ()


def load_routine(path: Path | None = None, cautions: set[str] | None = None) -> tuple[Stretch, ...]:
    """The routine; ``cautions`` (by default those of red_flags.toml) are what ``avoid_with`` may name."""
    path = path or content_path("routine.toml")
    if cautions is None:
        cautions = {question.name for question in load_red_flags() if question.means == CAUTION}
    file = str(path)
    routine: list[Stretch] = []
    for where, entry in table_entries(path, "stretch", KEYS, "stretch setting"):
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ContentError(file, f"{where}.name", "must be a non-empty string")
        steps = entry.get("steps")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) and s.strip() for s in steps):
            raise ContentError(file, f"{where}.steps", "must be a non-empty list of sentences")
        sides = entry.get("sides", [])
        if not isinstance(sides, list) or not all(side in SIDES for side in sides):
            raise ContentError(file, f"{where}.sides", "must be a list of 'left' and 'right'")
        condition = entry.get("only_if_comfortable", "")
        if condition and condition not in {s.name for s in routine}:
            raise ContentError(file, f"{where}.only_if_comfortable", f"names no earlier stretch ({condition!r})")
        avoid_with = entry.get("avoid_with", [])
        if not isinstance(avoid_with, list) or not all(name in cautions for name in avoid_with):
            raise ContentError(file, f"{where}.avoid_with",
                               f"must be a list of caution questions ({', '.join(sorted(cautions))})")
        routine.append(Stretch(
            name=name.strip(),
            steps=tuple(s.strip() for s in steps),
            hold_seconds=whole_number(entry, "hold_seconds", file, where, 3, 120, " seconds"),
            reps=whole_number(entry, "reps", file, where, 1, 20),
            sides=tuple(sides),
            rest_seconds=whole_number(entry, "rest_seconds", file, where, 0, 120, " seconds"),
            only_if_comfortable=condition,
            avoid_with=tuple(avoid_with),
        ))
    return tuple(routine)
