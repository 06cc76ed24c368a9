"""The guided relief session: a `transitions` state machine that turns events into effects.

The session is pure. It reads no clock, touches no disk and plays no sound: every
event carries the time it happened, and every consequence comes back as an effect
(say, start or cancel a timer, record a row, listen for these intents) for the
adapters to carry out. So the whole protocol runs the same under a fake clock in
tests, under `--text`, in the demo and with a real microphone.

- `machine`: the states and transitions, declared as data in one place, and what
  each state listens for;
- `screening`, `cold_and_heat`, `stretches`, `progress`: one phase of the protocol
  each, the callbacks the table names; `call_for_help`: alerting a carer, in any state;
- `core`: `Session`, which handles events and puts the phases together;
- `events`, `memory`: the messages in and out, and what is saved after every step.
"""

from voicerelief.session.core import (ALERT_KEYS, COUNTED_FROM_SPEECH_END, DURATION_KEYS, PROMPT_FIELDS, PROMPT_KEYS,
                                     Session)
from voicerelief.session.events import (AdjustVoice, AlertReport, CancelAlert, CancelTimer, Effect, Event, Expect,
                                        NotUnderstood, Quit, Record, Said, Say, SendAlert, SpokeDone, StartTimer,
                                        TimerFired)
from voicerelief.session.machine import QUESTION_STATES, STATE_NAMES, STATES, TRANSITIONS, heard_in_state
from voicerelief.session.memory import Memory

__all__ = [
    "ALERT_KEYS", "COUNTED_FROM_SPEECH_END", "DURATION_KEYS", "PROMPT_FIELDS", "PROMPT_KEYS", "QUESTION_STATES", "STATES",
    "STATE_NAMES", "TRANSITIONS",
    "AdjustVoice", "AlertReport", "CancelAlert", "CancelTimer", "Effect", "Event", "Expect", "Memory",
    "NotUnderstood", "Quit", "Record", "Said", "Say", "SendAlert", "Session", "SpokeDone", "StartTimer", "TimerFired",
    "heard_in_state",
]
