"""What the ways of asking for help cost: each state's grammar with and without the phrases added for issue 25.

The phrases a person in trouble is likely to say ("call for help", "I need help", "call an
ambulance", "my legs are numb") are heard in every state. Each is in every state's grammar, so
it can take other answers. "Help me" was tried too and left out: its column shows why. This bench decodes the shared recordings close up and
across a bedroom (2 m, the seeded room of ``bench/far_field.py``) through the real gate, level
normaliser and recognizer with each state's grammar, once without those phrases and once with
them, in the same run; and the phrases themselves, synthesized by espeak-ng, through the grammar
that has them.

A full run writes bench/results/help_phrases.json (stamped with the commit).
Run: .venv/bin/python bench/help_phrases.py [--every N]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from stamp import published
from voicerelief.commands import Intent, PhraseTable, load_phrase_table
from voicerelief.evaluation import generated_samples, real_samples, shared_data_dir

ADDED = ("call for help", "i need help", "call an ambulance", "my legs are numb")
# Tried and left out of the table: measured here beside the rest, in a third grammar.
REFUSED = {"help me": "call_help"}
CONTEXTS = {"pain question": "painBefore", "yes/no question": "redFlags", "stretch control": "stretchHold",
            "idle": "idle"}
CONDITIONS = ("close-up", "bedroom, 2 m")


def without_added(table: PhraseTable) -> PhraseTable:
    return replace(table, phrases={text: intent for text, intent in table.phrases.items() if text not in ADDED})


def with_refused(table: PhraseTable) -> PhraseTable:
    return replace(table, phrases={**table.phrases, **{text: Intent(name) for text, name in REFUSED.items()}})


def measure(condition: str, every: int) -> dict:
    """Runs in a worker: every state's grammar, without and with the added phrases, in one room."""
    from far_field import heard_in

    from voicerelief.front_end import LevelSettings
    from voicerelief.models import find_model
    from voicerelief.recognizer import CommandRecognizer, load_model
    from voicerelief.rooms import ROOMS
    from voicerelief.session import heard_in_state
    from voicerelief.voice_gate import GateSettings, VoiceGate

    table = load_phrase_table()
    model = load_model(find_model(), table)
    room = next((room for room in ROOMS if room.name == condition), None)
    samples = list(real_samples(shared_data_dir()))[::every]
    tallies: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for seed, sample in enumerate(samples):
        stream, rate = heard_in(room, sample, seed)
        for context, state in CONTEXTS.items():
            heard = heard_in_state(state, table)
            if sample.expected is not None and sample.expected.name not in heard:
                continue
            for version, grammar in (("without", without_added(table)), ("with", table),
                                     ("refused", with_refused(table))):
                recognizer = CommandRecognizer(model, grammar.restricted_to(heard), rate, VoiceGate(rate, GateSettings()),
                                               LevelSettings())
                result = recognizer.recognize_stream(stream)
                tally = tallies[f"{context}|{sample.group}|{version}"]
                tally[0] += result.intent == sample.expected
                tally[1] += 1
    return dict(tallies)


def added_phrases_heard() -> dict[str, list[int]]:
    """The added phrases, synthesized (two voices, two rates, clean and in noise), in each state's grammar that has
    them (the pain question leaves out "call for help" and "i need help": commands.toml, listening.not_with_numbers)."""
    from voicerelief.models import find_model
    from voicerelief.recognizer import FileRecognizer, load_model
    from voicerelief.session import heard_in_state

    table = load_phrase_table()
    model = load_model(find_model(), table)
    samples = [s for s in generated_samples(table) if s.group == "phrases" and s.name.split(" [")[0] in ADDED]
    tallies: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for context, state in CONTEXTS.items():
        grammar = table.restricted_to(heard_in_state(state, table))
        recognizer = FileRecognizer(model, grammar)
        for sample in (s for s in samples if s.name.split(" [")[0] in grammar.phrases):
            heard, _ = recognizer.recognize(sample.load())
            tally = tallies[context]
            tally[0] += heard.intent == sample.expected
            tally[1] += 1
    return dict(tallies)


def _percent(pair: list[int]) -> str:
    return f"{pair[0] / pair[1] * 100:.1f}% ({pair[0]}/{pair[1]})" if pair[1] else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--every", type=int, default=1, help="every Nth recording only")
    args = parser.parse_args()
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        rooms = dict(zip(CONDITIONS, pool.map(measure, CONDITIONS, [args.every] * len(CONDITIONS))))
    added = added_phrases_heard()
    lines = [f"Help phrases bench: the shared recordings (every {args.every}) in each state's grammar without and "
             f"with {', '.join(repr(p) for p in ADDED)}; {time.perf_counter() - started:.0f} s.", "",
             "| condition | state | recordings | without the added phrases | with them (now) | "
             f"with {', '.join(repr(p) for p in REFUSED)} too |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for condition, tallies in rooms.items():
        for context in CONTEXTS:
            groups = sorted({key.split("|")[1] for key in tallies if key.startswith(context + "|")})
            for group in groups:
                lines.append(f"| {condition} | {context} | {group} | {_percent(tallies[f'{context}|{group}|without'])}"
                             f" | {_percent(tallies[f'{context}|{group}|with'])}"
                             f" | {_percent(tallies[f'{context}|{group}|refused'])} |")
    lines += ["", "The added phrases themselves (espeak-ng, 2 voices x 2 rates, clean and at 10 dB SNR), per state:", "",
              "| state | heard right |", "| --- | ---: |"]
    lines += [f"| {context} | {_percent(pair)} |" for context, pair in added.items()]
    settings = {"every": args.every, "added": list(ADDED), "refused": list(REFUSED)}
    with published("help_phrases", settings, save=args.every == 1) as figures:
        figures.update({"rooms": rooms, "added_phrases": added})
        print("\n".join(lines))


if __name__ == "__main__":
    main()
