"""`voicerelief run --text` and `voicerelief demo` as a user runs them."""

import subprocess
import sys

import pytest

from harness import FIRST_SAFETY_QUESTIONS

FIRST_SESSION = ["start"] + ["no"] * FIRST_SAFETY_QUESTIONS + ["minutes ago", "seven", "yes", "ready", "ice", "ready",
                                                              "how much time is left"]


def voicerelief(*args: str, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicerelief", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def relief_lines(output: str) -> list[str]:
    return [line.split("Relief: ", 1)[1] for line in output.splitlines() if "Relief: " in line]


def test_text_mode_walks_the_protocol_and_resumes_after_a_restart(tmp_path):
    data = str(tmp_path / "data")
    first = voicerelief("run", "--text", "--quiet", "--data-dir", data, stdin="\n".join(FIRST_SESSION) + "\n")
    assert first.returncode == 0, first.stderr
    lines = relief_lines(first.stdout)
    assert lines[0] == "Hello. I am your back relief assistant."
    assert "I heard 7. Is that right?" in lines
    assert lines[-2] == "Ice is on. Take it off at once if it burns or hurts. I will tell you when twenty minutes are up."
    assert lines[-1].startswith("The ice has 19 minutes") or lines[-1].startswith("The ice has 20 minutes")

    second = voicerelief("run", "--text", "--quiet", "--data-dir", data, stdin="goodbye\nno\n")
    lines = relief_lines(second.stdout)
    assert lines[0] == "Welcome back."
    assert lines[1] == "Your ice is still on."
    assert lines[2] in ("The ice has 20 minutes to go.", "The ice has 19 minutes to go.")
    assert "Do you want to end this session? Yes or no." in lines


def test_text_mode_speaks_too_and_falls_back_to_text_without_a_speaker(tmp_path):
    # A speaker that is not there, whatever this machine has: the fallback must not depend on the machine.
    result = voicerelief("run", "--text", "--output-device", "no such speaker", "--data-dir", str(tmp_path / "d"),
                         stdin="help\n")
    assert result.returncode == 0
    assert "You can say start" in result.stdout
    assert "Speech output failed" in result.stderr and "speaker" in result.stderr


@pytest.mark.parametrize("argument", ["--speed=0", "--speed=-3", "--speed=fast"])
def test_demo_refuses_a_bad_speed(argument):
    assert voicerelief("demo", argument).returncode == 2


def test_demo_runs_a_whole_session_through_the_real_recognizer(tmp_path):
    result = voicerelief("demo", "--speed", "1000", "--data-dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "You:    yesterday    (heard 'yesterday': onset)" in out
    assert "Relief: Time is up. Take the ice off now." in out
    assert "Relief: Your pain was 7. Now it is 5." in out
    assert out.rstrip().endswith("Relief: Goodbye. Rest well.")
    assert (tmp_path / "demo" / "voicerelief.sqlite3").exists()


def test_the_design_diagram_is_the_machine():
    from pathlib import Path

    from voicerelief.diagram import mermaid

    design = (Path(__file__).resolve().parents[1] / "docs" / "design.md").read_text()
    assert "```mermaid\n" + mermaid() + "\n```" in design


def test_the_demo_says_no_to_every_safety_question_of_a_first_session():
    from voicerelief.prompts import content_path, read_toml

    lines = read_toml(content_path("demo.toml"))["line"]
    assert next(line["repeat"] for line in lines if line["state"] == "redFlags") == FIRST_SAFETY_QUESTIONS
