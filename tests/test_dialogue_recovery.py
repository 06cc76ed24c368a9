"""Understood from the floor: a pain score the recognizer is unsure of is confirmed, a certain one is not; after a
miss the question is asked another way; an unclear safety answer never counts as "no". The real session and
store under a fake clock, and the real recognizer on real recordings."""

from datetime import timedelta

import pytest

from harness import MONDAY_8AM, Harness
from voicerelief.app import heard_event, load_content
from voicerelief.session import Memory, NotUnderstood, Said, Say, Session

CONTENT = load_content()
FIRST = [q for q in CONTENT.red_flags if q.asked == "first"]


@pytest.fixture
def run(tmp_path) -> Harness:
    return Harness(tmp_path / "data")


def at_pain_question(run: Harness) -> None:
    run.say("start")
    run.answer_every_safety_question("no")
    run.say("yesterday")
    assert run.state == "painBefore"


def hear(run: Harness, event) -> list[str]:
    before = len(run.spoken)
    run.runner.handle(event)
    return [s.text for s in run.spoken[before:]]


def test_a_certain_pain_score_is_stored_without_a_confirmation(run):
    at_pain_question(run)
    spoken = hear(run, Said("number", 6, confidence=0.99))
    assert run.state == "rest" and run.memory.pain_before == 6
    assert not any("Is that right?" in line for line in spoken)
    assert run.records("pain") == [{"score": 6, "when": "before"}]


def test_an_unsure_pain_score_is_confirmed_and_a_no_asks_again(run):
    at_pain_question(run)
    assert hear(run, Said("number", 6, confidence=0.7)) == ["I heard 6. Is that right?"]
    assert run.state == "confirmPainBefore" and not run.records("pain")
    assert run.say("no") == [CONTENT.prompts.say("session.pain_misheard"), CONTENT.prompts.say("session.pain_words")]
    assert run.state == "painWordsBefore" and not run.records("pain")


def test_a_score_often_confused_is_confirmed_even_when_the_recognizer_is_sure(run):
    at_pain_question(run)
    assert hear(run, Said("number", 10, confidence=1.0)) == ["I heard 10. Is that right?"]


def test_after_a_miss_the_pain_question_is_asked_again_with_words_to_choose_from(run):
    at_pain_question(run)
    assert hear(run, NotUnderstood("six please")) == [CONTENT.prompts.say("session.pain_not_heard"),
                                                      CONTENT.prompts.say("session.pain_words")]
    assert run.state == "painWordsBefore"
    grammar = CONTENT.table.restricted_to(run.runner.session.listening_for()).phrases
    assert {"no pain", "mild", "moderate", "severe", "six"} <= set(grammar)
    assert hear(run, NotUnderstood("sick")) == [CONTENT.prompts.say("session.pain_words_again")]
    hear(run, Said("pain_word", 5, confidence=0.98))
    assert run.state == "rest" and run.memory.pain_before == 5
    assert run.records("pain") == [{"score": 5, "when": "before", "scale": "words"}]


def test_no_answer_to_the_pain_question_also_offers_the_words(run):
    at_pain_question(run)
    assert run.wait(seconds=CONTENT.timings.reprompt_seconds) == [CONTENT.prompts.say("session.pain_not_heard"),
                                                                  CONTENT.prompts.say("session.pain_words")]
    assert run.state == "painWordsBefore"


def test_a_number_is_still_heard_after_the_words_are_offered(run):
    at_pain_question(run)
    hear(run, NotUnderstood("mm"))
    assert hear(run, Said("number", 7, confidence=0.6)) == ["I heard 7. Is that right?"]
    run.say("yes")
    assert run.state == "rest" and run.records("pain") == [{"score": 7, "when": "before"}]


def test_an_unclear_safety_answer_never_counts_as_no(run):
    run.say("start")
    first = run.memory.last_prompt
    spoken = hear(run, NotUnderstood("mm"))
    assert spoken == ["Please answer yes or no, a little louder.", first]
    assert run.memory.red_flag == 0
    spoken = hear(run, NotUnderstood("mm"))
    assert spoken == [f"I could not make out what you said about {FIRST[0].heard_as}. Shall I count it as not sure?"]
    assert run.memory.red_flag == 0 and run.memory.confirming_flag == FIRST[0].name
    run.say("yes")
    assert run.state == "urgent" and run.memory.urgent_tier == "today"
    assert run.records("red_flag")[-1] == {"question": FIRST[0].name, "answer": "not sure", "means": "today"}


def test_no_answer_heard_to_a_safety_question_is_a_miss_too(run):
    run.say("start")
    first = run.memory.last_prompt
    assert run.wait(seconds=CONTENT.timings.reprompt_seconds) == ["Please answer yes or no, a little louder.", first]
    assert run.wait(seconds=CONTENT.timings.reprompt_seconds) == [
        f"I could not make out what you said about {FIRST[0].heard_as}. Shall I count it as not sure?"]
    assert run.memory.red_flag == 0 and run.memory.confirming_flag == FIRST[0].name


def test_saying_no_to_counting_an_unclear_answer_asks_the_question_again(run):
    run.say("start")
    hear(run, NotUnderstood("mm"))
    hear(run, NotUnderstood("mm"))
    assert run.say("no") == ["Then let me ask again.", FIRST[0].ask]
    run.say("no")
    assert run.memory.red_flag == 1


def test_typed_answers_have_no_confidence_and_are_confirmed_as_before(run):
    at_pain_question(run)
    assert run.say("seven") == ["I heard 7. Is that right?"]


def test_the_recognizer_tells_the_session_how_sure_it_is(file_recognizer, shared_data):
    from voicerelief.audio_file import read_speech

    path = sorted((shared_data / "spoken-digits-dev").glob("6_*.wav"))[0]
    heard, _ = file_recognizer.recognize(read_speech(path))
    event = heard_event(heard)
    assert isinstance(event, Said) and event.value == 6
    assert event.confidence == heard.confidence and 0 < event.confidence <= 1


def test_a_certain_answer_in_the_pain_question_after_ends_the_session(tmp_path):
    memory = Memory(state="painAfter", episode=1, onset=(MONDAY_8AM - timedelta(days=1)).isoformat(),
                    last_session=MONDAY_8AM.isoformat(), pain_before=7)
    session = Session(CONTENT.prompts, CONTENT.timings, CONTENT.routine, CONTENT.table, CONTENT.red_flags,
                      CONTENT.numbers, memory)
    said = [e.text for e in session.handle(Said("number", 4, confidence=0.99), MONDAY_8AM) if isinstance(e, Say)]
    assert said[0] == "Your pain was 7. Now it is 4." and session.state == "idle"
