"""Hearing across a room: the level normaliser, the simulated rooms of the far-field bench, the gate's threshold."""

import numpy as np
import pytest
import soxr

from voicerelief.commands import NUMBER, load_phrase_table
from voicerelief.front_end import LevelNormalizer, LevelSettings
from voicerelief.recognizer import BLOCK_SECONDS, CommandRecognizer
from voicerelief.rooms import ROOMS, active_level_dbfs, far_field, impulse_response, measured_rt60
from voicerelief.session import heard_in_state
from voicerelief.synthesize import noise_at_level, synthesize
from voicerelief.voice_gate import FRAME_SECONDS, GateSettings, VoiceGate, frame_levels_dbfs

RATE = 16000
BLOCK = int(RATE * BLOCK_SECONDS)


def _word(text: str, peak_dbfs: float) -> np.ndarray:
    """A spoken word at 16 kHz whose loudest 20 ms frame is at ``peak_dbfs``."""
    word = synthesize(text, "en-us", 160)
    samples = soxr.resample(word.samples.astype(np.float64), word.rate, RATE)
    loudest = frame_levels_dbfs(samples, int(RATE * FRAME_SECONDS)).max()
    return samples * 10 ** ((peak_dbfs - loudest) / 20)


def _in_quiet_room(speech: np.ndarray, room_dbfs: float, lead_seconds: float = 2.0, seed: int = 3) -> np.ndarray:
    lead = int(RATE * lead_seconds)
    stream = noise_at_level(lead + len(speech) + RATE, room_dbfs, seed)
    stream[lead:lead + len(speech)] += speech
    return np.clip(np.round(stream), -32768, 32767).astype(np.int16)


def _through(normalizer: LevelNormalizer, samples: np.ndarray) -> np.ndarray:
    """One utterance, as the gate passes it, fed block by block."""
    out: list[bytes] = []
    blocks = [samples[start:start + BLOCK].tobytes() for start in range(0, len(samples), BLOCK)]
    for index, block in enumerate(blocks):
        out += normalizer.feed((block,), (index + 1) * BLOCK_SECONDS, ending=index == len(blocks) - 1)
    normalizer.end()
    return np.frombuffer(b"".join(out), dtype=np.int16)


def test_the_front_end_is_deterministic_and_passes_silence_through_as_silence():
    speech = _in_quiet_room(_word("seven", -45), -70, lead_seconds=0.2)
    first = _through(LevelNormalizer(RATE), speech)
    second = _through(LevelNormalizer(RATE), speech)
    assert len(first) == len(speech)
    assert np.array_equal(first, second)
    silence = np.zeros(RATE * 2, np.int16)
    assert np.array_equal(_through(LevelNormalizer(RATE), silence), silence)


def test_a_quiet_voice_is_raised_to_the_target_a_loud_one_left_alone_and_nothing_clips():
    settings = LevelSettings()
    quiet = _in_quiet_room(_word("seven", -48), -78, 0.2)
    raised = _through(LevelNormalizer(RATE, settings), quiet)
    assert frame_levels_dbfs(raised, int(RATE * FRAME_SECONDS)).max() == pytest.approx(settings.target_peak_dbfs, abs=1.0)
    loud = _in_quiet_room(_word("seven", -8), -38, 0.2)
    assert np.array_equal(_through(LevelNormalizer(RATE, settings), loud), loud)
    rising = np.concatenate([_word("two", -40), _word("eight", -10)])
    out = _through(LevelNormalizer(RATE, settings), rising.astype(np.int16))
    assert np.abs(out.astype(np.int32)).max() < 32767


def test_room_noise_alone_is_never_raised_by_more_than_the_gain_limit():
    settings = LevelSettings()
    hiss = noise_at_level(RATE, -90, 5).astype(np.int16)
    out = _through(LevelNormalizer(RATE, settings), hiss)
    gain_db = 10 * np.log10(np.mean(out.astype(np.float64) ** 2) / np.mean(hiss.astype(np.float64) ** 2))
    assert gain_db == pytest.approx(settings.max_gain_db, abs=0.5)


@pytest.fixture(scope="module")
def pain_question():
    from voicerelief.models import find_model
    from voicerelief.recognizer import load_model

    table = load_phrase_table()
    return load_model(find_model(), table), table.restricted_to(heard_in_state("painBefore", table))


def test_a_pain_score_said_quietly_far_away_is_heard_through_the_front_end(pain_question):
    model, grammar = pain_question
    far_voice = _in_quiet_room(_word("six", -54), -74)
    with_front_end = CommandRecognizer(model, grammar, RATE, VoiceGate(RATE)).recognize_stream(far_voice)
    assert with_front_end.intent is not None and (with_front_end.intent.name, with_front_end.intent.value) == (NUMBER, 6)
    without = CommandRecognizer(model, grammar, RATE, VoiceGate(RATE), level=None).recognize_stream(far_voice)
    assert without.intent is None


def test_no_gain_is_found_from_no_audio_so_the_next_voice_starts_as_it_was_said():
    normalizer = LevelNormalizer(RATE)
    # Between utterances the gate passes nothing, however long the last voice went on.
    assert normalizer.feed((), 0.62, ending=False) == []
    assert normalizer.gain_db is None
    loud = _in_quiet_room(_word("ten", -17), -65, lead_seconds=0.1)
    assert np.array_equal(_through(normalizer, loud), loud)


def test_a_pain_score_right_after_a_quickly_ended_answer_is_heard_wherever_it_falls_in_a_block(pain_question):
    """A complete answer ends 0.15 s after its last sound; the next utterance, in the next state's grammar behind the
    same gate, must not start 30 dB too loud. Each offset moves both words against the 0.1 s blocks."""
    model, grammar = pain_question
    table = load_phrase_table()
    answer = _in_quiet_room(_word("that's right", -17), -65, lead_seconds=1.0)
    score = _in_quiet_room(_word("ten", -17), -65, lead_seconds=1.0, seed=4)
    heard = []
    for offset in range(0, BLOCK, BLOCK // 8):
        stream = np.concatenate([np.zeros(offset, np.int16), answer])
        gate = VoiceGate(RATE)
        safety = CommandRecognizer(model, table.restricted_to(heard_in_state("redFlags", table)), RATE, gate)
        said = [h for start in range(0, len(stream), BLOCK)
                if (h := safety.accept(stream[start:start + BLOCK].tobytes())) is not None and h.text]
        assert [h.text for h in said] == ["that's right"]
        pain = CommandRecognizer(model, grammar, RATE, gate)
        pain.restart()
        shifted = np.concatenate([np.zeros(offset, np.int16), score])
        heard += [h for start in range(0, len(shifted), BLOCK)
                  if (h := pain.accept(shifted[start:start + BLOCK].tobytes())) is not None and h.text]
    assert [(h.text, h.intent and h.intent.value) for h in heard] == [("ten", 10)] * 8, heard


def test_the_gate_opens_for_a_voice_from_across_the_room_but_not_for_its_quiet_hiss():
    far_voice = _in_quiet_room(_word("yes", -54), -74)
    gate = VoiceGate(RATE, GateSettings())
    passed = [gate.admit(far_voice[start:start + BLOCK].tobytes()) for start in range(0, len(far_voice), BLOCK)]
    opened_at = [index * BLOCK / RATE for index, passage in enumerate(passed) if passage.blocks]
    assert opened_at and 2.0 <= opened_at[0] <= 2.5
    hiss = noise_at_level(RATE * 20, -74, 9).astype(np.int16)
    quiet = VoiceGate(RATE, GateSettings())
    assert not any(quiet.admit(hiss[start:start + BLOCK].tobytes()).blocks for start in range(0, len(hiss), BLOCK))


def test_the_simulated_rooms_are_seeded_and_have_their_stated_reverberation_and_noise():
    clip = _word("stop", -20)
    for room in ROOMS:
        for position in range(3):
            assert measured_rt60(impulse_response(room, position)) == pytest.approx(room.rt60_seconds, rel=0.1)
        heard = far_field(clip, RATE, room, seed=4)
        assert np.array_equal(heard, far_field(clip, RATE, room, seed=4))
        assert not np.array_equal(heard[:RATE], far_field(clip, RATE, room, seed=5)[:RATE])
        speech_only = np.convolve(clip, impulse_response(room, 4))
        lead_noise_dbfs = 10 * np.log10(np.mean((heard[:RATE].astype(np.float64) / 32768) ** 2))
        assert active_level_dbfs(speech_only) - lead_noise_dbfs == pytest.approx(room.snr_db, abs=1.5)
