"""Every sentence the assistant says is known before it is needed, so a slow voice can have it ready (issue 29)."""

from __future__ import annotations

from datetime import timedelta

from harness import MONDAY_8AM, Harness
from test_session_days import finish, later_session
from voicerelief.app import known_ahead, load_content
from voicerelief.carers import Carer
from voicerelief.natural_voice import sentences


def test_every_sentence_of_a_whole_episode_was_known_ahead(tmp_path):
    content = load_content(carers=(Carer("Sam", "json://127.0.0.1:1/"),))
    known = {sentence for text in known_ahead(content) for sentence in sentences(text)}
    run = Harness(tmp_path / "data", content=content)
    run.say("help")
    run.say("help")
    run.first_session_to_rest(onset="this morning", pain="eight")
    run.ice_on()
    run.wait(minutes=7, seconds=20)
    run.say("how much time is left")
    run.restart(after_minutes=3)
    run.restart(after_minutes=30)
    run.say("done")
    run.say("no")
    run.wait(minutes=4, seconds=50)
    run.say("time left")
    run.restart(after_minutes=2)
    run.wait(minutes=15)
    run.say("ready")
    run.wait(minutes=20)
    run.say("ice off")
    run.say("no")
    run.say("yes")
    run.say("skip")
    run.say("ready")
    run.say("ouch")
    finish(run, "six")
    run.say("how am i doing")
    run.clock.set(MONDAY_8AM + timedelta(days=3, hours=2))
    later_session(run)
    run.say("ready")
    run.say("ready")
    run.wait(minutes=6)
    run.say("time left")
    run.restart(after_minutes=1)
    run.wait(minutes=9)
    run.say("done")
    finish(run, "three")
    run.say("how am i doing")
    run.say("get help")
    run.say("cancel")
    run.say("get help")
    run.wait(seconds=10)
    run.until_said("I cannot reach the alert service")
    run.restart(after_minutes=12)
    run.say("cancel")
    run.close()

    said = [sentence for spoken in run.spoken for sentence in sentences(spoken.text)]
    assert len(said) > 150
    assert [sentence for sentence in said if sentence not in known] == []
