"""The episode history, read back from the store: for `history`, `report` and `export`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from voicerelief.store import Store


@dataclass
class Period:
    kind: str
    start: datetime
    end: datetime | None = None
    late: bool = False


@dataclass
class Session:
    started: datetime
    pain_before: int | None = None
    pain_after: int | None = None
    ice_rounds: int = 0
    heat: int = 0
    stretches_done: list[str] = field(default_factory=list)
    stretches_stopped: list[str] = field(default_factory=list)


@dataclass
class Episode:
    number: int
    started: datetime
    onset: datetime | None = None
    red_flags: list[tuple[str, str]] = field(default_factory=list)
    pains: list[tuple[datetime, int]] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)

    @property
    def late_removals(self) -> list[Period]:
        return [p for p in self.periods if p.kind == "ice" and p.late]


def episodes(store: Store) -> list[Episode]:
    """Every episode with its sessions, pain scores, ice and heat periods, from the event rows."""
    found: dict[int, Episode] = {}
    for at, number, kind, data in store.events():
        if number == 0:
            continue
        episode = found.setdefault(number, Episode(number, at))
        session = episode.sessions[-1] if episode.sessions else None
        if kind == "session_start":
            episode.sessions.append(Session(at))
        elif kind == "onset":
            episode.onset = datetime.fromisoformat(data["onset"])
        elif kind == "red_flag":
            episode.red_flags.append((data["question"], data["answer"]))
        elif kind == "pain":
            episode.pains.append((at, data["score"]))
            if session is not None:
                setattr(session, "pain_before" if data["when"] == "before" else "pain_after", data["score"])
        elif kind in ("ice_on", "heat_on"):
            episode.periods.append(Period(kind.removesuffix("_on"), at))
        elif kind in ("ice_off", "heat_off"):
            open_periods = [p for p in episode.periods if p.kind == kind.removesuffix("_off") and p.end is None]
            if open_periods:
                open_periods[-1].end = at
                open_periods[-1].late = bool(data.get("late"))
            if kind == "heat_off" and session is not None:
                session.heat += 1
        elif kind == "ice_round" and session is not None:
            session.ice_rounds += 1
        elif kind == "stretch" and session is not None:
            (session.stretches_done if data["outcome"] == "done" else session.stretches_stopped).append(data["name"])
    return [found[number] for number in sorted(found)]


def as_json(found: list[Episode]) -> list[dict[str, Any]]:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return [plain(asdict(episode)) for episode in found]


def table(found: list[Episode]) -> str:
    """A readable table: one line per session, under a heading per episode."""
    if not found:
        return "No sessions are saved yet."
    lines = []
    for episode in found:
        onset = episode.onset.strftime("%a %d %b %H:%M") if episode.onset else "not given"
        flags = [q for q, answer in episode.red_flags if answer in ("yes", "not sure")]
        lines.append(f"Episode {episode.number}: began {onset}"
                     + (f"; red flag ({', '.join(flags)}): guidance stopped" if flags else ""))
        lines.append(f"  {'session':<17} {'pain':>9}  {'ice rounds':>10}  {'heat':>4}  stretches")
        for session in episode.sessions:
            before = "-" if session.pain_before is None else str(session.pain_before)
            after = "-" if session.pain_after is None else str(session.pain_after)
            stretches = f"{len(session.stretches_done)} done, {len(session.stretches_stopped)} stopped or skipped"
            lines.append(f"  {session.started:%a %d %b %H:%M}  {before:>4} → {after:<2}  {session.ice_rounds:>10}  "
                         f"{session.heat:>4}  {stretches}")
        late = len(episode.late_removals)
        if late:
            lines.append(f"  late ice removals: {late}")
    return "\n".join(lines)
