"""Recognition benchmark: vosk (our recognizer) beside pocketsphinx with an equivalent grammar.

Each engine runs in its own process, so model load time and peak RSS are its own.
Both see the same recordings and are scored by the same exact match against the
phrase table.

Then vosk alone, per state context: each state's own grammar beside the single
grammar of every phrase used before (the phrase table of `baseline.py`'s version), on the
recordings a state can hear (its commands, and everything that must be rejected).

Run: .venv/bin/python bench/recognize.py [--quick]; a full run writes bench/results/recognize.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr

from baseline import baseline_source
from stamp import published
from voicerelief.audio_file import Speech
from voicerelief.commands import PhraseTable, load_phrase_table
from voicerelief.evaluation import generated_samples, real_samples, scores_by_group, shared_data_dir
from voicerelief.recognizer import LEAD_SILENCE_SECONDS, TRAIL_SILENCE_SECONDS

ENGINES = ("vosk", "pocketsphinx")


@dataclass
class Tally:
    accepted_right: int = 0
    commands: int = 0
    rejected: int = 0
    others: int = 0
    audio_seconds: float = 0.0
    decode_seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    one_second_ms: list[float] = field(default_factory=list)


class VoskEngine:
    def __init__(self, table: PhraseTable) -> None:
        from voicerelief.models import find_model
        from voicerelief.recognizer import FileRecognizer, load_model

        self._recognizer = FileRecognizer(load_model(find_model(), table), table)

    def decode(self, speech: Speech):
        heard, _ = self._recognizer.recognize(speech)
        return heard.intent


class PocketsphinxEngine:
    """The same phrases and decoys as a JSGF grammar; pocketsphinx has no unknown-word token."""

    def __init__(self, table: PhraseTable) -> None:
        from pocketsphinx import Decoder

        self._table = table
        self._decoder = Decoder(samprate=16000, lm=None, logfn="/dev/null")
        usable = [entry for entry in table.grammar()[:-1]
                  if all(self._decoder.lookup_word(word) for word in entry.split())]
        self.dropped = len(table.grammar()) - 1 - len(usable)
        self._decoder.add_jsgf_string("commands", "#JSGF V1.0;\ngrammar commands;\npublic <command> = "
                                      + " | ".join(usable) + ";")
        self._decoder.activate_search("commands")

    def decode(self, speech: Speech):
        samples = speech.samples
        if speech.rate != 16000:
            samples = (soxr.resample(samples.astype(np.float32) / 32768, speech.rate, 16000) * 32767).astype(np.int16)
        padded = np.concatenate([np.zeros(int(16000 * LEAD_SILENCE_SECONDS), np.int16), samples,
                                 np.zeros(int(16000 * TRAIL_SILENCE_SECONDS), np.int16)])
        self._decoder.start_utt()
        self._decoder.process_raw(padded.tobytes(), full_utt=True)
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        return self._table.match(hypothesis.hypstr) if hypothesis else None


def measure(engine_name: str, quick: bool) -> dict:
    """Runs in the child process: every figure for one engine."""
    table = load_phrase_table()
    # Each engine's library is imported before the clock starts (vosk's already is, through
    # voicerelief.recognizer), so that the load time is the model's alone for both.
    if engine_name == "pocketsphinx":
        importlib.import_module("pocketsphinx")
    started = time.perf_counter()
    engine = VoskEngine(table) if engine_name == "vosk" else PocketsphinxEngine(table)
    load_seconds = time.perf_counter() - started
    sets = {"real": list(real_samples(shared_data_dir())) if shared_data_dir().is_dir() else [],
            "generated": list(generated_samples(table))}
    if quick:
        sets = {name: samples[::8] for name, samples in sets.items()}
    tallies: dict[str, Tally] = defaultdict(Tally)
    for set_name, samples in sets.items():
        tally = tallies[set_name]
        for sample in samples:
            speech = sample.load()
            begun = time.perf_counter()
            intent = engine.decode(speech)
            elapsed = time.perf_counter() - begun
            tally.audio_seconds += speech.seconds
            tally.decode_seconds += elapsed
            tally.latencies_ms.append(elapsed * 1000)
            if 0.9 <= speech.seconds <= 1.1:
                tally.one_second_ms.append(elapsed * 1000)
            if sample.expected is None:
                tally.others += 1
                tally.rejected += intent is None
            else:
                tally.commands += 1
                tally.accepted_right += intent == sample.expected
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "load_s": load_seconds,
        "rss_mb": peak_rss_mb,
        "dropped_grammar_entries": getattr(engine, "dropped", 0),
        "sets": {
            name: {
                "accuracy": t.accepted_right / t.commands if t.commands else None,
                "rejection": t.rejected / t.others if t.others else None,
                "n": t.commands + t.others,
                "rtf": t.decode_seconds / t.audio_seconds if t.audio_seconds else None,
                "p50_ms": float(np.percentile(t.latencies_ms, 50)) if t.latencies_ms else None,
                "p95_ms": float(np.percentile(t.latencies_ms, 95)) if t.latencies_ms else None,
                "p95_one_second_ms": float(np.percentile(t.one_second_ms, 95)) if t.one_second_ms else None,
            }
            for name, t in tallies.items() if t.commands + t.others
        },
    }


STATE_CONTEXTS = {"pain score": "painBefore", "red-flag question (yes/no)": "redFlags",
                  "stretch control": "stretchHold", "idle": "idle"}


def per_state(quick: bool) -> list[tuple[str, str, str, str]]:
    """Rows of (context, group, per-state grammar, single grammar before)."""
    from voicerelief.models import find_model
    from voicerelief.recognizer import FileRecognizer, load_model
    from voicerelief.session import heard_in_state

    table = load_phrase_table()
    with tempfile.TemporaryDirectory() as folder, baseline_source(Path(folder)) as source:
        before = load_phrase_table(_with_every_table(source / "voicerelief" / "content" / "commands.toml",
                                                     Path(folder)))
    model = load_model(find_model(), table)
    sets = {"real": list(real_samples(shared_data_dir())) if shared_data_dir().is_dir() else [],
            "generated": list(generated_samples(table))}
    if quick:
        sets = {name: samples[::8] for name, samples in sets.items()}
    rows = []
    for context, state in STATE_CONTEXTS.items():
        heard = heard_in_state(state, table)
        for set_name, samples in sets.items():
            now = scores_by_group(FileRecognizer(model, table.restricted_to(heard)), samples, heard)
            then = scores_by_group(FileRecognizer(model, before), samples, heard)
            for group in now:
                rows.append((context, f"{set_name}: {group}", _fraction(now[group]), _fraction(then[group])))
    return rows


def _with_every_table(path: Path, folder: Path) -> Path:
    """The baseline's phrase file with the tables it predates, empty (it had no such phrases), so today's loader reads it."""
    text = path.read_text()
    for table in ("onset", "pain_words"):
        if f"[{table}]" not in text:
            text += f"\n[{table}]\n"
    copy = folder / "baseline-commands.toml"
    copy.write_text(text)
    return copy


def _fraction(score) -> str:
    return f"{score.rate * 100:.1f}% ({score.correct}/{score.total})"


def _cell(value, kind: str) -> str:
    if value is None:
        return "n/a"
    return {"pct": f"{value * 100:.1f}%", "ms": f"{value:.0f} ms", "x": f"{value:.3f}"}[kind]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="every 8th sample only")
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(measure(args.engine, args.quick)))
        return
    results = {}
    for engine in ENGINES:
        command = [sys.executable, __file__, "--engine", engine] + (["--quick"] if args.quick else [])
        results[engine] = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    rows = [("model load time", lambda r: f"{r['load_s']:.2f} s"), ("peak RSS", lambda r: f"{r['rss_mb']:.0f} MB")]
    for set_name in results["vosk"]["sets"]:
        label = "shared/data (real speech)" if set_name == "real" else "generated (espeak-ng, clean + 10 dB noise)"
        for title, key, kind in (("accuracy on commands", "accuracy", "pct"), ("rejection of other speech", "rejection", "pct"),
                                 ("real-time factor", "rtf", "x"), ("decode latency p50", "p50_ms", "ms"),
                                 ("decode latency p95", "p95_ms", "ms"),
                                 ("p95 latency, one-second clip", "p95_one_second_ms", "ms")):
            rows.append((f"{label}: {title}",
                         lambda r, s=set_name, k=key, c=kind: _cell(r["sets"].get(s, {}).get(k), c)))
    with published("recognize", {"quick": args.quick}, save=not args.quick) as figures:
        figures.update(results)
        n_real = results["vosk"]["sets"].get("real", {}).get("n", 0)
        n_generated = results["vosk"]["sets"]["generated"]["n"]
        print(f"Recognition benchmark: {n_real} real and {n_generated} generated recordings, 1 process per engine.")
        print(f"pocketsphinx grammar entries dropped (words not in its dictionary): "
              f"{results['pocketsphinx']['dropped_grammar_entries']}")
        print("pocketsphinx rejects only through the grammar's decoy phrases: it has no unknown-word token and no\n"
              "confidence floor here, so its rejection rows show that missing part, not a weaker acoustic model.\n")
        width = max(len(name) for name, _ in rows)
        print(f"| {'measure'.ljust(width)} | vosk (ours) | pocketsphinx (baseline) |")
        print(f"| {'-' * width} | ---: | ---: |")
        for name, value in rows:
            print(f"| {name.ljust(width)} | {value(results['vosk'])} | {value(results['pocketsphinx'])} |")
        print("\nvosk per state context: correct (commands recognized, other speech and noise rejected).\n")
        print("| state context | recordings | grammar of the state | single grammar (before) |")
        print("| --- | --- | ---: | ---: |")
        figures["per_state"] = per_state(args.quick)
        for context, group, now, then in figures["per_state"]:
            print(f"| {context} | {group} | {now} | {then} |")


if __name__ == "__main__":
    main()
