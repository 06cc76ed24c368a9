"""`voicerelief recognize` and `voicerelief run` as a user runs them: real processes, real files, real model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from voicerelief.synthesize import synthesize

JSON_KEYS = ["file", "text", "intent", "value", "confidence", "decode_ms"]


def voicerelief(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicerelief", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("wavs")
    files = {}

    yes = synthesize("yes")
    narrow = soxr.resample(yes.samples.astype(np.float32) / 32768, yes.rate, 8000)
    files["8k"] = folder / "yes-8k.wav"
    soundfile.write(files["8k"], narrow, 8000, subtype="PCM_16")

    stop = synthesize("stop", voice="en-gb-x-rp+f3")
    wide = soxr.resample(stop.samples.astype(np.float32) / 32768, stop.rate, 48000)
    files["48k-stereo-float"] = folder / "stop-48k-stereo.wav"
    soundfile.write(files["48k-stereo-float"], np.stack([wide, wide * 0.5], axis=1), 48000, subtype="FLOAT")

    seven = synthesize("seven")
    files["seven"] = folder / "seven.wav"
    soundfile.write(files["seven"], seven.samples, seven.rate, subtype="PCM_16")

    files["empty"] = folder / "empty.wav"
    soundfile.write(files["empty"], np.zeros(0, np.int16), 16000, subtype="PCM_16")

    files["text"] = folder / "notes.wav"
    files["text"].write_text("this is not audio\n")

    files["truncated"] = folder / "truncated.wav"
    files["truncated"].write_bytes(files["seven"].read_bytes()[:30])
    return files


def test_json_lines_are_exactly_as_specified(wavs):
    result = voicerelief("recognize", "--json", str(wavs["seven"]), str(wavs["8k"]), str(wavs["48k-stereo-float"]))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(line) for line in lines] == [JSON_KEYS] * 3
    assert [(line["intent"], line["value"]) for line in lines] == [("number", 7), ("yes", None), ("stop", None)]
    assert all(isinstance(line["confidence"], float) and isinstance(line["decode_ms"], float) for line in lines)
    assert lines[0]["file"] == str(wavs["seven"])


def test_unreadable_files_get_an_error_line_and_the_rest_go_on(wavs):
    names = ["text", "seven", "empty", "truncated"]
    result = voicerelief("recognize", "--json", *(str(wavs[n]) for n in names))
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(line) for line in lines] == [["file", "error"], JSON_KEYS, ["file", "error"], ["file", "error"]]
    assert lines[1]["value"] == 7
    assert "not a readable WAV" in lines[0]["error"]
    assert "no audio" in lines[2]["error"]


def test_plain_output_names_the_intent(wavs):
    result = voicerelief("recognize", str(wavs["seven"]))
    assert result.returncode == 0
    assert "number 7" in result.stdout


def test_a_state_decodes_with_that_state_s_grammar(wavs):
    seven, yes = str(wavs["seven"]), str(wavs["8k"])
    in_pain = voicerelief("recognize", "--json", "--state", "painBefore", seven, yes)
    in_red_flags = voicerelief("recognize", "--json", "--state", "redFlags", seven, yes)
    assert in_pain.returncode == in_red_flags.returncode == 0, in_pain.stderr + in_red_flags.stderr
    assert [json.loads(line)["intent"] for line in in_pain.stdout.splitlines()] == ["number", None]
    assert [json.loads(line)["intent"] for line in in_red_flags.stdout.splitlines()] == [None, "yes"]


def test_bad_usage_exits_2():
    assert voicerelief("recognize", "--state", "nowhere", "x.wav").returncode == 2
    assert voicerelief("recognize").returncode == 2
    assert voicerelief("recognize", "--bogus", "x.wav").returncode == 2


def test_a_missing_model_is_one_clear_sentence(wavs, tmp_path):
    result = voicerelief("recognize", "--model", str(tmp_path / "no-model"), str(wavs["seven"]))
    assert result.returncode == 1
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "does not exist" in message and "model fetch" in message


def test_a_model_missing_a_file_names_it(wavs, tmp_path, model_dir):
    partial = tmp_path / "partial-model"
    for file in model_dir.rglob("*"):
        if file.is_file() and file.relative_to(model_dir).as_posix() != "ivector/final.ie":
            target = partial / file.relative_to(model_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(file)
    result = voicerelief("recognize", "--model", str(partial), str(wavs["seven"]))
    assert result.returncode == 1
    assert "ivector/final.ie" in result.stderr


def test_run_without_a_microphone_says_so_and_points_to_text_mode():
    no_sound_server = {"PULSE_SERVER": "unix:/nonexistent/pulse", "AUDIODEV": "null"}
    result = voicerelief("run", env=no_sound_server)
    assert result.returncode != 0
    message = result.stderr.strip()
    assert message.count("\n") == 0
    assert "microphone" in message and "voicerelief run --text" in message
