"""SQLite storage: every event row, the latest session memory, the pending timers, and the alerts' outbox.

One file in the user data folder, in WAL mode, readable by its owner only. Each
step of the session is written in one transaction before anything is spoken, so
after a crash the saved state is the last step that was completed.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import platformdirs

from voicerelief.errors import VoiceReliefError

DATABASE_NAME = "voicerelief.sqlite3"
LOCK_NAME = "running.lock"
EXPORT_FORMAT = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    episode INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_episode ON events (episode, at);
CREATE TABLE IF NOT EXISTS memory (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    saved_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timers (
    name TEXT PRIMARY KEY,
    due TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    alert_id TEXT NOT NULL,
    carer TEXT NOT NULL,
    created TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL DEFAULT '',
    last_error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (alert_id, carer)
);
"""
# An alert to one carer is open while pending; sent, cancelled and expired ones are never tried again.
OPEN_DELIVERY = "pending"


class StoreError(VoiceReliefError):
    """The data file cannot be used."""


@dataclass(frozen=True)
class Step:
    """What one handled event changed: rows to add, timers to set and clear, the new memory."""

    at: datetime
    episode: int
    records: list[tuple[str, dict[str, Any]]]
    timers_started: dict[str, datetime]
    timers_cancelled: list[str]
    memory: dict[str, Any]
    # New deliveries (alert id, carer, kind, message), and alerts called off.
    deliveries: list[tuple[str, str, str, str]] = field(default_factory=list)
    alerts_cancelled: list[str] = field(default_factory=list)


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("voicerelief"))


class Store:
    def __init__(self, data_dir: Path, exclusive: bool = False) -> None:
        """Open the data file; ``exclusive`` also makes sure no other assistant uses the folder."""
        self.path = data_dir / DATABASE_NAME
        self._lock: int | None = None
        try:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            if exclusive:
                self._lock = _lock_folder(data_dir)
            new_file = not self.path.exists()
            if new_file:
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(self.path, timeout=2.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            self._db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as error:
            raise StoreError(_explain(self.path, error)) from None
        except OSError as error:
            raise StoreError(f"The data folder {data_dir} cannot be used ({error.strerror}); "
                             "choose another with --data-dir.") from None

    def load_memory(self) -> dict[str, Any] | None:
        row = self._db.execute("SELECT data FROM memory WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None

    def pending_timers(self) -> dict[str, datetime]:
        return {name: datetime.fromisoformat(due) for name, due in self._db.execute("SELECT name, due FROM timers")}

    def commit(self, step: Step) -> None:
        """Write one step atomically."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO events (at, episode, kind, data) VALUES (?, ?, ?, ?)",
                [(step.at.isoformat(), step.episode, kind, json.dumps(data)) for kind, data in step.records])
            self._db.executemany("DELETE FROM timers WHERE name = ?", [(name,) for name in step.timers_cancelled])
            self._db.executemany(
                "INSERT INTO timers (name, due) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET due = excluded.due",
                [(name, due.isoformat()) for name, due in step.timers_started.items()])
            self._db.executemany(
                "INSERT OR IGNORE INTO outbox (alert_id, carer, created, kind, body, state) VALUES (?, ?, ?, ?, ?, ?)",
                [(alert_id, carer, step.at.isoformat(), kind, body, OPEN_DELIVERY)
                 for alert_id, carer, kind, body in step.deliveries])
            self._db.executemany("UPDATE outbox SET state = 'cancelled' WHERE alert_id = ? AND state = ?",
                                 [(alert_id, OPEN_DELIVERY) for alert_id in step.alerts_cancelled])
            self._db.execute(
                "INSERT INTO memory (id, saved_at, data) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET saved_at = excluded.saved_at, data = excluded.data",
                (step.at.isoformat(), json.dumps(step.memory)))
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(_explain(self.path, error)) from None

    def open_deliveries(self) -> list[tuple[str, str, str, str]]:
        """(alert id, carer, kind, message) of every alert not yet through to its carer: to send after a restart."""
        return list(self._db.execute("SELECT alert_id, carer, kind, body FROM outbox WHERE state = ? ORDER BY created",
                                     (OPEN_DELIVERY,)))

    def mark_delivery(self, alert_id: str, carer: str, state: str, tries: int, problem: str = "",
                      next_attempt: str = "") -> None:
        """A delivery's latest try; an acknowledgement also follows "sent" (and keeps its tries)."""
        try:
            if state == "acknowledged":
                self._db.execute("UPDATE outbox SET state = ? WHERE alert_id = ? AND carer = ? AND state IN (?, 'sent')",
                                 (state, alert_id, carer, OPEN_DELIVERY))
                return
            self._db.execute("UPDATE outbox SET state = ?, tries = ?, last_error = ?, next_attempt = ? "
                             "WHERE alert_id = ? AND carer = ? AND state = ?",
                             (state, tries, problem, next_attempt, alert_id, carer, OPEN_DELIVERY))
        except sqlite3.DatabaseError as error:
            raise StoreError(_explain(self.path, error)) from None

    def deliveries(self) -> list[tuple[str, str, str, str, int]]:
        """(alert id, carer, kind, state, tries) of every alert, oldest first."""
        return list(self._db.execute("SELECT alert_id, carer, kind, state, tries FROM outbox ORDER BY created"))

    def undelivered(self) -> list[tuple[str, str, str, int, str, str]]:
        """(carer, kind, first asked for, tries, next attempt, last error) of every alert still being tried."""
        return list(self._db.execute(
            "SELECT carer, kind, created, tries, next_attempt, last_error FROM outbox WHERE state = ? ORDER BY created",
            (OPEN_DELIVERY,)))

    def load_setting(self, name: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT data FROM settings WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def save_setting(self, name: str, data: dict[str, Any]) -> None:
        try:
            self._db.execute("INSERT INTO settings (name, data) VALUES (?, ?) "
                             "ON CONFLICT (name) DO UPDATE SET data = excluded.data", (name, json.dumps(data)))
        except sqlite3.DatabaseError as error:
            raise StoreError(_explain(self.path, error)) from None

    def events(self, kinds: Iterable[str] | None = None) -> list[tuple[datetime, int, str, dict[str, Any]]]:
        query = "SELECT at, episode, kind, data FROM events"
        parameters: list[str] = []
        if kinds is not None:
            kinds = list(kinds)
            query += f" WHERE kind IN ({','.join('?' * len(kinds))})"
            parameters = kinds
        return [(datetime.fromisoformat(at), episode, kind, json.loads(data))
                for at, episode, kind, data in self._db.execute(query + " ORDER BY id", parameters)]

    def export(self) -> dict[str, Any]:
        """Everything in the file, as plain data."""
        return {
            "format": EXPORT_FORMAT,
            "events": [{"id": i, "at": at, "episode": episode, "kind": kind, "data": json.loads(data)}
                       for i, at, episode, kind, data in
                       self._db.execute("SELECT id, at, episode, kind, data FROM events ORDER BY id")],
            "memory": self.load_memory(),
            "timers": {name: due for name, due in self._db.execute("SELECT name, due FROM timers ORDER BY name")},
            "settings": {name: json.loads(data) for name, data in
                         self._db.execute("SELECT name, data FROM settings ORDER BY name")},
        }

    def import_(self, exported: dict[str, Any]) -> int:
        """Load an export into this (empty) file; returns the number of events."""
        if exported.get("format") != EXPORT_FORMAT:
            raise StoreError(f"This is not a VoiceRelief export (format {EXPORT_FORMAT} expected).")
        existing = self._db.execute("SELECT count(*) FROM events").fetchone()[0]
        if existing:
            raise StoreError(f"The data file {self.path} already holds {existing} events; "
                             "import into an empty folder with --data-dir, or forget --all first.")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO events (id, at, episode, kind, data) VALUES (?, ?, ?, ?, ?)",
                                 [(e["id"], e["at"], e["episode"], e["kind"], json.dumps(e["data"]))
                                  for e in exported["events"]])
            if exported.get("memory") is not None:
                saved_at = exported["events"][-1]["at"] if exported["events"] else ""
                self._db.execute("INSERT OR REPLACE INTO memory (id, saved_at, data) VALUES (1, ?, ?)",
                                 (saved_at, json.dumps(exported["memory"])))
            self._db.executemany("INSERT OR REPLACE INTO timers (name, due) VALUES (?, ?)",
                                 list(exported.get("timers", {}).items()))
            self._db.executemany("INSERT OR REPLACE INTO settings (name, data) VALUES (?, ?)",
                                 [(name, json.dumps(data)) for name, data in exported.get("settings", {}).items()])
            self._db.execute("COMMIT")
        except (KeyError, TypeError) as error:
            self._db.execute("ROLLBACK")
            raise StoreError(f"The export is incomplete ({error}); nothing was imported.") from None
        except sqlite3.DatabaseError as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreError(_explain(self.path, error)) from None
        return len(exported["events"])

    def forget(self, episode: int | None) -> int:
        """Delete one episode (or everything, for None), then compact the file so the rows are really gone."""
        memory = self.load_memory() or {}
        self._db.execute("BEGIN IMMEDIATE")
        if episode is None:
            removed = self._db.execute("DELETE FROM events").rowcount
        else:
            removed = self._db.execute("DELETE FROM events WHERE episode = ?", (episode,)).rowcount
        if episode is None or memory.get("episode") == episode:
            self._db.execute("DELETE FROM memory")
            self._db.execute("DELETE FROM timers")
        self._db.execute("COMMIT")
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.execute("VACUUM")
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _lock_folder(data_dir: Path) -> int:
    """Hold an exclusive lock on the folder for as long as this process runs (the kernel frees it on exit)."""
    handle = os.open(data_dir / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        raise StoreError(f"Another VoiceRelief is already running with the data folder {data_dir}; "
                         "stop it first, or give this one another --data-dir.") from None
    return handle


def _explain(path: Path, error: sqlite3.DatabaseError) -> str:
    text = str(error)
    if "locked" in text or "busy" in text:
        return f"The data file {path} is in use by another program; close it and try again."
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (f"The data file {path} is damaged and was left untouched; move it aside to start afresh, "
                "or restore a backup.")
    if "readonly" in text or "read-only" in text:
        return f"The data file {path} cannot be written; check its permissions or use --data-dir."
    if "full" in text:
        return f"The disk holding {path} is full; free some space and try again."
    return f"The data file {path} cannot be used ({text})."
