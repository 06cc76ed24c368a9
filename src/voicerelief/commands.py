"""The phrase table: what can be said, and what it means.

Loaded from ``content/commands.toml``. The vosk grammar is built from the same
table, so what the recognizer may return and what the matcher accepts never
drift apart.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from voicerelief.errors import ContentError

NUMBER = "number"
ONSET = "onset"
# A pain score in words (the verbal rating scale), offered when a number was not heard.
PAIN_WORD = "pain_word"
UNKNOWN_WORD = "[unk]"
# Words that may come before an urgent phrase ("I", "oh", "please", or what the model makes of them).
MOST_LEAD_IN_WORDS = 2

_WORD = re.compile(r"^[a-z']+$")


@dataclass(frozen=True)
class Intent:
    """What a phrase means: an intent name and, for numbers and onsets, a value."""

    name: str
    value: int | None = None


@dataclass(frozen=True)
class PhraseTable:
    phrases: dict[str, Intent]
    decoys: tuple[str, ...]
    confidence_floor: float
    wake_phrase: str
    # Intents heard in every state, and those heard too where no question is waiting.
    always: frozenset[str] = frozenset()
    between_questions: frozenset[str] = frozenset()
    # Intents whose phrases also count at the end of a short utterance: a call for help said any way at all.
    urgent: frozenset[str] = frozenset()
    # Decoys, and phrases of intents heard everywhere, left out of a grammar that listens for pain scores.
    not_with_numbers: frozenset[str] = frozenset()
    phrases_not_with_numbers: frozenset[str] = frozenset()
    # How wide a lattice of rival words the decoder keeps; None leaves the model's own setting.
    lattice_beam: float | None = None
    # A pain score heard at least this sure, and not one of `always_confirm`, needs no "Is that right?".
    certain_confidence: float = 1.0
    always_confirm: frozenset[int] = frozenset()

    def match(self, text: str) -> Intent | None:
        """The intent of an exactly matching phrase (or an urgent one after a word or two), or None."""
        return self.find(text)[0]

    def find(self, text: str) -> tuple[Intent | None, int]:
        """The intent, and the index of the word where its phrase begins."""
        words = normalize(text).split()
        exact = self.phrases.get(" ".join(words))
        if exact is not None:
            return exact, 0
        for lead in range(1, min(MOST_LEAD_IN_WORDS, len(words) - 1) + 1):
            intent = self.phrases.get(" ".join(words[lead:]))
            if intent is not None and intent.name in self.urgent:
                return intent, lead
        return None, 0

    def is_complete(self, text: str) -> bool:
        """Whether ``text`` is a phrase that no longer phrase goes on from: nothing more can follow."""
        text = normalize(text)
        return text in self.phrases and not any(phrase.startswith(text + " ") for phrase in self.phrases)

    def words(self) -> list[str]:
        """Every word the recognizer may return: phrase words and decoys, sorted."""
        found = {word for phrase in self.phrases for word in phrase.split()}
        found.update(self.decoys)
        return sorted(found)

    def grammar(self) -> list[str]:
        """The vosk grammar: each phrase, each decoy, and the unknown-word token."""
        return sorted(self.phrases) + sorted(set(self.decoys) - set(self.phrases)) + [UNKNOWN_WORD]

    def with_wake_phrase(self, phrase: str) -> PhraseTable:
        """The same table, woken by another phrase."""
        wake = normalize(phrase)
        phrases = {text: intent for text, intent in self.phrases.items() if intent.name != "wake"}
        if wake in phrases:
            raise ContentError("config", "wake_phrase", f"'{wake}' already means {phrases[wake].name}")
        phrases[wake] = Intent("wake")
        return replace(self, phrases=phrases, wake_phrase=wake)

    def restricted_to(self, intent_names: frozenset[str]) -> PhraseTable:
        """The same table, holding only the phrases of these intents: the grammar of one state."""
        phrases = {text: intent for text, intent in self.phrases.items() if intent.name in intent_names}
        decoys = self.decoys
        if NUMBER in intent_names:
            decoys = tuple(word for word in decoys if word not in self.not_with_numbers)
            phrases = {text: intent for text, intent in phrases.items() if text not in self.phrases_not_with_numbers}
        return replace(self, phrases=phrases, decoys=decoys)

    def intent_names(self) -> frozenset[str]:
        return frozenset(intent.name for intent in self.phrases.values())

    def phrases_for(self, intent_name: str) -> list[str]:
        return [phrase for phrase, intent in self.phrases.items() if intent.name == intent_name]


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


def default_table_path() -> Path:
    return Path(str(resources.files("voicerelief") / "content" / "commands.toml"))


def load_phrase_table(path: Path | None = None) -> PhraseTable:
    """Read and validate a phrase table; a problem raises ContentError naming file and key."""
    path = path or default_table_path()
    name = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContentError(name, "", "the file does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ContentError(name, "", f"it is not valid TOML ({error})") from None

    recognition = _table(data, "recognition", name)
    floor = recognition.get("confidence_floor")
    if not isinstance(floor, (int, float)) or isinstance(floor, bool) or not 0 <= floor < 1:
        raise ContentError(name, "recognition.confidence_floor", "must be a number from 0 to below 1")
    lattice_beam = recognition.get("lattice_beam")
    if lattice_beam is not None and (not isinstance(lattice_beam, (int, float)) or isinstance(lattice_beam, bool)
                                     or not 0 < lattice_beam <= 20):
        raise ContentError(name, "recognition.lattice_beam", "must be a number above 0 and at most 20")
    certain = recognition.get("certain_confidence", 1.0)
    if not isinstance(certain, (int, float)) or isinstance(certain, bool) or not floor <= certain <= 1:
        raise ContentError(name, "recognition.certain_confidence", "must be a number from the confidence floor to 1")
    always_confirm = recognition.get("always_confirm", [])
    if not isinstance(always_confirm, list) or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10
                                                       for v in always_confirm):
        raise ContentError(name, "recognition.always_confirm", "must be a list of pain scores from 0 to 10")
    wake = recognition.get("wake_phrase")
    if not isinstance(wake, str) or not wake.strip():
        raise ContentError(name, "recognition.wake_phrase", "must be a non-empty phrase")

    phrases: dict[str, Intent] = {}

    def add(phrase: object, intent: Intent, key: str) -> None:
        if not isinstance(phrase, str) or not phrase.strip():
            raise ContentError(name, key, "every phrase must be a non-empty string")
        text = normalize(phrase)
        for word in text.split():
            if not _WORD.match(word):
                raise ContentError(name, key, f"'{word}' is not a plain lower-case word")
        if text in phrases and phrases[text] != intent:
            raise ContentError(name, key, f"'{text}' already means {phrases[text].name}")
        phrases[text] = intent

    for intent_name, listed in _table(data, "intents", name).items():
        key = f"intents.{intent_name}"
        if intent_name in (NUMBER, ONSET, PAIN_WORD):
            raise ContentError(name, key, f"'{intent_name}' is reserved for the [numbers], [onset] and "
                                          "[pain_words] tables")
        if not isinstance(listed, list) or not listed:
            raise ContentError(name, key, "must be a non-empty list of phrases")
        for phrase in listed:
            add(phrase, Intent(intent_name), key)

    for table_name, intent_name in (("numbers", NUMBER), ("onset", ONSET), ("pain_words", PAIN_WORD)):
        for phrase, value in _table(data, table_name, name).items():
            key = f"{table_name}.{phrase}"
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ContentError(name, key, "must be a whole number, 0 or more")
            add(phrase, Intent(intent_name, value), key)

    decoys = _table(data, "decoys", name).get("words", [])
    if not isinstance(decoys, list) or not all(isinstance(w, str) and _WORD.match(w) for w in decoys):
        raise ContentError(name, "decoys.words", "must be a list of plain lower-case words")
    clashes = sorted(set(decoys) & set(phrases))
    if clashes:
        raise ContentError(name, "decoys.words", f"'{clashes[0]}' is also a phrase")
    not_with_numbers = _table(data, "decoys", name).get("not_with_numbers", [])
    if not isinstance(not_with_numbers, list) or not set(not_with_numbers) <= set(decoys):
        raise ContentError(name, "decoys.not_with_numbers", "must be a list of words from decoys.words")
    if normalize(wake) not in phrases:
        raise ContentError(name, "recognition.wake_phrase", "must also be listed as a phrase")

    # Optional: a table without it listens for the same phrases in every state.
    listening = data.get("listening", {"always": [], "between_questions": [], "urgent": []})
    phrases_not_with_numbers = listening.get("not_with_numbers", [])
    if not isinstance(phrases_not_with_numbers, list) or not set(phrases_not_with_numbers) <= set(phrases):
        raise ContentError(name, "listening.not_with_numbers", "must be a list of phrases of the table")
    known_intents = {intent.name for intent in phrases.values()}
    groups = []
    for key in ("always", "between_questions", "urgent"):
        listed = listening.get(key, [])
        if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
            raise ContentError(name, f"listening.{key}", "must be a list of intent names")
        unknown = sorted(set(listed) - known_intents)
        if unknown:
            raise ContentError(name, f"listening.{key}", f"'{unknown[0]}' is not an intent of this table")
        groups.append(frozenset(listed))

    return PhraseTable(phrases, tuple(decoys), float(floor), normalize(wake), groups[0], groups[1], groups[2],
                       frozenset(not_with_numbers), frozenset(phrases_not_with_numbers),
                       None if lattice_beam is None else float(lattice_beam), float(certain),
                       frozenset(always_confirm))


def _table(data: dict, key: str, name: str) -> dict:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ContentError(name, key, "the table is missing")
    return value
