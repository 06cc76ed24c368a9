"""The people to alert: names and URLs (Apprise's, or a Home Assistant's MQTT broker), set up once by a relative, kept in a file only its owner reads.

The URLs hold secrets (tokens, passwords), so the file is created with mode 0600
and a URL is never printed whole: `redacted` shows its scheme and host only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from voicerelief.errors import ContentError, VoiceReliefError
from voicerelief.home_assistant import SCHEME as HOME_ASSISTANT
from voicerelief.home_assistant import broker_of
from voicerelief.prompts import read_toml

CARERS_NAME = "carers.toml"
# Apprise reads a URL with one of these schemes as ntfy; without a host of its own it posts to the public server.
NTFY_SCHEMES = ("ntfy", "ntfys")


@dataclass(frozen=True)
class Carer:
    name: str
    url: str
    # When `voicerelief alert test` last got a message through (ISO time), or empty.
    tested: str = ""

    def redacted(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"

    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


def carers_path(config_file: Path) -> Path:
    """Beside the settings file, so `VOICERELIEF_CONFIG` moves both."""
    return config_file.parent / CARERS_NAME


def load_carers(path: Path) -> tuple[Carer, ...]:
    if not path.exists():
        return ()
    entries = read_toml(path).get("carer", [])
    carers = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not isinstance(
                entry.get("url"), str):
            raise ContentError(str(path), f"carer[{number}]", "needs a name and a url")
        carers.append(Carer(entry["name"], entry["url"], str(entry.get("tested", ""))))
    return tuple(carers)


def check_url(url: str) -> None:
    """A Home Assistant broker, or a URL Apprise can send to, on a host the household chose; else one sentence why not."""
    parts = urlsplit(url)
    if parts.scheme == HOME_ASSISTANT:
        broker_of(url)
        return
    import apprise

    if parts.scheme in NTFY_SCHEMES and not parts.path.strip("/"):
        raise VoiceReliefError(f"{url.split('://')[0]}:// without a server of your own sends to a public "
                               "cloud server; give your own, as ntfy://HOST/TOPIC.")
    if not apprise.Apprise().add(url):
        raise VoiceReliefError(f"{parts.scheme or url!r} is not an alert service Apprise knows; see its list of "
                               "URL forms, for example json://HOST:PORT/ or ntfy://HOST/TOPIC, "
                               f"or use {HOME_ASSISTANT}://USER:PASSWORD@BROKER:1883/NODE for Home Assistant.")


def add_carer(path: Path, name: str, url: str) -> tuple[Carer, ...]:
    name = " ".join(name.split())
    if not name:
        raise VoiceReliefError("A carer needs a name, the one the assistant says aloud.")
    check_url(url)
    carers = [carer for carer in load_carers(path) if carer.name.lower() != name.lower()] + [Carer(name, url)]
    _save(path, carers)
    return tuple(carers)


def remove_carer(path: Path, name: str) -> tuple[Carer, ...]:
    carers = load_carers(path)
    kept = [carer for carer in carers if carer.name.lower() != name.lower()]
    if len(kept) == len(carers):
        raise VoiceReliefError(f"No carer is called {name!r}; `voicerelief alert list` shows them.")
    _save(path, kept)
    return tuple(kept)


def mark_tested(path: Path, names: set[str], when: str) -> None:
    """Remember that a test message got through to these carers."""
    _save(path, [Carer(c.name, c.url, when if c.name in names else c.tested) for c in load_carers(path)])


def describe(carers: tuple[Carer, ...]) -> str:
    """One line for `doctor`; a VoiceReliefError when a carer was never reached by a test."""
    if not carers:
        return "no carer is set up (optional: `voicerelief alert add NAME URL`)"
    untested = [carer.name for carer in carers if not carer.tested]
    if untested:
        raise VoiceReliefError(f"{spoken_names(tuple(untested))} never got a test alert through; "
                               "run `voicerelief alert test`.")
    for carer in carers:
        check_url(carer.url)
    return "; ".join(f"{carer.name} ({carer.redacted()}, last test through {carer.tested[:16].replace('T', ' ')})"
                     for carer in carers)


def spoken_names(carers: tuple[Carer, ...] | tuple[str, ...]) -> str:
    names = [carer.name if isinstance(carer, Carer) else carer for carer in carers]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _save(path: Path, carers: list[Carer]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".toml.new")
    descriptor = os.open(staged, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        for carer in carers:
            file.write(f"[[carer]]\nname = {json.dumps(carer.name)}\nurl = {json.dumps(carer.url)}\n"
                       f"tested = {json.dumps(carer.tested)}\n\n")
    staged.replace(path)
