"""Far-field sweep: the settings tried after the front end was chosen, each beside today's, in the same run.

The bench room (bedroom, 2 m, 0.5 s, 15 dB) by default. Each candidate changes one
thing of today's listening and decodes every recording of ``../shared/data``
through the voice gate and a fresh recognizer with the state's grammar, as
``bench/far_field.py`` does: the decoder's search (beam, active states, acoustic
scale, through ``recognizer.load_model``'s decoder options), the lattice kept for
confidences (``commands.toml``, ``lattice_beam``), the level the
normaliser raises speech to, the gate's pre-roll, and a high-pass filter on the
microphone's audio. The first row is today's settings.

Run: .venv/bin/python bench/far_field_sweep.py [--room NAME]; in the bedroom (the default) it writes
bench/results/far_field_sweep.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from far_field import CLOSE_UP, CONTEXTS, GROUP_NAMES, _percent, heard_in
from stamp import published
from voicerelief.evaluation import real_samples, shared_data_dir
from voicerelief.front_end import LevelSettings
from voicerelief.rooms import ROOMS
from voicerelief.voice_gate import GateSettings, VoiceGate

BEDROOM = "bedroom, 2 m"


@dataclass(frozen=True)
class Candidate:
    table: dict[str, object] = field(default_factory=dict)
    decoder: dict[str, str] = field(default_factory=dict)
    level: dict[str, float] = field(default_factory=dict)
    gate: dict[str, float] = field(default_factory=dict)
    high_pass_hz: float | None = None


CANDIDATES = {
    "today": Candidate(),
    "the model's own lattice beam (2; today 4)": Candidate(table={"lattice_beam": None}),
    "wider search (beam 13, 7000 active)": Candidate(decoder={"--beam": "13.0", "--max-active": "7000"}),
    "acoustic scale 0.8": Candidate(decoder={"--acoustic-scale": "0.8"}),
    "acoustic scale 1.2": Candidate(decoder={"--acoustic-scale": "1.2"}),
    "speech raised to -12 dBFS peak (today -17)": Candidate(level={"target_peak_dbfs": -12.0}),
    "speech raised to -22 dBFS peak": Candidate(level={"target_peak_dbfs": -22.0}),
    "gain at most 20 dB (today 30)": Candidate(level={"max_gain_db": 20.0}),
    "pre-roll 1.0 s (today 0.5)": Candidate(gate={"pre_roll_seconds": 1.0}),
    "high-pass 100 Hz": Candidate(high_pass_hz=100.0),
    "high-pass 200 Hz": Candidate(high_pass_hz=200.0),
}


def measure(name: str, room_name: str) -> dict[str, list[int]]:
    """Runs in a worker: one candidate, every recording, both states."""
    from voicerelief.commands import load_phrase_table
    from voicerelief.models import find_model
    from voicerelief.recognizer import CommandRecognizer, load_model
    from voicerelief.session import heard_in_state

    candidate = CANDIDATES[name]
    room = next((room for room in ROOMS if room.name == room_name), None)
    table = replace(load_phrase_table(), **candidate.table)
    model = load_model(find_model(), table, candidate.decoder)
    heard_here = {context: heard_in_state(state, table) for context, state in CONTEXTS.items()}
    grammars = {context: table.restricted_to(intents) for context, intents in heard_here.items()}
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for seed, sample in enumerate(real_samples(shared_data_dir())):
        stream, rate = heard_in(room, sample, seed)
        if candidate.high_pass_hz is not None:
            stream = _high_passed(stream, rate, candidate.high_pass_hz)
        for context, intents in heard_here.items():
            if sample.expected is not None and sample.expected.name not in intents:
                continue
            recognizer = CommandRecognizer(model, grammars[context], rate,
                                           VoiceGate(rate, GateSettings(**candidate.gate)),
                                           LevelSettings(**candidate.level))
            heard = recognizer.recognize_stream(stream)
            counts = tally[f"{context}|{sample.group}"]
            counts[0] += heard.intent == sample.expected
            counts[1] += 1
    return dict(tally)


def _high_passed(stream: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sections = butter(2, cutoff_hz, "highpass", fs=rate, output="sos")
    return np.clip(np.round(sosfilt(sections, stream.astype(np.float64))), -32768, 32767).astype(np.int16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--room", default=BEDROOM, choices=[CLOSE_UP] + [room.name for room in ROOMS])
    args = parser.parse_args()
    if not shared_data_dir().is_dir():
        sys.exit(f"The shared recordings are not at {shared_data_dir()}; this bench needs them.")
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = dict(zip(CANDIDATES, pool.map(measure, CANDIDATES, [args.room] * len(CANDIDATES))))
    columns = [(context, group) for context in CONTEXTS for group in GROUP_NAMES
               if f"{context}|{group}" in results["today"] and group != "silence"]
    lines = [f"Far-field sweep, {args.room}: every recording of ../shared/data, {time.perf_counter() - started:.0f} s.",
             "", "| candidate | " + " | ".join(f"{context}: {GROUP_NAMES[group]}" for context, group in columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    for name, tally in results.items():
        lines.append(f"| {name} | " + " | ".join(_percent(tally[f'{context}|{group}']) for context, group in columns)
                     + " |")
    with published("far_field_sweep", {"room": args.room}, save=args.room == BEDROOM) as figures:
        figures.update(results)
        print("\n".join(lines))


if __name__ == "__main__":
    main()
