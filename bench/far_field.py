"""Far-field bench: the shared recordings as heard across a bedroom, per state, before and now.

Every recording of ``../shared/data`` is placed in each simulated room
(``voicerelief.rooms``: image-source model, seeded placements, pink room noise)
and streamed, as a microphone would, through the voice gate and a fresh
recognizer with the grammar of one state: the red-flag question (yes/no) and
the pain question (0-10). The close-up rows are today's measurement (the
recording itself in quiet room noise, ``evaluation.in_room``). In the same run,
each is decoded as before this bench (the gate's old absolute threshold, no
front end), with today's gate and the level normaliser (``voicerelief.front_end``)
off, with both but the decoys that sound like digits kept in the pain question,
with those decoys left out there but the model's own narrow lattice (beam 2) for
confidences, and now (the wider lattice of ``commands.toml``); and the voice gate's
misses are counted with the old and the new threshold.

Run: .venv/bin/python bench/far_field.py [--every N]; a full run writes bench/results/far_field.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from voicerelief.commands import load_phrase_table
from voicerelief.evaluation import Sample, in_room, real_samples, shared_data_dir
from voicerelief.front_end import LevelSettings
from voicerelief.recognizer import BLOCK_SECONDS
from voicerelief.rooms import ROOMS, RATE, Room, far_field, impulse_response, measured_rt60
from voicerelief.voice_gate import GateSettings, VoiceGate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stamp import published  # noqa: E402

CONTEXTS = {"yes/no question": "redFlags", "pain question": "painBefore"}
CLOSE_UP = "close-up (today's measurement)"
GROUP_NAMES = {"yes/no/stop": "yes/no/stop", "digits": "pain scores", "unknown": "other words rejected",
               "silence": "noise rejected"}
# The gate before this bench: its absolute threshold then, and its margin before 2026-11-27.
GATE_BEFORE = replace(GateSettings(), margin_db=9.0, min_threshold_dbfs=-58.0)
# (gate, level normaliser, decoys that sound like digits kept in the pain question, the wider lattice): as before
# this bench, today's gate alone, today's gate with the front end but those decoys kept, those decoys left out but
# the model's own lattice, and now.
VERSIONS = {"before": (GATE_BEFORE, None, True, False), "gate": (GateSettings(), None, True, False),
            "decoys": (GateSettings(), LevelSettings(), True, False),
            "lattice": (GateSettings(), LevelSettings(), False, False),
            "now": (GateSettings(), LevelSettings(), False, True)}


def measure(condition: str, every: int) -> dict:
    """Runs in a worker: every context and front end for one room (or close up)."""
    from voicerelief.models import find_model
    from voicerelief.recognizer import CommandRecognizer, load_model
    from voicerelief.session import heard_in_state

    table = load_phrase_table()
    models = {wider: load_model(find_model(), table if wider else replace(table, lattice_beam=None))
              for wider in (False, True)}
    room = next((room for room in ROOMS if room.name == condition), None)
    samples = list(real_samples(shared_data_dir()))[::every]
    # Each state's grammar with the decoys that sound like digits kept (True) and as now (False).
    grammars = {(context, keep): replace(table, not_with_numbers=frozenset() if keep else table.not_with_numbers)
                .restricted_to(heard_in_state(state, table))
                for context, state in CONTEXTS.items() for keep in (True, False)}
    correct: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    misses: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for seed, sample in enumerate(samples):
        stream, rate = heard_in(room, sample, seed)
        for context, state in CONTEXTS.items():
            heard_here = heard_in_state(state, table)
            if sample.expected is not None and sample.expected.name not in heard_here:
                continue
            for version, (gate, level, keep_decoys, wider) in VERSIONS.items():
                heard = CommandRecognizer(models[wider], grammars[(context, keep_decoys)], rate, VoiceGate(rate, gate),
                                          level).recognize_stream(stream)
                tally = correct[(context, version)][sample.group]
                tally[0] += heard.intent == sample.expected
                tally[1] += 1
        if sample.expected is not None:
            for gate_name, settings in (("before", GATE_BEFORE), ("now", GateSettings())):
                misses[gate_name][0] += not _gate_opens(stream, rate, settings)
                misses[gate_name][1] += 1
    return {"correct": {f"{context}|{version}": dict(groups) for (context, version), groups in correct.items()},
            "gate_misses": dict(misses)}


def heard_in(room: Room | None, sample: Sample, seed: int) -> tuple[np.ndarray, int]:
    """A recording as the microphone streams it: in the room (or, for None, close up in quiet room noise)."""
    speech = sample.load()
    if room is None:
        return in_room(speech, seed), speech.rate
    return far_field(speech.samples, speech.rate, room, seed), RATE


def _gate_opens(stream, rate: int, settings: GateSettings) -> bool:
    gate = VoiceGate(rate, settings)
    block = int(rate * BLOCK_SECONDS)
    for start in range(0, len(stream), block):
        gate.admit(stream[start:start + block].tobytes())
    return gate.blocks_passed > 0


def _percent(pair: list[int]) -> str:
    right, total = pair
    return f"{100 * right / total:.1f}% ({right}/{total})" if total else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--every", type=int, default=1, help="use every Nth recording only (quicker)")
    args = parser.parse_args()
    if not shared_data_dir().is_dir():
        sys.exit(f"The shared recordings are not at {shared_data_dir()}; this bench needs them.")
    started = time.perf_counter()
    conditions = [CLOSE_UP] + [room.name for room in ROOMS]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = dict(zip(conditions, pool.map(measure, conditions, [args.every] * len(conditions))))
    lines = [f"Far-field bench: {len(list(real_samples(shared_data_dir()))[::args.every])} recordings of "
             f"../shared/data per condition, {time.perf_counter() - started:.0f} s.", ""]
    lines.append("| room | reverberation (measured) | speech over noise |")
    lines.append("| --- | ---: | ---: |")
    for room in ROOMS:
        rt60 = [measured_rt60(impulse_response(room, position)) for position in range(4)]
        lines.append(f"| {room.name} | {min(rt60):.2f}-{max(rt60):.2f} s (aimed {room.rt60_seconds} s) "
                     f"| {room.snr_db:.0f} dB |")
    lines += ["", "Correct, per state: as before (gate threshold -58 dBFS, no front end), with today's gate and "
              "the front end off, with the level normaliser on but the decoys that sound like digits kept in the "
              "pain question, with those decoys left out there but the model's own lattice (beam 2) for "
              "confidences, and now (lattice beam 4).", "",
              "| condition | state | recordings | before | front end off | digit-like decoys kept | lattice beam 2 "
              "| now |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for condition in conditions:
        for context in CONTEXTS:
            scores = {version: results[condition]["correct"][f"{context}|{version}"] for version in VERSIONS}
            for group, name in GROUP_NAMES.items():
                if group in scores["now"]:
                    cells = " | ".join(_percent(scores[version][group]) for version in VERSIONS)
                    lines.append(f"| {condition} | {context} | {name} | {cells} |")
    lines += ["", "Voice gate misses on commands (the gate never opened), by its absolute threshold: "
              f"before ({GATE_BEFORE.min_threshold_dbfs:.0f} dBFS) and now ({GateSettings().min_threshold_dbfs:.0f} dBFS).",
              "", "| condition | before | now |", "| --- | ---: | ---: |"]
    for condition in conditions:
        misses = results[condition]["gate_misses"]
        lines.append(f"| {condition} | {_percent(misses['before'])} | {_percent(misses['now'])} |")
    with published("far_field", {"every": args.every}, save=args.every == 1) as figures:
        figures.update(results)
        print("\n".join(lines))


if __name__ == "__main__":
    main()
