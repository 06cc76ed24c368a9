"""Voice gate benchmark: recognition with and without the gate, on the same streams.

Every recording is placed in room noise (1.5 s before, 1 s after; see
``evaluation.in_room``) and streamed in 0.1 s blocks, as the microphone
delivers it, through: no gate (the baseline), the gate, and the gate without
its pre-roll (to show what the pre-roll is for). Prints accuracy by group and
the share of the audio each one decoded.

Run: .venv/bin/python bench/gate.py [--quick]; a full run writes bench/results/gate.json.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from voicerelief.commands import load_phrase_table
from voicerelief.evaluation import compare_gates, generated_samples, real_samples, shared_data_dir
from voicerelief.models import find_model
from voicerelief.recognizer import load_model
from voicerelief.voice_gate import GateSettings, VoiceGate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stamp import published  # noqa: E402

GATES = {
    "no gate (baseline)": lambda rate: None,
    "voice gate": VoiceGate,
    "voice gate, 9 dB margin (before)": lambda rate: VoiceGate(rate, GateSettings(margin_db=9.0)),
    "voice gate, no pre-roll": lambda rate: VoiceGate(rate, GateSettings(pre_roll_seconds=0.0)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="only the first 200 generated samples")
    args = parser.parse_args()
    table = load_phrase_table()
    model = load_model(find_model(), table)
    sets = {"generated": itertools.islice(generated_samples(table), 200 if args.quick else None)}
    if (shared_data_dir() / "speech-commands-dev").is_dir():
        sets = {"shared/data": real_samples(shared_data_dir()), **sets}
    with published("gate", {"quick": args.quick, "sets": list(sets)}, save=not args.quick) as figures:
        print("| recordings | group | " + " | ".join(GATES) + " |")
        print("| --- | --- |" + " ---: |" * len(GATES))
        for set_name, samples in sets.items():
            runs = compare_gates(model, table, samples, GATES)
            groups = sorted(runs[next(iter(GATES))].scores, key=lambda g: (g == "all", g))
            for group in groups:
                cells = []
                for name in GATES:
                    score = runs[name].scores[group]
                    cells.append(f"{score.rate * 100:.1f}% ({score.correct}/{score.total})")
                    figures.setdefault(set_name, {}).setdefault(name, {})[group] = [score.correct, score.total]
                print(f"| {set_name} | {group} | " + " | ".join(cells) + " |")
            decoded = [f"{runs[name].blocks_passed / runs[name].blocks_seen * 100:.0f}%" for name in GATES]
            print(f"| {set_name} | share of audio decoded | " + " | ".join(decoded) + " |")


if __name__ == "__main__":
    main()
