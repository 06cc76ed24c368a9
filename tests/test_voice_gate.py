"""The voice gate: silence is not decoded, the start of a word is not clipped, accuracy is kept."""

import numpy as np
import soxr

from voicerelief.evaluation import QUIET_ROOM_DBFS, ROOM_LEAD_SECONDS, compare_gates, in_room, real_samples
from voicerelief.recognizer import CommandRecognizer
from voicerelief.synthesize import noise_at_level, synthesize
from voicerelief.voice_gate import FRAME_SECONDS, VoiceGate, frame_levels_dbfs

RATE = 16000
BLOCK = RATE // 10


def _noise(seconds: float, dbfs: float, seed: int = 1) -> np.ndarray:
    return noise_at_level(int(RATE * seconds), dbfs, seed)


def _blocks(samples: np.ndarray) -> list[bytes]:
    pcm = np.clip(samples, -32768, 32767).astype(np.int16)
    return [pcm[start:start + BLOCK].tobytes() for start in range(0, len(pcm), BLOCK)]


def test_a_quiet_room_and_digital_silence_are_never_passed_on():
    for room in (_noise(30, -55), _noise(30, -35), np.zeros(RATE * 30)):
        gate = VoiceGate(RATE)
        passages = [gate.admit(block) for block in _blocks(room)]
        assert sum(len(p.blocks) for p in passages) == 0
        assert gate.blocks_seen == 300


def test_a_word_opens_the_gate_with_its_pre_roll_and_closing_ends_the_utterance():
    word = synthesize("five", "en-us", 160)
    speech = soxr.resample(word.samples.astype(np.float64), word.rate, RATE)
    onset_block = 20
    stream = _noise(5, -50)
    start = onset_block * BLOCK
    stream[start:start + len(speech)] += speech
    gate = VoiceGate(RATE)
    blocks = _blocks(stream)
    passages = [gate.admit(block) for block in blocks]
    opened = next(index for index, passage in enumerate(passages) if passage.blocks)
    assert opened == onset_block
    # The pre-roll holds the half second before the word, in order, ending with the block that opened it.
    assert passages[opened].blocks == tuple(blocks[onset_block - 5:onset_block + 1])
    closing = [index for index, passage in enumerate(passages) if passage.closed]
    assert len(closing) == 1
    word_end_block = (start + np.flatnonzero(np.abs(speech) > 300)[-1]) // BLOCK
    assert word_end_block + 6 <= closing[0] <= word_end_block + 9
    assert all(not passage.blocks for passage in passages[closing[0] + 1:])


def test_the_noise_floor_follows_a_fan_switched_on():
    gate = VoiceGate(RATE)
    quiet_then_fan = np.concatenate([_noise(5, -60, 1), _noise(40, -40, 2)])
    passages = [gate.admit(block) for block in _blocks(quiet_then_fan)]
    first_fan_block = 50
    assert passages[first_fan_block].blocks, "a 20 dB jump must open the gate"
    closed_at = next(index for index, passage in enumerate(passages) if passage.closed)
    assert closed_at - first_fan_block <= 300, "the gate stays open for more than 30 s of steady fan noise"
    assert all(not passage.blocks for passage in passages[closed_at + 10:])


def test_gated_decoding_hears_a_command_spoken_after_silence(vosk_model, table):
    command = synthesize("how much time is left", "en-us", 160)
    stream = in_room(command, seed=3)
    gate = VoiceGate(command.rate)
    heard = CommandRecognizer(vosk_model, table, command.rate, gate).recognize_stream(stream)
    assert heard.text == "how much time is left"
    assert heard.intent is not None and heard.intent.name == "time_left"
    assert gate.blocks_passed < gate.blocks_seen


def test_accuracy_with_the_gate_is_within_one_point_of_accuracy_without(vosk_model, table, shared_data):
    runs = compare_gates(vosk_model, table, real_samples(shared_data), {
        "ungated": lambda rate: None,
        "gated": VoiceGate,
    })
    gated, ungated = runs["gated"].scores["all"], runs["ungated"].scores["all"]
    assert gated.total == ungated.total >= 300
    assert ungated.rate >= 0.85
    assert abs(gated.rate - ungated.rate) <= 0.01, (
        f"gated {gated.correct}/{gated.total}, ungated {ungated.correct}/{ungated.total}")
    assert runs["gated"].blocks_passed < runs["ungated"].blocks_passed


def test_a_synthesized_command_is_placed_in_a_quiet_room_not_in_digital_silence():
    command = synthesize("stop", "en-us", 160)
    stream = in_room(command, seed=4)
    before_the_word = stream[: int(command.rate * ROOM_LEAD_SECONDS)]
    levels = frame_levels_dbfs(before_the_word, int(command.rate * FRAME_SECONDS))
    assert abs(float(np.median(levels)) - QUIET_ROOM_DBFS) < 3.0, float(np.median(levels))
