"""Instructions per second of audio in the listening loop, counted by valgrind, and what they mean on a Pi.

The loop measured is the one the microphone thread runs: 0.1 s blocks into a
grammar recognizer, with and without the voice gate (and, behind the gate,
with and without the level normaliser), for two kinds of audio:
commands spoken in a room (each with 1.5 s of room before and 1 s after) and a
quiet room with nobody speaking (pink noise at -50 dBFS).

Each case runs under ``valgrind --tool=callgrind`` twice: once loading the model
and the audio and decoding it, once doing everything but the decoding. The
difference is the loop's own instruction count, independent of machine load.
The same loop timed natively on this machine gives its instructions per CPU
second, as a check of the scale.

Run: .venv/bin/python bench/instructions.py [--seconds 10]; with 10 s it writes bench/results/instructions.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from projection import ARM_PER_X86_INSTRUCTIONS, FORMULA, PI_CPUS, projected_share  # noqa: E402
from stamp import published  # noqa: E402
from voicerelief.audio_file import Speech
from voicerelief.commands import load_phrase_table
from voicerelief.evaluation import in_room
from voicerelief.front_end import LevelSettings
from voicerelief.models import find_model
from voicerelief.recognizer import CommandRecognizer, load_model
from voicerelief.synthesize import noise_at_level, synthesize
from voicerelief.voice_gate import VoiceGate

# (audio, voice gate on, level normaliser on): the normaliser's own cost is the difference it makes to gated commands.
CASES = (("commands", False, True), ("commands", True, False), ("commands", True, True),
         ("quiet room", False, True), ("quiet room", True, True))
ROOM_DBFS = -50.0
RATE = 16000
BLOCK = RATE // 10



def prepare_audio(folder: Path, seconds: float) -> dict[str, Path]:
    """The two kinds of audio as .npy files, made once so every run reads the same samples."""
    table = load_phrase_table()
    pieces: list[np.ndarray] = []
    phrases = sorted(table.phrases)
    while sum(len(p) for p in pieces) < seconds * RATE:
        phrase = phrases[len(pieces) * 7 % len(phrases)]
        speech = synthesize(phrase, "en-us", 150)
        resampled = soxr.resample(speech.samples, speech.rate, RATE)
        pieces.append(in_room(Speech(resampled, RATE), seed=len(pieces)))
    audio = {
        "commands": np.concatenate(pieces)[: int(seconds * RATE)],
        "quiet room": np.clip(noise_at_level(int(seconds * RATE), ROOM_DBFS, seed=11), -32768, 32767)
        .astype(np.int16),
    }
    paths = {}
    for name, samples in audio.items():
        paths[name] = folder / f"{name.replace(' ', '-')}.npy"
        np.save(paths[name], samples.astype(np.int16))
    return paths


def run_loop(audio_path: Path, gated: bool, level: bool, decode: bool) -> float:
    """Load the model and the audio; decode it block by block if asked. Returns CPU seconds of the loop."""
    table = load_phrase_table()
    model = load_model(find_model(), table)
    samples = np.load(audio_path)
    recognizer = CommandRecognizer(model, table, RATE, VoiceGate(RATE) if gated else None,
                                   LevelSettings() if level else None)
    blocks = [samples[start:start + BLOCK].tobytes() for start in range(0, len(samples), BLOCK)]
    started = time.process_time()
    if decode:
        for block in blocks:
            recognizer.accept(block)
        recognizer.finish()
    return time.process_time() - started


def callgrind_instructions(audio_path: Path, gated: bool, level: bool, decode: bool, out: Path) -> int:
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
               "--child", str(audio_path), "--gated" if gated else "--ungated", "--level" if level else "--no-level",
               "--decode" if decode else "--no-decode"]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return callgrind_total(out)


def callgrind_total(out: Path) -> int:
    """The instruction count in a callgrind output file."""
    totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    if totals is None:
        raise RuntimeError(f"no instruction total in {out}")
    return int(totals.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--gated", dest="gated", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ungated", dest="gated", action="store_false", help=argparse.SUPPRESS)
    parser.add_argument("--level", dest="level", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-level", dest="level", action="store_false", help=argparse.SUPPRESS)
    parser.add_argument("--decode", dest="decode", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-decode", dest="decode", action="store_false", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(run_loop(args.child, args.gated, args.level, args.decode))
        return

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        paths = prepare_audio(work, args.seconds)
        rows = []
        for name, gated, level in CASES:
            with_loop = callgrind_instructions(paths[name], gated, level, True, work / "with.out")
            without_loop = callgrind_instructions(paths[name], gated, level, False, work / "without.out")
            native = [run_loop(paths[name], gated, level, True) for _ in range(3)]
            per_second = (with_loop - without_loop) / args.seconds
            rows.append((_case_name(name, gated, level), per_second, min(native) / args.seconds))

    settings = {"seconds": args.seconds, "arm_per_x86": list(ARM_PER_X86_INSTRUCTIONS),
                "boards": [list(board) for board in PI_CPUS]}
    with published("instructions", settings, save=args.seconds == 10.0) as figures:
        figures["cases"] = [{"case": name, "instructions_per_audio_second": per_second, "cpu_share_here": cpu_share}
                            for name, per_second, cpu_share in rows]
        print(f"Listening loop, {args.seconds:.0f} s of audio per case; instructions counted by callgrind on x86-64.\n")
        print("| audio, listening | instructions per second of audio | CPU here, share of one core | "
              "instructions per CPU second here |")
        print("| --- | ---: | ---: | ---: |")
        for name, per_second, cpu_share in rows:
            # Below a millisecond of CPU a second, the process clock is too coarse for a rate.
            timed = cpu_share >= 0.001
            print(f"| {name} | {per_second / 1e6:.0f} M | "
                  f"{f'{cpu_share * 100:.1f}%' if timed else 'below 0.1%'} | "
                  f"{f'{per_second / cpu_share / 1e9:.2f} G' if timed else 'too little to time'} |")

        print(f"\nProjected share of one core: {FORMULA}.")
        low_ratio, mid_ratio, high_ratio = ARM_PER_X86_INSTRUCTIONS
        print(f"AArch64 per x86-64 instruction: {mid_ratio} (range {low_ratio} to {high_ratio}).\n")
        header = " | ".join(name for name, _, _ in rows)
        print(f"| board | clock, IPC | {header} |")
        print("| --- | --- |" + " ---: |" * len(rows))
        for board, core, ghz, ipc in PI_CPUS:
            low_ipc, mid_ipc, high_ipc = ipc
            cells = [projected_share(per_second, ghz, ipc) for _, per_second, _ in rows]
            print(f"| {board} ({core}) | {ghz} GHz, IPC {mid_ipc} ({low_ipc} to {high_ipc}) | {' | '.join(cells)} |")

def _case_name(audio: str, gated: bool, level: bool) -> str:
    if not gated:
        return f"{audio}, gate off"
    return f"{audio}, gate on" + ("" if level else ", no level normaliser")


if __name__ == "__main__":
    main()
