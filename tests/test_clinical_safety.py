"""The clinical rules: two tiers of urgent advice, red flags at any moment, confirmed answers, safe cold and heat,
stretches left out for a reason, and words made for the ear. Real session, runner and SQLite file, fake clock."""

import re
from datetime import timedelta

import pytest

from harness import MONDAY_8AM, Harness
from voicerelief.app import load_content
from voicerelief.call_numbers import call_numbers, locale_country, spoken_digits
from voicerelief.config import Config, load_config, set_value
from voicerelief.errors import ContentError
from voicerelief.prompts import content_path, read_toml
from voicerelief.red_flags import CAUTION, EMERGENCY, GATE, TODAY
from voicerelief.session import STATE_NAMES, Memory, Said, Say, Session

CONTENT = load_content()
FIRST = [q for q in CONTENT.red_flags if q.asked == "first"]
LATER = [q for q in CONTENT.red_flags if q.asked == "later"]
GUIDED = ("ice_on", "heat_on", "stretch")
# The spoken content of every file a person hears.
SPOKEN_FILES = ("prompts.toml", "red_flags.toml", "routine.toml")
LONGEST_SENTENCE_WORDS = 15


@pytest.fixture
def run(tmp_path) -> Harness:
    return Harness(tmp_path / "data")


def answer_up_to(run: Harness, name: str) -> None:
    """Start a session and answer no (yes to the questions ``name`` depends on) until ``name`` is asked."""
    run.say("start")
    questions = FIRST if run.memory.screening == "first" else LATER
    by_name = {q.name: q for q in questions}
    needed = {by_name[name].only_if} - {""}
    while run.memory.last_prompt != by_name[name].ask:
        asked = next(q for q in questions if q.ask == run.memory.last_prompt)
        run.say("yes" if asked.name in needed else "no")


def try_to_be_guided(run: Harness) -> list[str]:
    return [line for attempt in ("start ice", "start heat", "stretches", "start", "ready") for line in run.say(attempt)]


@pytest.mark.parametrize("question", [q for q in FIRST if q.means == EMERGENCY], ids=lambda q: q.name)
def test_each_emergency_answer_gives_the_emergency_advice_and_nothing_else(run, question):
    answer_up_to(run, question.name)
    assert run.say("yes") == [f"You said yes to {question.heard_as}. Is that right?"]
    spoken = " ".join(run.say("yes"))
    assert f"Call {spoken_digits(CONTENT.numbers.emergency)}" in spoken and "Do not drive yourself" in spoken
    assert "shout for help" in spoken and "bang on the floor" in spoken
    assert run.state == "urgent" and run.memory.urgent_tier == EMERGENCY
    assert all("you need emergency help" in line for line in try_to_be_guided(run))
    assert not run.store.events(list(GUIDED))


@pytest.mark.parametrize("question", [q for q in FIRST if q.means == TODAY], ids=lambda q: q.name)
def test_each_today_answer_gives_the_see_a_doctor_today_advice(run, question):
    answer_up_to(run, question.name)
    run.say("yes")
    spoken = run.say("yes")
    assert spoken[0].startswith("A doctor should check you today.") and "emergency department" not in spoken[0]
    assert run.state == "urgent" and run.memory.urgent_tier == TODAY
    assert all("please see a doctor today" in line for line in try_to_be_guided(run))
    assert not run.store.events(list(GUIDED))


@pytest.mark.parametrize("question", LATER, ids=lambda q: q.name)
def test_the_later_sessions_check_stops_in_its_tier(run, question):
    run.first_session_to_rest()
    run.say("stop")
    run.say("yes")
    run.clock.advance(3600)
    answer_up_to(run, question.name)
    run.say("yes")
    run.say("yes")
    assert run.state == "urgent" and run.memory.urgent_tier == question.means


def test_maybe_is_an_answer_and_means_see_a_doctor_today_even_for_an_emergency_question(run):
    answer_up_to(run, "saddle")
    assert run.say("maybe") == [
        "You said maybe to numbness around your bottom, private parts or inner thighs. Is that right?"]
    assert run.say("yes")[0].startswith("A doctor should check you today.")
    assert run.memory.urgent_tier == TODAY
    assert run.records("red_flag")[-1] == {"question": "saddle", "answer": "not sure", "means": TODAY}


def test_an_unconfirmed_yes_does_not_lock_the_episode(run):
    answer_up_to(run, "both_legs")
    run.say("yes")
    spoken = run.say("no")
    assert spoken == ["Then let me ask again.", next(q.ask for q in FIRST if q.name == "both_legs")]
    assert run.state == "redFlags" and not run.memory.urgent
    run.answer_every_safety_question("no")
    assert run.state == "onset"
    run.say("yesterday")
    run.say("six")
    run.say("yes")
    run.ice_on()
    assert run.records("red_flag")[0] == {"question": "both_legs", "answer": "not confirmed"}


@pytest.mark.parametrize("state", STATE_NAMES)
def test_the_emergency_phrase_works_in_every_state(state):
    memory = Memory(state=state, episode=1, onset=MONDAY_8AM.isoformat(), last_session=MONDAY_8AM.isoformat(),
                    ice_due=(MONDAY_8AM + timedelta(minutes=20)).isoformat(), ice_on_since=MONDAY_8AM.isoformat(),
                    urgent=state == "urgent", urgent_tier=TODAY)
    session = Session(CONTENT.prompts, CONTENT.timings, CONTENT.routine, CONTENT.table, CONTENT.red_flags,
                      CONTENT.numbers, memory)
    assert "emergency" in session.listening_for()
    said = [e.key for e in session.handle(Said("emergency"), MONDAY_8AM) if isinstance(e, Say)]
    assert said == ["session.emergency_confirm"]
    assert session.awaits_the_person(), "the answer to 'is this an emergency?' needs no wake phrase"
    said = [e.key for e in session.handle(Said("yes"), MONDAY_8AM) if isinstance(e, Say)]
    assert "session.urgent_emergency" in said
    assert session.state == "urgent" and session.memory.urgent_tier == EMERGENCY


def test_a_symptom_said_is_confirmed_as_the_symptom_and_a_no_carries_on(run):
    run.first_session_to_rest()
    run.ice_on()
    assert run.say("i can't feel my legs") == ["You said you cannot feel your legs. Is that right?"]
    assert run.say("no") == ["Sorry, I misheard. We carry on.", "The ice has 20 minutes to go."]
    assert run.state == "iceOn" and not run.memory.urgent
    assert run.say("i wet myself") == ["You said you wet yourself. Is that right?"]
    spoken = run.say("yes")
    assert spoken[0] == "If ice or heat is on you, take it off now."
    assert spoken[1].startswith("This needs emergency help now.")
    assert run.state == "urgent" and run.memory.urgent_tier == EMERGENCY
    assert run.records("red_flag")[-1] == {"question": "bladder", "answer": "yes", "means": EMERGENCY}


def test_the_numbers_are_spoken_digit_by_digit_for_the_country():
    assert spoken_digits("999") == "9 9 9" and spoken_digits("116 117") == "1 1 6, 1 1 7"
    assert locale_country({"LANG": "en_GB.UTF-8"}) == "GB" and locale_country({"LANG": "C.UTF-8"}) == ""
    assert call_numbers(environ={"LANG": "en_AU.UTF-8"}).emergency == "000"
    assert call_numbers("US", environ={"LANG": "en_GB.UTF-8"}).emergency == "911"
    assert call_numbers(environ={}).emergency == "112"
    mine = call_numbers("GB", emergency="112", urgent="01234 567890")
    assert (mine.emergency, mine.urgent, mine.chosen_by) == ("112", "01234 567890", "the number settings")


def test_the_country_setting_reaches_the_spoken_advice(tmp_path):
    path = tmp_path / "config.toml"
    set_value("country", "gb", path)
    with pytest.raises(Exception, match="must be one of"):
        set_value("country", "Narnia", path)
    with pytest.raises(Exception, match="phone number of digits"):
        set_value("emergency_number", "call 999", path)
    assert load_config(path).country == "GB"
    run = Harness(tmp_path / "data", content=load_content(settings=load_config(path)))
    answer_up_to(run, "fever")
    run.say("yes")
    assert "or call 1 1 1." in run.say("yes")[0]
    us = Harness(tmp_path / "us", content=load_content(settings=Config(country="US")))
    answer_up_to(us, "chest")
    us.say("yes")
    assert "Call 9 1 1, or go to the emergency department." in us.say("yes")[0]


def test_a_caution_leaves_out_the_stretches_it_names_and_says_why(run):
    answer_up_to(run, "thin_bones")
    run.say("yes")
    assert run.memory.last_prompt == "Did the pain start after a fall, even a small one?"
    run.say("no")
    run.say("yesterday")
    run.say("five")
    run.say("yes")
    spoken = run.say("stretches")
    assert spoken[0] == "Today I will leave out one knee to chest, knee rolls and both knees to chest."
    assert spoken[1] == "With thin bones, bending and twisting stretches can strain the spine."
    while run.state != "painAfter":
        run.say("skip")
    assert [r["name"] for r in run.records("stretch")] == ["slow breathing", "back flattening"]


def test_in_pregnancy_no_stretch_is_guided_flat_on_the_back(run):
    answer_up_to(run, "pregnant")
    run.say("yes")
    run.answer_every_safety_question("no")
    run.say("yesterday")
    run.say("five")
    run.say("yes")
    spoken = run.say("stretches")
    assert "Ask your midwife" in " ".join(spoken) and run.state == "painAfter"
    assert not run.records("stretch")


def test_the_first_round_offers_ice_or_heat_and_heat_stays_the_choice(run):
    run.first_session_to_rest(onset="yesterday")
    run.say("ready")
    assert run.state == "coldOrHeat"
    run.say("heat")
    assert run.state == "heatReady"
    run.say("ready")
    run.wait(minutes=15)
    run.say("done")
    run.say("no")
    run.say("four")
    run.say("yes")
    run.clock.advance(4 * 3600)
    run.say("start")
    run.answer_every_safety_question("no")
    run.say("four")
    run.say("yes")
    run.say("ready")
    assert run.state == "heatReady"


@pytest.mark.parametrize("path, must_say, once_on", [
    ("ice first", ("Never lie on the pack", "if you might fall asleep", "poor circulation"),
     ("Take it off at once if it burns",)),
    ("ice again", ("never lie on it", "If it still feels numb, say skip."), ()),
    ("heat", ("Never lie on it", "never boiling water", "No heat on numb skin", "if you might fall asleep"),
     ("Take it off at once if it burns.",)),
])
def test_cold_and_heat_prompts_say_never_lie_on_it(run, path, must_say, once_on):
    """Before it goes on: how to place it and when not to use it; once on: off at once if it burns."""
    run.first_session_to_rest()
    run.say("ready")
    run.say("heat" if path == "heat" else "ice")
    if path == "ice again":
        run.say("ready")
        run.wait(minutes=20)
        run.say("done")
        run.say("no")
        run.wait(minutes=20)
    assert [phrase for phrase in must_say if phrase not in run.memory.last_prompt] == []
    on = " ".join(run.say("ready"))
    assert [phrase for phrase in once_on if phrase not in on] == []


def test_numb_skin_after_the_break_ends_cold_for_the_day_but_normal_numbness_does_not(run):
    run.first_session_to_rest()
    run.ice_on()
    run.wait(minutes=20)
    assert "Cold, aching, then numb is normal" in " ".join(run.say("done"))
    run.say("no")
    run.wait(minutes=20)
    assert run.say("skip")[0].startswith("Then no more ice today.")
    assert run.state == "stretchOffer"
    assert "No ice or heat on that spot today." in " ".join(run.say("start ice"))
    assert run.state == "stretchOffer"


def test_a_blister_sends_the_person_to_a_pharmacist_or_doctor(run):
    run.first_session_to_rest()
    run.ice_on()
    run.wait(minutes=20)
    run.say("done")
    spoken = run.say("yes")
    assert "pharmacist or doctor" in spoken[0] and "until it has healed" in spoken[0]
    assert run.records("skin") == [{"problem": "damaged"}]


def test_every_session_ends_with_the_safety_net_and_the_advice_once_per_episode(run):
    run.first_session_to_rest()
    run.say("stop")
    first_end = run.say("yes")
    run.say("start")
    run.answer_every_safety_question("no")
    run.say("stop")
    second_end = run.say("yes")
    net = f"Call {spoken_digits(CONTENT.numbers.emergency)} at once if you wet or soil yourself, or cannot pee."
    assert first_end[-2].startswith(net) and second_end[-2].startswith(net)
    assert any("sturdy chair" in line for line in first_end) and not any("sturdy chair" in line for line in second_end)
    assert any("more than a day or two" in line for line in first_end)


def test_no_see_someone_when_the_pain_has_gone(tmp_path):
    run = Harness(tmp_path / "d")
    run.first_session_to_rest(onset="last week", pain="one")
    run.say("start heat")
    assert "see a doctor" not in " ".join(run.say("my progress"))
    run.say("stop")
    run.say("yes")
    run.clock.advance(3600)
    assert "see a doctor" not in " ".join(run.say("start"))


def test_pain_getting_worse_suggests_a_doctor_once(run):
    run.first_session_to_rest(pain="four")
    run.say("stretches")
    while run.state != "painAfter":
        run.say("skip")
    run.say("seven")
    assert "Your pain is worse than when this began." in " ".join(run.say("yes"))


def test_the_onset_question_offers_longer_ago_and_three_days_means_three_days(run):
    run.say("start")
    run.answer_every_safety_question("no")
    assert "longer ago" in run.memory.last_prompt
    run.say("longer ago")
    run.say("five")
    run.say("yes")
    run.say("ready")
    assert run.state == "heatReady"


def test_help_gives_four_answers_then_the_rest_on_asking_again(run):
    run.first_session_to_rest()
    short = run.say("help")[0]
    assert short == "You can say ready, start ice, start heat or stretches. Say help again to hear more."
    assert "In an emergency, say emergency." in run.say("help")[0]
    assert run.say("help")[0] == short


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s]


def test_no_spoken_sentence_is_longer_than_a_listener_can_hold():
    long = []
    for name in SPOKEN_FILES:
        for text in _spoken_texts(read_toml(content_path(name))):
            long += [s for s in _sentences(text) if len(s.split()) > LONGEST_SENTENCE_WORDS]
    assert long == []


def test_the_length_rule_does_catch_a_long_sentence():
    text = "Please take the ice off now because it has been on for quite a long time and that hurts skin."
    assert [len(s.split()) for s in _sentences(text)] == [20]


def _spoken_texts(data: object) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [t for key, value in data.items() if key not in ("name", "means", "asked", "only_if", "avoid_with",
                                                                 "sides", "only_if_comfortable")
                for t in _spoken_texts(value)]
    if isinstance(data, list):
        return [t for item in data for t in _spoken_texts(item)]
    return []


# Pain relievers and other medicines a sentence might be tempted to name: the protocol names none.
DRUGS = ("paracetamol", "acetaminophen", "ibuprofen", "naproxen", "aspirin", "diclofenac", "codeine", "tramadol",
         "diazepam", "morphine", "oxycodone", "cyclobenzaprine", "tylenol", "advil", "nurofen", "aleve", "nsaid",
         "co-codamol", "gabapentin", "pregabalin", "muscle relaxant", "painkiller", "pain killer")


def test_no_drug_is_named_anywhere_a_person_hears():
    for path in content_path("prompts.toml").parent.glob("*.toml"):
        text = path.read_text(encoding="utf-8").lower()
        named = [drug for drug in DRUGS if drug in text]
        assert named == [], f"{path.name} names {named}"


def test_a_red_flag_file_without_an_emergency_question_is_refused(tmp_path):
    from voicerelief.red_flags import load_red_flags

    text = content_path("red_flags.toml").read_text()
    bad = tmp_path / "red_flags.toml"
    without_symptoms = "\n".join(line for line in text.splitlines() if not line.startswith("said_"))
    bad.write_text(without_symptoms.replace('means = "emergency"', 'means = "today"'))
    with pytest.raises(ContentError, match="emergency question"):
        load_red_flags(bad)
    bad.write_text(text.replace('name = "pregnant"\nmeans = "caution"', 'name = "pregnant"\nmeans = "caution!"'))
    with pytest.raises(ContentError, match="means"):
        load_red_flags(bad)
    assert {q.means for q in CONTENT.red_flags} == {EMERGENCY, TODAY, CAUTION, GATE}


@pytest.mark.parametrize("saved_state, screening", [("recheck", "later"), ("redFlags", "first")])
def test_questions_saved_by_the_version_before_tiers_start_again(saved_state, screening):
    memory = Memory.from_dict({"state": saved_state, "episode": 1, "red_flag": 4, "onset": MONDAY_8AM.isoformat(),
                               "last_session": MONDAY_8AM.isoformat()})
    session = Session(CONTENT.prompts, CONTENT.timings, CONTENT.routine, CONTENT.table, CONTENT.red_flags,
                      CONTENT.numbers, memory)
    said = [e.text for e in session.handle(Said("repeat"), MONDAY_8AM) if isinstance(e, Say)]
    asked = [q for q in CONTENT.red_flags if q.asked == screening]
    assert session.state == "redFlags" and memory.red_flag == 0
    session.handle(Said("no"), MONDAY_8AM)
    assert session.memory.last_prompt == asked[1].ask, said
