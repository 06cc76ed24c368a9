"""`voicerelief doctor --placement` through the virtual microphone: a far, faint voice and a close one."""

import subprocess
import sys
import threading

import numpy as np
import soundfile
import soxr

from audio_rig import AudioRig
from voicerelief.audio_file import read_speech
from voicerelief.rooms import ROOMS, RATE, active_level_dbfs, impulse_response

ROOM_NOISE_DBFS = -50.0


def _test_phrase(rig: AudioRig, folder, far: bool) -> str:
    """The test phrase at a level over the room's noise: across a bedroom and faint, or close and clear."""
    speech = read_speech(rig.render("testing, one two three", "en-us", 140))
    # espeak-ng renders at its own rate; the room and the file are at RATE.
    samples = soxr.resample(speech.samples.astype(np.float64), speech.rate, RATE)
    if far:
        from scipy.signal import fftconvolve

        samples = fftconvolve(samples, impulse_response(ROOMS[2], 0))
    over_noise_db = 10.0 if far else 35.0
    samples *= 10 ** ((ROOM_NOISE_DBFS + over_noise_db - active_level_dbfs(samples)) / 20)
    path = folder / f"phrase-{'far' if far else 'close'}.wav"
    soundfile.write(path, np.clip(samples, -32768, 32767).astype(np.int16), RATE, subtype="PCM_16")
    return str(path)


def _check_placement(rig: AudioRig, phrase_wav: str) -> tuple[int, str]:
    room = rig.play_room_noise(60, ROOM_NOISE_DBFS)
    try:
        check = subprocess.Popen([sys.executable, "-m", "voicerelief", "doctor", "--placement",
                                  "--input-device", "pulse", "--output-device", "pulse"],
                                 env=rig.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        listening = threading.Event()

        def read() -> None:
            for line in check.stdout:
                lines.append(line)
                if line.startswith("Listening"):
                    listening.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert listening.wait(120), check.stderr.read() if check.poll() is not None else "no listening line"
        subprocess.run(["paplay", "--device=mic_feed", phrase_wav], env=rig.env, check=True)
        returncode = check.wait(timeout=120)
        reader.join(timeout=10)
        return returncode, "".join(lines)
    finally:
        room.terminate()
        room.wait()


def test_a_faint_far_voice_is_told_to_move_closer_and_a_clear_close_one_that_the_place_is_good(rig, tmp_path):
    far_code, far_output = _check_placement(rig, _test_phrase(rig, tmp_path, far=True))
    assert far_code == 1, far_output
    assert "verdict: move the microphone closer" in far_output
    assert "Please move me closer" in far_output

    close_code, close_output = _check_placement(rig, _test_phrase(rig, tmp_path, far=False))
    assert close_code == 0, close_output
    assert "verdict: this place is good" in close_output
    assert "heard: 'one two three'" in close_output or "heard: 'testing one two three'" in close_output
    assert "Relief: This place is good." in close_output
