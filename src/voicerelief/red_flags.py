"""The safety questions: loaded from ``content/red_flags.toml`` and checked, so that none is ever lost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voicerelief.errors import ContentError
from voicerelief.prompts import content_path, table_entries

EMERGENCY, TODAY, CAUTION, GATE = "emergency", "today", "caution", "gate"
MEANINGS = (EMERGENCY, TODAY, CAUTION, GATE)
# A yes to these is noted and the questions go on; to the others it is confirmed and stops the guidance.
NOTED = (CAUTION, GATE)
FIRST, LATER = "first", "later"
TEXT_KEYS = ("name", "ask", "heard_as", "only_if", "why", "then_say", "said_as", "said_back")
KEYS = {"means", "asked", *TEXT_KEYS}


@dataclass(frozen=True)
class RedFlagQuestion:
    name: str
    means: str
    asked: str
    ask: str
    heard_as: str
    only_if: str = ""
    why: str = ""
    then_say: str = ""
    said_as: str = ""
    said_back: str = ""

    @property
    def key(self) -> str:
        """The key its spoken question is recorded and cached under."""
        return f"red_flags.{self.name}"


def load_red_flags(path: Path | None = None) -> tuple[RedFlagQuestion, ...]:
    path = path or content_path("red_flags.toml")
    file = str(path)
    questions: list[RedFlagQuestion] = []
    for where, entry in table_entries(path, "question", KEYS, "question setting"):
        text = {key: _text(entry, key, file, where, required=key in ("name", "ask", "heard_as"))
                for key in TEXT_KEYS}
        means, asked = entry.get("means"), entry.get("asked")
        if means not in MEANINGS:
            raise ContentError(file, f"{where}.means", f"must be one of {', '.join(MEANINGS)}")
        if asked not in (FIRST, LATER):
            raise ContentError(file, f"{where}.asked", f"must be {FIRST!r} or {LATER!r}")
        if means == CAUTION and not text["why"]:
            raise ContentError(file, f"{where}.why", "a caution needs the sentence that explains it")
        if bool(text["said_as"]) != bool(text["said_back"]):
            raise ContentError(file, f"{where}.said_back", "said_as and said_back go together")
        if text["said_as"] and means != EMERGENCY:
            raise ContentError(file, f"{where}.said_as", "only an emergency symptom is heard at any moment")
        if text["only_if"] and text["only_if"] not in {q.name for q in questions if q.asked == asked}:
            raise ContentError(file, f"{where}.only_if", f"names no earlier question ({text['only_if']!r})")
        questions.append(RedFlagQuestion(means=means, asked=asked, **text))
    for asked in (FIRST, LATER):
        if not any(q.asked == asked and q.means == EMERGENCY for q in questions):
            raise ContentError(file, "question", f"at least one emergency question must be asked {asked!r}")
    names = [q.name for q in questions]
    if len(set(names)) != len(names):
        raise ContentError(file, "question", "two questions have the same name")
    said = [q.said_as for q in questions if q.said_as]
    if len(set(said)) != len(said):
        raise ContentError(file, "question", "two questions are said_as the same intent")
    return tuple(questions)


def said_symptom(questions: tuple[RedFlagQuestion, ...], intent: str) -> RedFlagQuestion | None:
    """The question whose symptom a phrase said at any moment names ("wet myself"), or None."""
    return next((question for question in questions if question.said_as == intent), None)


def _text(entry: dict, key: str, file: str, where: str, required: bool) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ContentError(file, f"{where}.{key}", "must be a non-empty string")
    return value.strip()
