"""The spoken prompts: loaded from ``content/prompts.toml`` and checked before anything starts."""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

from voicerelief.errors import ContentError


def content_path(name: str) -> Path:
    return Path(str(resources.files("voicerelief") / "content" / name))


def read_toml(path: Path) -> dict:
    """A TOML file as a dict, or a ContentError naming the file and the problem."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContentError(str(path), "", "the file does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ContentError(str(path), "", f"it is not valid TOML ({error})") from None


def table_entries(path: Path, table: str, keys: frozenset[str] | set[str],
                  setting: str) -> Iterator[tuple[str, dict]]:
    """Each ``[[table]]`` of a TOML file with where it is (``table[2]``); a ContentError for a missing array,
    an entry that is not a table, or a key not in ``keys`` (named "not a ``setting``")."""
    file = str(path)
    entries = read_toml(path).get(table)
    if not isinstance(entries, list) or not entries:
        raise ContentError(file, table, f"there must be at least one [[{table}]] table")
    for number, entry in enumerate(entries, start=1):
        where = f"{table}[{number}]"
        if not isinstance(entry, dict):
            raise ContentError(file, where, "must be a table")
        unknown = sorted(set(entry) - set(keys))
        if unknown:
            raise ContentError(file, f"{where}.{unknown[0]}", f"is not a {setting}")
        yield where, entry


@dataclass(frozen=True)
class Prompts:
    """Prompt texts by dotted key, such as ``listen.heard``."""

    texts: dict[str, str]
    source: str

    def say(self, key: str, **fields: object) -> str:
        return self.texts[key].format(**fields)


def placeholders(text: str) -> set[str]:
    """The names of the ``{placeholders}`` in a prompt's text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def load_prompts(path: Path | None = None, required: dict[str, set[str]] | None = None) -> Prompts:
    """Read the prompts; ``required`` maps each key the code speaks to the placeholders it fills."""
    path = path or content_path("prompts.toml")
    data = read_toml(path)
    texts: dict[str, str] = {}
    for section, entries in data.items():
        if not isinstance(entries, dict):
            raise ContentError(str(path), section, "must be a table of prompts")
        for name, text in entries.items():
            key = f"{section}.{name}"
            if not isinstance(text, str) or not text.strip():
                raise ContentError(str(path), key, "must be a non-empty string")
            texts[key] = text
    for key, fields in (required or {}).items():
        if key not in texts:
            raise ContentError(str(path), key, "the prompt is missing")
        used = placeholders(texts[key])
        if used - fields:
            raise ContentError(str(path), key, f"uses unknown placeholder {{{sorted(used - fields)[0]}}}")
    return Prompts(texts, str(path))
