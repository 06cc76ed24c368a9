"""The whole protocol on the real session, runner and SQLite file, under a fake clock."""

from datetime import timedelta

import pytest

from harness import MONDAY_8AM, Harness
from voicerelief.natural_voice import sentences


@pytest.fixture
def run(tmp_path) -> Harness:
    return Harness(tmp_path / "data")


def test_first_session_disclaimer_red_flags_onset_and_confirmed_pain(run):
    spoken = run.say("start")
    assert "not a doctor" in spoken[0]
    assert run.state == "redFlags"
    questions = [spoken[-1]]
    while run.state == "redFlags":
        questions.append(run.say("no")[-1])
    asked = [q.ask for q in run.content.red_flags if q.asked == "first" and not q.only_if]
    assert questions == asked + [run.memory.last_prompt]
    assert "When did the spasm begin" in questions[-1]
    run.say("yesterday")
    assert run.memory.onset == (MONDAY_8AM - timedelta(hours=24)).isoformat()
    assert run.say("seven") == ["I heard 7. Is that right?"]
    assert run.say("no") == [run.content.prompts.say("session.pain_misheard"),
                             run.content.prompts.say("session.pain_words")] and run.state == "painWordsBefore"
    run.say("six")
    assert run.say("yes")[-1].startswith("Lie in the position")
    assert run.records("pain") == [{"score": 6, "when": "before"}]
    assert run.records("red_flag") == [{"question": "all", "answer": "no"}]


def test_a_red_flag_stops_the_protocol(run):
    run.say("start")
    while run.memory.last_prompt != next(q.ask for q in run.content.red_flags if q.name == "saddle"):
        run.say("no")
    assert run.say("yes") == [
        "You said yes to numbness around your bottom, private parts or inner thighs. Is that right?"]
    spoken = run.say("yes")
    assert "emergency help now" in spoken[0]
    assert run.state == "urgent"
    assert run.records("red_flag") == [{"question": "saddle", "answer": "yes", "means": "emergency"}]
    for attempt in ("start ice", "start heat", "stretches", "start", "ready"):
        answer = " ".join(run.say(attempt))
        assert "you need emergency help" in answer
        assert run.state == "urgent"
    assert not run.records("ice_on") and not run.records("heat_on")


def test_ice_round_twenty_on_twenty_off_twenty_on_with_progress(run):
    run.first_session_to_rest()
    run.say("ready")
    assert run.memory.last_prompt == "Ice or heat? Both can ease the pain. Say ice, or heat."
    run.say("ice")
    assert "thin towel" in run.memory.last_prompt
    run.say("ready")
    assert run.wait(minutes=10) == ["Halfway. 10 minutes of ice to go."]
    assert run.say("how much time is left") == ["The ice has 10 minutes to go."]
    assert run.wait(minutes=9) == ["One minute of ice left."]
    assert run.wait(minutes=1)[0].startswith("Time is up. Take the ice off now.")
    assert "Is there a blister, or is the skin white and hard?" in run.say("done")[-1]
    assert "twenty minutes" in run.say("no")[-1]
    assert run.state == "iceOff"
    assert run.say("time left") == ["Ice goes back on in 20 minutes."]
    assert "second round" in run.wait(minutes=20)[-1]
    run.say("ready")
    assert run.state == "iceOn"
    assert run.wait(minutes=20)[-1].startswith("Time is up")
    run.say("ice off")
    spoken = run.say("no")
    assert "completes one ice round" in spoken[0] and "stretches" in spoken[-1]
    offs = run.records("ice_off")
    assert [o["minutes_on"] for o in offs] == [20, 20] and not any(o["late"] for o in offs)


def test_ice_is_never_left_on_unmentioned_and_late_removal_is_recorded(run):
    run.first_session_to_rest()
    run.ice_on()
    run.wait(minutes=20)
    reminders = run.wait(minutes=4)
    assert len(reminders) == 4
    assert "It has been on 21 minutes" in reminders[0]
    assert reminders[-1].startswith("Important. The ice must come off now")
    run.say("ice is off")
    assert run.records("ice_off")[-1]["late"] is True
    assert run.records("ice_off")[-1]["late_seconds"] == 240


def test_heat_after_72_hours_and_on_request(run):
    run.first_session_to_rest(onset="three days ago")
    run.say("ready")
    assert run.state == "heatReady"
    assert "warm, not hot" in run.memory.last_prompt and "fall asleep" in run.memory.last_prompt
    run.say("ready")
    assert run.wait(minutes=15)[-1].startswith("Time is up. Please take the heat off")
    run.say("done")
    assert run.state == "stretchOffer"
    assert run.records("heat_off") == [{"minutes": 15}]


def test_start_heat_is_honoured_within_72_hours(run):
    run.first_session_to_rest(onset="this morning")
    run.say("start heat")
    assert run.state == "heatReady"


def test_start_heat_waits_for_the_ice_to_come_off(run):
    run.first_session_to_rest()
    run.ice_on()
    assert run.say("start heat") == ["Please take the ice off first."]
    assert run.state == "iceOn"


def test_restart_in_the_middle_of_ice_resumes_the_deadline(run):
    run.first_session_to_rest()
    run.ice_on()
    run.wait(minutes=12)
    spoken = run.restart()
    assert spoken == ["Welcome back.", "Your ice is still on.", "The ice has 8 minutes to go."]
    assert run.state == "iceOn"
    assert run.wait(minutes=7) == ["One minute of ice left."]
    assert run.wait(minutes=1)[0].startswith("Time is up")


def test_a_deadline_passed_while_down_is_handled_at_once(run):
    run.first_session_to_rest()
    run.ice_on()
    run.wait(minutes=5)
    spoken = run.restart(after_minutes=30)
    assert "the ice time ran out. That was about 15 minutes ago." in " ".join(spoken)
    assert not any("to go" in line for line in spoken), spoken  # no time left is told on a timer that ran out
    assert spoken[-1].startswith("Time is up. Take the ice off now.")
    assert run.state == "iceRemove"
    run.say("done")
    assert run.records("ice_off")[-1]["late"] is True


def test_a_deadline_missed_by_a_few_minutes_is_told_exactly(run):
    run.first_session_to_rest()
    run.ice_on()
    run.wait(minutes=5)
    spoken = run.restart(after_minutes=22)
    assert "the ice time ran out. That was 7 minutes ago." in " ".join(spoken)


def test_pause_does_not_stop_the_ice_deadline(run):
    run.first_session_to_rest()
    run.ice_on()
    assert run.say("pause")[0].startswith("Paused")
    assert run.say("ready") == ["I am paused. Say resume to go on."]
    assert run.wait(minutes=20)[-1].startswith("Time is up")
    spoken = run.say("resume")
    assert spoken[0] == "Resuming."


def test_help_and_repeat_work_everywhere_and_time_left_between_questions(run):
    assert "start" in run.say("help")[0]
    assert run.say("how much time is left") == ["No timer is running right now."]
    run.first_session_to_rest()
    assert "ready" in run.say("help")[0]
    assert run.say("repeat") == [run.memory.last_prompt]
    # A question is waiting: it is not heard for now, and the person is told what can be said.
    not_now = run.say("how much time is left")
    assert not_now[0] == "I cannot do that right now." and "ready" in not_now[1]


def test_ending_needs_a_spoken_confirmation(run):
    run.first_session_to_rest()
    assert run.say("cancel") == ["Do you want to end this session? Yes or no."]
    assert run.say("no")[0] == "All right, we carry on."
    assert run.state == "rest"
    run.say("stop")
    closing = run.say("yes")
    assert closing[-1] == "Session ended. Say start when you want me again."
    assert run.keys()[-len(closing):-1] == ["session.stay_active", "session.getting_up", "session.safety_net"]
    assert run.state == "idle"


def test_ending_with_ice_on_still_reminds_at_the_deadline(run):
    run.first_session_to_rest()
    run.ice_on()
    run.wait(minutes=5)
    run.say("stop")
    assert "take the ice off within 15 minutes." in run.say("yes")[-1]
    assert run.wait(minutes=15)[-1].startswith("Time is up. Take the ice off now.")
    run.say("done")
    run.say("no")
    assert run.state == "idle"


def test_not_understood_reprompts_then_offers_help(run):
    run.first_session_to_rest()
    first = run.say("the weather is lovely")
    assert first == ["Sorry, I did not catch that.", "Please say ready, start ice, start heat or stretches."]
    assert run.say("blah blah")[-1] == "Say help to hear what you can say."


def test_silence_reprompts_offers_help_then_pauses_quietly(run):
    run.first_session_to_rest()
    assert run.wait(seconds=20) == ["Please say ready, start ice, start heat or stretches."]
    assert run.wait(seconds=25) == ["Say help to hear what you can say."]
    assert run.wait(minutes=10) == []
    assert run.memory.paused
    assert run.say("resume")[0] == "Resuming."


def test_stretches_count_holds_and_stop_on_pain(run):
    run.first_session_to_rest()
    run.say("stretches")
    assert run.state == "stretchIntro"
    assert "Next stretch: back flattening." in run.say("skip")
    run.say("ready")
    counted = run.wait(seconds=5)
    assert counted[:4] == ["1.", "2.", "3.", "4."] and "And release." in counted
    spoken = run.say("ouch")
    assert spoken[0].startswith("Stop now.") and "No more stretches today" in spoken[0]
    assert run.state == "painAfter", "pain in a stretch means rest, never the next stretch"
    outcomes = [(r["name"], r["outcome"]) for r in run.records("stretch")]
    assert outcomes == [("slow breathing", "skipped"), ("back flattening", "stopped")]


def test_double_knee_only_after_a_comfortable_single_knee(run):
    run.first_session_to_rest()
    run.say("stretches")
    run.say("skip")
    run.say("skip")
    assert "knee rolls" in " ".join(run.say("skip"))
    spoken = run.say("skip")
    assert "leave out both knees to chest" in " ".join(spoken)
    assert run.state == "painAfter"


def test_summary_and_next_round(run):
    run.first_session_to_rest(pain="eight")
    run.ice_round()
    run.say("no")
    run.say("five")
    spoken = run.say("yes")
    assert spoken[0] == "Your pain was 8. Now it is 5."
    assert spoken[1] == "Ice rounds today: 1. Heat sessions today: 0."
    assert spoken[2] == "Your next ice round can start in about 2 hours."
    assert spoken[-2].startswith("Call 1 1 2 at once if you wet or soil yourself")
    assert run.state == "idle"


def test_what_a_slow_voice_renders_ahead_is_what_the_session_says(run):
    """A first session with an ice round, the whole stretch routine and the pain check after, asking for help
    on the way: every sentence it speaks is among those rendered ahead."""
    foreseen = {sentence for text in run.runner.session.foreseeable_texts() for sentence in sentences(text)}
    run.say("help")
    run.first_session_to_rest(pain="seven")
    run.say("help")
    run.ice_round()
    run.say("yes")
    while run.state.startswith("stretch"):
        if run.state == "stretchIntro":
            run.say("ready")
        else:
            run.wait(seconds=5)
    assert run.state == "painAfter"
    run.say("help")
    run.say("four")
    run.say("help")
    run.say("yes")
    said = [(say.key, say.text) for say in run.spoken]
    assert {"session.help", "session.help_between"} <= {key for key, _ in said}
    assert "I heard 7. Is that right?" in [text for _, text in said]
    assert len({key for key, _ in said if key.startswith("session.stretch_")}) >= 6
    assert [(key, sentence) for key, text in said for sentence in sentences(text) if sentence not in foreseen] == []
