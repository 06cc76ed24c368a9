"""The protocol's timings, loaded from ``content/protocol.toml`` and checked for safety."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voicerelief.errors import ContentError
from voicerelief.prompts import content_path, read_toml

MAX_ICE_ON_MINUTES = 20
MAX_HEAT_MINUTES = 20
SETTINGS = {
    "ice": {"on_minutes", "off_minutes", "window_hours", "reminder_seconds", "late_after_seconds", "next_round_hours"},
    "heat": {"minutes", "reminder_seconds", "next_round_hours"},
    "conversation": {"reprompt_seconds", "offer_help_seconds", "pause_seconds", "see_someone_days", "episode_days"},
}


@dataclass(frozen=True)
class Timings:
    ice_on_minutes: int
    ice_off_minutes: int
    ice_window_hours: int
    ice_reminder_seconds: int
    ice_late_after_seconds: int
    ice_next_round_hours: int
    heat_minutes: int
    heat_reminder_seconds: int
    heat_next_round_hours: int
    reprompt_seconds: int
    offer_help_seconds: int
    pause_seconds: int
    see_someone_days: int
    episode_days: int


def whole_number(table: dict, key: str, file: str, section: str, low: int, high: int, why: str = "") -> int:
    """A whole number between ``low`` and ``high``, or a ContentError naming it."""
    value = table.get(key)
    name = f"{section}.{key}"
    if value is None:
        raise ContentError(file, name, "is missing")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ContentError(file, name, f"must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ContentError(file, name, f"must be from {low} to {high}{why}, not {value}")
    return value


def load_timings(path: Path | None = None) -> Timings:
    path = path or content_path("protocol.toml")
    file = str(path)
    data = read_toml(path)
    sections = {}
    for section, allowed in SETTINGS.items():
        table = data.get(section)
        if not isinstance(table, dict):
            raise ContentError(file, section, "the table is missing")
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise ContentError(file, f"{section}.{unknown[0]}", "is not a setting this version knows")
        sections[section] = table
    ice, heat, talk = sections["ice"], sections["heat"], sections["conversation"]
    return Timings(
        ice_on_minutes=whole_number(ice, "on_minutes", file, "ice", 1, MAX_ICE_ON_MINUTES,
                                    " (ice is never left on for more than 20 minutes)"),
        ice_off_minutes=whole_number(ice, "off_minutes", file, "ice", 10, 120),
        ice_window_hours=whole_number(ice, "window_hours", file, "ice", 24, 96),
        ice_reminder_seconds=whole_number(ice, "reminder_seconds", file, "ice", 15, 120),
        ice_late_after_seconds=whole_number(ice, "late_after_seconds", file, "ice", 0, 600),
        ice_next_round_hours=whole_number(ice, "next_round_hours", file, "ice", 1, 24),
        heat_minutes=whole_number(heat, "minutes", file, "heat", 5, MAX_HEAT_MINUTES),
        heat_reminder_seconds=whole_number(heat, "reminder_seconds", file, "heat", 15, 600),
        heat_next_round_hours=whole_number(heat, "next_round_hours", file, "heat", 1, 24),
        reprompt_seconds=whole_number(talk, "reprompt_seconds", file, "conversation", 5, 120),
        offer_help_seconds=whole_number(talk, "offer_help_seconds", file, "conversation", 10, 300),
        pause_seconds=whole_number(talk, "pause_seconds", file, "conversation", 30, 1800),
        see_someone_days=whole_number(talk, "see_someone_days", file, "conversation", 3, 30),
        episode_days=whole_number(talk, "episode_days", file, "conversation", 7, 90),
    )
