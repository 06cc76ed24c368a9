"""The checks `.ci/arm64` runs inside the emulated 64-bit ARM Debian, after `./quickstart setup`.

Each check prints one line, PASS or FAIL with what it saw; the caller adds them up. Run with the
project's own virtual environment: python .ci/arm64_checks.py CLIPS_DIR, where CLIPS_DIR holds
recordings named LABEL__ORIGINAL.wav (LABEL a word such as yes, or a digit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from voicerelief.red_flags import load_red_flags

PROJECT = Path(__file__).resolve().parents[1]
VOICERELIEF = str(PROJECT / ".venv" / "bin" / "voicerelief")
MINIMUM_RIGHT = 8
COMMAND_TIMEOUT = 900  # seconds; everything runs under instruction-by-instruction emulation


def voicerelief(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([VOICERELIEF, *args], input=stdin, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT)


def doctor_line(part: str) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory() as data:
        report = voicerelief("doctor", "--data-dir", data).stdout.splitlines()
    line = next((line for line in report if line[4:].startswith(part + ":")), f"no {part} line in {report}")
    return line.startswith("OK "), line


def expected_answer(label: str) -> tuple[str, int | None]:
    return ("number", int(label)) if label.isdigit() else (label, None)


@cache  # the two recognition checks read one run: decoding under emulation is slow
def recognized(clips: Path) -> list[tuple[str, dict]]:
    paths = sorted(clips.glob("*.wav"))
    output = voicerelief("recognize", "--json", *map(str, paths)).stdout
    by_file = {entry["file"]: entry for entry in map(json.loads, output.splitlines())}
    return [(path.name.split("__", 1)[0], by_file.get(str(path), {})) for path in paths]


def check_decoded(clips: Path) -> tuple[bool, str]:
    results = recognized(clips)
    decoded = sum("text" in entry for _, entry in results)
    return decoded == len(results) > 0, f"{decoded} of {len(results)} clips decoded"


def check_right(clips: Path) -> tuple[bool, str]:
    results = recognized(clips)
    right = [label for label, entry in results if (entry.get("intent"), entry.get("value")) == expected_answer(label)]
    heard = ", ".join(f"{label}->{entry.get('text')!r}" + ("" if entry.get("intent") else " (not taken)")
                      for label, entry in results)
    return len(right) >= MINIMUM_RIGHT, f"{len(right)} of {len(results)} right (at least {MINIMUM_RIGHT}): {heard}"


def check_text_session() -> tuple[bool, str]:
    safety_questions = sum(q.asked == "first" and not q.only_if for q in load_red_flags())
    said = ["start"] + ["no"] * safety_questions + ["minutes ago", "seven", "yes", "ready", "ice", "ready"]
    with tempfile.TemporaryDirectory() as data:
        run = voicerelief("run", "--text", "--quiet", "--data-dir", data, stdin="\n".join(said) + "\n")
    answers = [line.split("Relief: ", 1)[1] for line in run.stdout.splitlines() if "Relief: " in line]
    reached_ice = any(answer.startswith("Ice is on.") for answer in answers)
    last = answers[-1] if answers else run.stderr.strip()[-300:]
    return run.returncode == 0 and reached_ice, f"exit {run.returncode}, last answer: {last!r}"


def check_natural_voice() -> tuple[bool, str]:
    install = subprocess.run([str(PROJECT / ".venv" / "bin" / "pip"), "install", "-q", "-e", f"{PROJECT}[natural-voice]"],
                             capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    if install.returncode != 0:
        return False, f"the natural-voice extra did not install: {install.stderr.strip()[-300:]}"
    with tempfile.TemporaryDirectory() as folder:
        settings = Path(folder) / "config.toml"
        settings.write_text('voice = "natural"\n')
        os.environ["VOICERELIEF_CONFIG"] = str(settings)
        try:
            return doctor_line("text-to-speech")
        finally:
            del os.environ["VOICERELIEF_CONFIG"]


def check_echo_canceller() -> tuple[bool, str]:
    from voicerelief.own_voice import cancelled_by

    taken_out = cancelled_by(told=True)
    linear = cancelled_by(told=True, linear=True, delay=0.35)
    return taken_out >= 20.0 and linear >= 15.0, (f"{taken_out:.1f} dB of a known echo taken out (at least 20); "
                                                  f"{linear:.1f} dB by the linear filter, 0.35 s late (at least 15)")


def main() -> None:
    clips = Path(sys.argv[1])
    checks: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
        ("doctor: model", lambda: doctor_line("model")),
        ("doctor: text-to-speech", lambda: doctor_line("text-to-speech")),
        ("recognize: every clip decoded", lambda: check_decoded(clips)),
        ("recognize: clips heard right", lambda: check_right(clips)),
        ("run --text: start to the ice on", check_text_session),
        ("natural voice: its aarch64 wheels install and render a word", check_natural_voice),
        ("echo canceller: the app's (AEC3 and the linear filter) loads and takes an echo out", check_echo_canceller),
    ]
    for name, check in checks:
        try:
            passed, detail = check()
        except Exception as error:  # a check that crashes is a failed check, and the next ones still run
            passed, detail = False, f"{type(error).__name__}: {error}"
        print(f"{'PASS' if passed else 'FAIL'} {name}: {detail}", flush=True)


if __name__ == "__main__":
    main()
