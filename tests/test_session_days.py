"""Day 0 to day 4 of one episode: ice rounds, restarts, downtime past a deadline, then heat after 72 hours."""

from datetime import timedelta

from harness import MONDAY_8AM, Harness


def finish(run: Harness, pain: str) -> list[str]:
    run.say("no")
    run.say(pain)
    return run.say("yes")


def later_session(run: Harness) -> None:
    assert run.say("start")[-2:] == ["First, a quick safety check. Answer yes, no, or maybe.",
                                     "Since we last spoke, any new trouble holding or passing urine or stools?"]
    run.answer_every_safety_question("no")
    run.say("six")
    run.say("yes")
    assert run.state == "rest"


def test_four_days_of_one_episode(tmp_path):
    run = Harness(tmp_path / "data")

    # Day 0, 8:00: the spasm began this morning.
    run.first_session_to_rest(onset="this morning", pain="eight")
    run.ice_round()
    assert finish(run, "six")[0] == "Your pain was 8. Now it is 6."

    # Day 0, 14:00: the program was restarted in the middle of the second session's ice.
    run.wait(minutes=(14 - 9) * 60)
    later_session(run)
    run.ice_on()
    run.wait(minutes=7)
    assert run.restart(after_minutes=1)[-2:] == ["Your ice is still on.", "The ice has 12 minutes to go."]
    run.wait(minutes=12)
    assert run.state == "iceRemove"
    run.say("done")
    run.say("no")
    run.wait(minutes=20)
    run.say("ready")

    # The machine was off for an hour, past the deadline of the second twenty minutes.
    spoken = run.restart(after_minutes=60)
    assert any("ran out" in line for line in spoken)
    assert spoken[-1].startswith("Time is up. Take the ice off now.")
    run.say("done")
    run.say("no")
    assert [r["late"] for r in run.records("ice_off")][-1] is True
    finish(run, "five")

    # Day 1 and day 2: still within 72 hours of the onset, so ice.
    for day in (1, 2):
        run.clock.set(MONDAY_8AM + timedelta(days=day, hours=1))
        later_session(run)
        run.ice_round()
        finish(run, "four")

    # Day 3 at 9:00: 75 hours after a 6:00 onset, heat replaces ice.
    run.clock.set(MONDAY_8AM + timedelta(days=3, hours=1))
    later_session(run)
    run.say("ready")
    assert run.state == "heatReady"
    assert "heat usually helps more than ice" in " ".join(run.say("start ice"))
    run.say("ready")
    run.wait(minutes=15)
    run.say("done")
    assert "Your next heat can start in about" in " ".join(finish(run, "three"))

    # Day 4: heat again, and a restart in the middle of it.
    run.clock.set(MONDAY_8AM + timedelta(days=4, hours=2))
    later_session(run)
    run.say("ready")
    run.say("ready")
    run.wait(minutes=5)
    assert run.restart()[-2:] == ["Your heat is still on.", "The heat has 10 minutes to go."]
    run.wait(minutes=10)
    assert run.state == "heatRemove"

    ice_rounds = run.records("ice_round")
    assert len(ice_rounds) == 4
    assert len(run.records("heat_on")) == 2
    pains = [r["score"] for r in run.records("pain")]
    assert pains[:2] == [8, 6] and pains[-3:] == [6, 3, 6]
    assert all(o["minutes_on"] <= 20 for o in run.records("ice_off") if not o["late"])
