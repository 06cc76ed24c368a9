"""Random sequences of what a person might say, and of time passing, against the session's promises."""

import tempfile
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import Harness
from voicerelief.commands import load_phrase_table

TABLE = load_phrase_table()
FIRST_PHRASES = sorted({TABLE.phrases_for(intent.name)[0] for intent in TABLE.phrases.values()
                        if intent.name not in ("number", "onset")})
PHRASES = FIRST_PHRASES + ["zero", "six", "ten", "yesterday", "three days ago", "the kettle boiled"]
WAITS = [1, 5, 20, 60, 300, 600, 1200, 3600, 6 * 3600, 30 * 3600]

steps = st.lists(st.one_of(st.tuples(st.just("say"), st.sampled_from(PHRASES)),
                           st.tuples(st.just("wait"), st.sampled_from(WAITS))),
                 min_size=1, max_size=60)


def _ice_is_watched(run: Harness) -> None:
    """Ice on past its deadline always has a removal prompt spoken since it went on."""
    memory = run.memory
    if not memory.ice_due or run.clock.now() <= datetime.fromisoformat(memory.ice_due):
        return
    since_on = [say.key for say in run.spoken[run.ice_on_at:]]
    assert "session.ice_remove" in since_on, "ice past 20 minutes without a removal prompt"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["new", "resting", "ice on"]), steps)
def test_random_use_keeps_every_promise(start, sequence):
    with tempfile.TemporaryDirectory() as folder:
        run = Harness(Path(folder))
        run.ice_on_at = 0
        if start != "new":
            run.first_session_to_rest()
        if start == "ice on":
            run.ice_on()
        urgent_episode = None
        for kind, value in sequence:
            state_before = run.state
            confirming_flag, flag_said = run.memory.confirming_flag, run.memory.flag_said
            before = len(run.spoken)
            if kind == "say":
                run.say(value)
            else:
                run.wait(seconds=value)
            new = run.spoken[before:]
            if any(say.key == "session.ice_on" for say in new):
                run.ice_on_at = before
            _ice_is_watched(run)
            if kind == "say" and value in ("help", "repeat", "stop"):
                assert new, f"{value!r} got no answer in {state_before}"
            if kind == "say" and value == "emergency":
                assert {"session.emergency_confirm", "session.urgent_again_emergency"} & {say.key for say in new}, \
                    f"emergency unheard in {state_before}"
            if run.state == "urgent" and state_before != "urgent" and run.memory.episode != urgent_episode:
                # Only a spoken confirmation locks an episode, never one misheard word; or silence after an
                # emergency said at any moment, from someone who may not be able to answer.
                assert confirming_flag and ((kind == "say" and value == "yes") or (kind == "wait" and flag_said)), \
                    (state_before, kind, value)
                urgent_episode = run.memory.episode
            if urgent_episode is not None and run.memory.episode == urgent_episode:
                assert run.state in ("urgent", "idle") or run.memory.confirming_end, run.state
        if urgent_episode is not None:
            # In the order written (the fake clock may not move between them): no guidance after the lock.
            events = [e for e in run.store.events(["ice_on", "heat_on", "stretch", "red_flag"]) if e[1] == urgent_episode]
            lock = next(i for i, e in enumerate(events)
                        if e[2] == "red_flag" and e[3]["answer"] in ("yes", "not sure", "no answer"))
            assert not any(e[2] != "red_flag" for e in events[lock:])
