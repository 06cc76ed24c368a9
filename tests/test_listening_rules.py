"""The rules of listening that need no sound card: the wake gate, and remembered voice settings."""

from voicerelief.app import VoiceOut
from voicerelief.listener import WakeGate
from voicerelief.recognizer import Heard
from voicerelief.session import AdjustVoice
from voicerelief.speak import chime
from voicerelief.store import Store


def heard(table, text: str, confidence: float = 1.0) -> Heard:
    return Heard(text, table.match(text), confidence)


def test_outside_a_session_only_the_wake_phrase_gets_through(table):
    gate = WakeGate(table, window_seconds=10)
    assert gate.admit(heard(table, "start"), session_active=False, now=0.0) == (None, False)
    assert gate.admit(heard(table, "hey relief"), session_active=False, now=1.0) == (None, True)
    admitted, _ = gate.admit(heard(table, "start"), session_active=False, now=3.0)
    assert admitted.intent.name == "start"
    assert gate.admit(heard(table, "start"), session_active=False, now=4.0) == (None, False), "the window closed"
    admitted, acknowledge = gate.admit(heard(table, "hey relief start"), session_active=False, now=30.0)
    assert admitted.intent.name == "start" and not acknowledge
    assert gate.admit(heard(table, "hey relief"), session_active=False, now=40.0)[1]
    assert gate.admit(heard(table, "start"), session_active=False, now=55.0) == (None, False), "too late"


def test_inside_a_session_commands_need_no_wake_phrase(table):
    gate = WakeGate(table)
    admitted, acknowledge = gate.admit(heard(table, "no"), session_active=True, now=0.0)
    assert admitted.intent.name == "no" and not acknowledge


def test_a_weak_command_after_the_wake_phrase_is_not_trusted(table):
    admitted, _ = WakeGate(table).admit(heard(table, "hey relief start", 0.2), session_active=False, now=0.0)
    assert admitted.intent is None


def test_speech_rate_and_volume_are_remembered(tmp_path):
    store = Store(tmp_path)
    first = VoiceOut(True, store=store)
    first.adjust(AdjustVoice(rate_step=-20))
    first.adjust(AdjustVoice(volume_step=-0.15))
    first.close()
    second = VoiceOut(True, store=store)
    assert second.speaker.renderer.voice.words_per_minute == 130
    assert second.speaker.renderer.voice.volume == 0.85
    second.close()


def test_the_chime_grows_louder_with_each_reminder():
    levels = [float(abs(chime(urgency)).max()) for urgency in (1, 2, 3, 4)]
    assert levels == sorted(levels) and levels[0] < levels[-1]
    assert levels[-1] <= 0.9
