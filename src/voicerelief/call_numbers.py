"""Who to call: the emergency number and the non-emergency medical line, by country, spoken digit by digit."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from voicerelief.errors import ContentError
from voicerelief.prompts import content_path, read_toml

OTHER = "other"
NUMBER_PATTERN = re.compile(r"^[0-9][0-9 ]{1,18}[0-9]$")
_LOCALE_COUNTRY = re.compile(r"^[a-z]{2,3}_([A-Z]{2})")


@dataclass(frozen=True)
class CallNumbers:
    emergency: str
    # Empty where the country has no one national non-emergency line.
    urgent: str
    country: str
    country_name: str
    # How the numbers were chosen: the setting, the system's locale, or the default.
    chosen_by: str

    def chosen_for_this_place(self) -> bool:
        """False when nothing said where the person is, and the numbers are the default."""
        return self.chosen_by != "the default"

    def spoken_emergency(self) -> str:
        return spoken_digits(self.emergency)

    def spoken_urgent(self) -> str:
        return spoken_digits(self.urgent)

    def describe(self) -> str:
        urgent = f", non-emergency medical line {self.urgent}" if self.urgent else ", no national non-emergency line"
        return f"emergency {self.emergency}{urgent} ({self.country_name}, from {self.chosen_by})"


def spoken_digits(number: str) -> str:
    """ "999" is said "nine nine nine", never "nine hundred and ninety-nine"; groups keep a pause."""
    return ", ".join(" ".join(group) for group in number.split())


def load_countries(path: Path | None = None) -> dict[str, dict[str, str]]:
    path = path or content_path("call_numbers.toml")
    file = str(path)
    countries = read_toml(path)
    if OTHER not in countries:
        raise ContentError(file, OTHER, "the fallback for countries not listed is missing")
    for code, entry in countries.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ContentError(file, code, "must be a table with a name")
        if not is_phone_number(entry.get("emergency", "")):
            raise ContentError(file, f"{code}.emergency", "must be a phone number of digits")
        urgent = entry.get("urgent", "")
        if urgent and not is_phone_number(urgent):
            raise ContentError(file, f"{code}.urgent", "must be empty or a phone number of digits")
    return countries


def is_phone_number(text: object) -> bool:
    return isinstance(text, str) and bool(NUMBER_PATTERN.match(text))


def locale_country(environ: dict[str, str] | None = None) -> str:
    """The country of the system's language setting (``en_GB.UTF-8`` gives GB), or empty."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        found = _LOCALE_COUNTRY.match(environ.get(name, ""))
        if found:
            return found.group(1)
    return ""


def call_numbers(country: str = "", emergency: str = "", urgent: str = "",
                 environ: dict[str, str] | None = None) -> CallNumbers:
    """The numbers to speak: a number set by hand wins over the country, the country over the locale."""
    countries = load_countries()
    chosen_by = "the country setting"
    if not country:
        country, chosen_by = locale_country(environ), "the system's locale"
    if country.upper() not in countries:
        country, chosen_by = OTHER, "the default"
    code = OTHER if country == OTHER else country.upper()
    entry = countries[code]
    if emergency or urgent:
        chosen_by = "the number settings"
    return CallNumbers(emergency or entry["emergency"], urgent or entry.get("urgent", ""), code, entry["name"],
                       chosen_by)
