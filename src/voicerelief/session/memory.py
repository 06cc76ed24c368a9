"""What the session remembers between events, saved after every step."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Memory:
    """Everything the session knows, saved after every event and restored after a restart."""

    state: str = "boot"
    episode: int = 0
    onset: str = ""
    urgent: bool = False
    # Saved before tiers existed, an urgent episode keeps the stronger advice.
    urgent_tier: str = "emergency"
    last_session: str = ""
    cold_stopped_on: str = ""
    see_someone_said: bool = False
    ice_rounds: list[str] = field(default_factory=list)
    heat_rounds: list[str] = field(default_factory=list)
    pains: list[tuple[str, int]] = field(default_factory=list)
    pain_before: int | None = None
    pain_after: int | None = None
    pending_score: int | None = None
    # The pending score was said in words ("moderate"), and how sure the recognizer was of it.
    pending_word: str = ""
    pending_certain: bool = False
    # Answers to the question now asked that were heard but not understood.
    misses: int = 0
    red_flag: int = 0
    # Which safety questions this session asks ("first" or "later"), and the yes answers of the episode.
    screening: str = "first"
    yes_answers: list[str] = field(default_factory=list)
    # A red-flag answer waiting to be confirmed: a question's name, or the emergency phrase.
    confirming_flag: str = ""
    flag_unsure: bool = False
    # The flag being confirmed was said at some moment ("I wet myself"), not answered to a question.
    flag_said: bool = False
    # The question that was waiting when the emergency phrase cut in, asked again if it was not an emergency.
    interrupted_prompt: str = ""
    # Advice given once per episode (reassurance, getting up, ...), by prompt key.
    said_once: list[str] = field(default_factory=list)
    ice_part: int = 1
    ice_on_since: str = ""
    ice_due: str = ""
    ice_back_at: str = ""
    ice_reminders: int = 0
    heat_due: str = ""
    heat_since: str = ""
    session_closed: bool = False
    stretch: int = 0
    side: int = 0
    rep: int = 1
    count: int = 0
    uncomfortable: list[str] = field(default_factory=list)
    paused: bool = False
    # Calling a carer: the spoken countdown, the open alert, the room calls made.
    alert_countdown: bool = False
    # What the counting-down alert is about: a call for help, or a confirmed emergency.
    countdown_kind: str = "help"
    alert_id: str = ""
    # When the open alert was first asked for (ISO time): said again after a restart.
    alert_sent_at: str = ""
    alert_failing_said: bool = False
    room_calls: int = 0
    # After emergency advice with no carer to alert: how many more times it is said, unless the person answers.
    advice_repeats_left: int = 0
    # The short help list was just given: "help" again gives the rest.
    help_given: bool = False
    confirming_end: bool = False
    silence: int = 0
    last_prompt: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Memory:
        known = {name for name in cls.__dataclass_fields__}
        if data.get("state") in ("redFlags", "recheck") and "screening" not in data:
            # Saved mid-questions by the version before tiers: its questions were others; ask the new ones afresh.
            data = {**data, "state": "redFlags", "red_flag": 0,
                    "screening": "later" if data["state"] == "recheck" else "first"}
        memory = cls(**{key: value for key, value in data.items() if key in known})
        memory.pains = [(moment, score) for moment, score in memory.pains]
        return memory
