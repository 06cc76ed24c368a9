"""The protocol's state machine, declared as data in one place, and what each state listens for.

The phases (screening, cold and heat, stretches, progress) supply the callbacks the
table names; `heard_in_state` reads the same table to give each state its grammar.
"""

from __future__ import annotations

from typing import Any

from voicerelief.commands import PhraseTable

# ---- the machine, declared as data ---------------------------------------------------

# A question state waits for an answer: silence there re-prompts, then pauses quietly.
STATES: list[dict[str, Any]] = [
    {"name": "boot"},
    {"name": "idle"},
    {"name": "redFlags", "question": True},
    {"name": "urgent"},
    {"name": "onset", "question": True},
    {"name": "painBefore", "question": True},
    {"name": "confirmPainBefore", "question": True},
    {"name": "painWordsBefore", "question": True},
    {"name": "rest", "question": True},
    {"name": "coldOrHeat", "question": True},
    {"name": "iceReady", "question": True},
    {"name": "iceOn"},
    {"name": "iceRemove"},
    {"name": "skinCheck", "question": True},
    {"name": "iceOff"},
    {"name": "heatReady", "question": True},
    {"name": "heatOn"},
    {"name": "heatRemove"},
    {"name": "stretchOffer", "question": True},
    {"name": "stretchIntro", "question": True},
    {"name": "stretchHold"},
    {"name": "stretchRest"},
    {"name": "painAfter", "question": True},
    {"name": "confirmPainAfter", "question": True},
    {"name": "painWordsAfter", "question": True},
]

STRETCH_STATES = ["stretchIntro", "stretchHold", "stretchRest"]
# States from which a new activity (ice, heat, stretches) may be started by name.
BETWEEN_ACTIVITIES = ["rest", "coldOrHeat", "stretchOffer", "painAfter", "iceReady", "heatReady"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "power_on", "source": "boot", "dest": "idle"},
    # Starting: a new episode asks every safety question; a known one asks the short re-check.
    {"trigger": "start", "source": ["idle", "urgent"], "dest": "urgent", "conditions": "episode_is_urgent",
     "after": "remind_urgent"},
    {"trigger": "start", "source": ["idle", "urgent"], "dest": "redFlags", "conditions": "episode_is_known",
     "before": "begin_later_session"},
    {"trigger": "start", "source": ["idle", "urgent"], "dest": "redFlags", "before": "begin_episode"},
    # A red-flag yes (or "not sure") is asked again before it counts; a caution is noted and the questions go on.
    {"trigger": "yes", "source": "redFlags", "dest": None, "prepare": "note_caution",
     "conditions": "answer_needs_confirming", "after": "confirm_red_flag"},
    {"trigger": "unsure", "source": "redFlags", "dest": None, "prepare": "note_caution",
     "conditions": "answer_needs_confirming", "after": "confirm_unsure"},
    {"trigger": ["yes", "unsure", "no"], "source": "redFlags", "dest": None, "conditions": "more_red_flags",
     "after": "ask_next_red_flag"},
    {"trigger": ["yes", "unsure", "no"], "source": "redFlags", "dest": "onset", "conditions": "new_episode"},
    {"trigger": ["yes", "unsure", "no"], "source": "redFlags", "dest": "painBefore"},
    # A confirmed red flag, from any state: no ice, heat or stretches until a new episode.
    {"trigger": "declare_urgent", "source": "*", "dest": "urgent"},
    {"trigger": "onset", "source": "onset", "dest": "painBefore"},
    # Pain before: a certain score is stored, another confirmed; not heard, it is asked again, in words too.
    {"trigger": ["number", "pain_word"], "source": ["painBefore", "painWordsBefore"], "dest": "rest",
     "conditions": "score_is_certain"},
    {"trigger": "number", "source": ["painBefore", "painWordsBefore"], "dest": "confirmPainBefore"},
    {"trigger": "pain_word", "source": "painWordsBefore", "dest": "confirmPainBefore"},
    {"trigger": "pain_unclear", "source": "painBefore", "dest": "painWordsBefore"},
    {"trigger": "no", "source": "confirmPainBefore", "dest": "painWordsBefore", "before": "score_misheard"},
    {"trigger": "number", "source": "confirmPainBefore", "dest": "confirmPainBefore"},
    {"trigger": "yes", "source": "confirmPainBefore", "dest": "rest"},
    # After rest: the choice of ice or heat at the first round; ice in the first days, heat after.
    # Skin still numb or damaged today: neither ice nor heat until tomorrow, stretches instead.
    {"trigger": "next", "source": "rest", "dest": "stretchOffer", "conditions": "skin_rests_today",
     "before": "explain_skin_rest"},
    {"trigger": "next", "source": "rest", "dest": "coldOrHeat", "conditions": ["ice_allowed", "first_round"]},
    {"trigger": "next", "source": "rest", "dest": "iceReady", "conditions": ["ice_allowed", "ice_chosen"]},
    {"trigger": "next", "source": "rest", "dest": "heatReady"},
    {"trigger": ["start_ice", "start_heat"], "source": BETWEEN_ACTIVITIES, "dest": "stretchOffer",
     "conditions": "skin_rests_today", "before": "explain_skin_rest"},
    {"trigger": "start_ice", "source": BETWEEN_ACTIVITIES, "dest": "iceReady", "conditions": "ice_allowed"},
    {"trigger": "start_ice", "source": BETWEEN_ACTIVITIES, "dest": "heatReady", "after": "explain_no_ice"},
    {"trigger": "start_heat", "source": BETWEEN_ACTIVITIES, "dest": "heatReady"},
    {"trigger": "stretches", "source": BETWEEN_ACTIVITIES, "dest": "painAfter", "conditions": "no_safe_stretch",
     "before": "explain_no_stretches"},
    {"trigger": "stretches", "source": BETWEEN_ACTIVITIES, "dest": "stretchIntro", "before": "begin_routine"},
    # The ice round: on, remove, skin check, off, on again, remove, skin check.
    {"trigger": ["next", "yes"], "source": "iceReady", "dest": "iceOn"},
    {"trigger": "skip", "source": "iceReady", "dest": "stretchOffer", "before": "skin_still_numb"},
    {"trigger": "ice_due", "source": "*", "dest": "iceRemove"},
    {"trigger": "ice_off", "source": ["iceOn", "iceRemove"], "dest": "skinCheck"},
    {"trigger": "next", "source": "iceRemove", "dest": "skinCheck"},
    {"trigger": "yes", "source": "skinCheck", "dest": "idle", "conditions": "session_closed",
     "before": "stop_cold_for_today"},
    {"trigger": "yes", "source": "skinCheck", "dest": "stretchOffer", "before": "stop_cold_for_today"},
    {"trigger": "no", "source": "skinCheck", "dest": "idle", "conditions": "session_closed"},
    {"trigger": "no", "source": "skinCheck", "dest": "iceOff", "conditions": "first_ice_part"},
    {"trigger": "no", "source": "skinCheck", "dest": "stretchOffer", "before": "finish_ice_round"},
    {"trigger": "ice_back", "source": "iceOff", "dest": "iceReady"},
    # Heat.
    {"trigger": ["next", "yes"], "source": "heatReady", "dest": "heatOn"},
    {"trigger": "heat_due", "source": "heatOn", "dest": "heatRemove"},
    {"trigger": ["next", "ice_off"], "source": ["heatOn", "heatRemove"], "dest": "stretchOffer",
     "before": "finish_heat"},
    # Stretches.
    {"trigger": "yes", "source": "stretchOffer", "dest": "painAfter", "conditions": "no_safe_stretch",
     "before": "explain_no_stretches"},
    {"trigger": "yes", "source": "stretchOffer", "dest": "stretchIntro", "before": "begin_routine"},
    {"trigger": "no", "source": "stretchOffer", "dest": "painAfter"},
    {"trigger": ["next", "yes"], "source": "stretchIntro", "dest": "stretchHold"},
    {"trigger": ["hold_end", "next"], "source": "stretchHold", "dest": "stretchRest", "conditions": "more_reps"},
    {"trigger": ["hold_end", "next"], "source": "stretchHold", "dest": "stretchIntro",
     "conditions": "advance_stretch", "before": "finish_stretch"},
    {"trigger": ["hold_end", "next"], "source": "stretchHold", "dest": "painAfter",
     "before": ["finish_stretch", "finish_routine"]},
    {"trigger": ["rest_end", "next"], "source": "stretchRest", "dest": "stretchHold"},
    {"trigger": "skip", "source": STRETCH_STATES, "dest": "stretchIntro",
     "conditions": "advance_stretch", "before": "skip_stretch"},
    {"trigger": "skip", "source": STRETCH_STATES, "dest": "painAfter", "before": ["skip_stretch", "finish_routine"]},
    # Pain in a stretch ends the stretches for the day: back to rest, then the pain check.
    {"trigger": "hurts", "source": STRETCH_STATES, "dest": "painAfter", "before": "stop_routine"},
    # Pain after, the same way, then the summary.
    {"trigger": ["number", "pain_word"], "source": ["painAfter", "painWordsAfter"], "dest": "idle",
     "conditions": "score_is_certain", "before": "summarize"},
    {"trigger": "number", "source": ["painAfter", "painWordsAfter"], "dest": "confirmPainAfter"},
    {"trigger": "pain_word", "source": "painWordsAfter", "dest": "confirmPainAfter"},
    {"trigger": "pain_unclear", "source": "painAfter", "dest": "painWordsAfter"},
    {"trigger": "no", "source": "confirmPainAfter", "dest": "painWordsAfter", "before": "score_misheard"},
    {"trigger": "number", "source": "confirmPainAfter", "dest": "confirmPainAfter"},
    {"trigger": "yes", "source": "confirmPainAfter", "dest": "idle", "before": "summarize"},
    # Ending on request (after a spoken confirmation).
    {"trigger": "end_session", "source": "*", "dest": "idle"},
]


QUESTION_STATES = frozenset(state["name"] for state in STATES if state.get("question"))
# Triggers that come from timers and the session itself, never from the person.
INTERNAL_TRIGGERS = frozenset({"power_on", "ice_due", "ice_back", "heat_due", "hold_end", "rest_end", "end_session",
                               "declare_urgent", "pain_unclear"})
# Where a pain score is asked as a number: nothing understood there, the question is asked again, in words too.
PAIN_QUESTIONS = frozenset({"painBefore", "painAfter"})
PAIN_WORD_QUESTIONS = frozenset({"painWordsBefore", "painWordsAfter"})
# Said where nothing is under way, each of these starts a session.
STARTING_INTENTS = frozenset({"start", "start_ice", "start_heat", "stretches"})
# Intents a state answers without a transition of its own: starting from idle, "take the ice
# off first" while it is on, and "stop" during a stretch, which means it hurts.
ANSWERED_IN_STATE = {
    "idle": STARTING_INTENTS, "urgent": STARTING_INTENTS,
    "iceOn": frozenset({"start_heat", "stretches"}), "iceRemove": frozenset({"start_heat", "stretches"}),
    **{state: frozenset({"hurts"}) for state in STRETCH_STATES},
}
STATE_NAMES = tuple(state["name"] for state in STATES if state["name"] != "boot")


def heard_in_state(state: str, table: PhraseTable, paused: bool = False) -> frozenset[str]:
    """The intents a state acts on, read from the transition table, and those heard everywhere."""
    triggers = {transition["trigger"] for transition in one_trigger_each(TRANSITIONS)
                if _includes(transition["source"], state)} - INTERNAL_TRIGGERS
    triggers |= ANSWERED_IN_STATE.get(state, frozenset())
    heard = triggers | table.always
    if state not in QUESTION_STATES:
        heard |= table.between_questions | {"wake"}
    if paused:
        heard.add("resume")
    return frozenset(heard)


def _includes(source: str | list[str], state: str) -> bool:
    return source == "*" or source == state or (isinstance(source, list) and state in source)


def one_trigger_each(transitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table allows a list of triggers for one transition; `transitions` wants one each."""
    expanded = []
    for transition in transitions:
        triggers = transition["trigger"]
        for trigger in triggers if isinstance(triggers, list) else [triggers]:
            expanded.append({**transition, "trigger": trigger})
    return expanded
