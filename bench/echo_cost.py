"""What the app's echo canceller costs, beside the same app without it, in one run.

- Answer latency, taken as `bench/loop.py` takes it: from the last audible 10 ms of the person's words on the
  virtual microphone to the first audible 10 ms of the answer on the virtual speaker, for pain-score answers ("no"
  and "one", alternately), with `echo_cancellation = true` (the app's canceller) and with it off.
- CPU while listening in the quiet room (pink noise at -65 dBFS) for 60 s, after the ready sentence and a settling
  pause, both settings: the canceller passes blocks untouched after 2 s with nothing played.
- The canceller's own work while the assistant speaks, which the app's CPU figure mixes with rendering and playback:
  instructions per second of audio counted by callgrind (the cancelling of 10 s of speech-like sound, minus the same
  run without it), at 16 kHz and at 44.1 kHz (a USB speakerphone's and a laptop's usual rates), projected to the
  Raspberry Pi with the factors of `bench/instructions.py`.

Run: .venv/bin/python bench/echo_cost.py [--commands 20] [--idle-seconds 60]; with the defaults it writes
bench/results/echo_cost.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from audio_rig import AudioRig, RunningApp  # noqa: E402
from instructions import callgrind_total  # noqa: E402
from isolation import isolate_from_the_user  # noqa: E402
from projection import ARM_PER_X86_INSTRUCTIONS, FORMULA, PI_CPUS, projected_share  # noqa: E402
from loop import SETTLE_SECONDS, Misses, RoomNoise, idle_cpu, latencies, percentile, to_pain_confirmation  # noqa: E402
from stamp import published  # noqa: E402

from voicerelief.models import find_model  # noqa: E402
from voicerelief.own_voice import OwnVoiceCanceller, PlayedSound  # noqa: E402

RATES = (16000, 44100)
CANCELLED_SECONDS = 10.0
SETTINGS = {"off": "", "on": 'echo_cancellation = true\necho_canceller = "app"\n'}


def cancel_for_a_while(rate: int, cancel: bool) -> float:
    """Play 10 s of noise shaped like speech through a canceller told of it, heard back at half its level 50 ms
    later; returns the CPU seconds of the cancelling (none when ``cancel`` is false, everything else the same)."""
    rng = np.random.default_rng(30)
    frames = int(rate * CANCELLED_SECONDS)
    syllables = np.repeat(rng.uniform(0.0, 1.0, frames // (rate // 5) + 1), rate // 5)[:frames]
    sound = (rng.standard_normal(frames) * 0.1 * syllables).astype(np.float32)
    played = PlayedSound()
    start = 1000.0
    played.will_play(sound, rate, start)
    delay = int(0.05 * rate)
    heard = np.zeros(frames + delay, np.float32)
    heard[delay:] = 0.5 * sound
    canceller = OwnVoiceCanceller(played, rate)
    canceller.idle_after_seconds = float("inf")
    block = rate // 10
    blocks = [(start + at / rate, (heard[at:at + block] * 32767).astype(np.int16).tobytes())
              for at in range(0, frames - block + 1, block)]
    began = time.process_time()
    if cancel:
        for captured_at, pcm in blocks:
            canceller.clean(captured_at, pcm)
    return time.process_time() - began


def counted_instructions(rate: int, cancel: bool, out: Path) -> int:
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__, "--child",
               str(rate), "--cancel" if cancel else "--no-cancel"]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return callgrind_total(out)


def canceller_work(work: Path) -> list[dict[str, float]]:
    """Per rate: the canceller's instructions per second of audio, and its CPU share here."""
    rows = []
    for rate in RATES:
        per_second = (counted_instructions(rate, True, work / "with.out")
                      - counted_instructions(rate, False, work / "without.out")) / CANCELLED_SECONDS
        cpu_share = min(cancel_for_a_while(rate, True) for _ in range(3)) / CANCELLED_SECONDS
        rows.append({"rate": rate, "instructions_per_audio_second": per_second, "cpu_share_here": cpu_share})
    return rows


def in_the_rig(work: Path, commands: int, idle_seconds: float) -> dict[str, dict[str, object]]:
    """Per setting: answer latencies, the lines not acted on at once, and CPU listening in the quiet room."""
    measured: dict[str, dict[str, object]] = {}
    rig = AudioRig(work / "pulse")
    rig.start()
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    rig.env["XDG_CACHE_HOME"] = str(work / "cache")
    room = RoomNoise(rig)
    try:
        subprocess.run([sys.executable, "-m", "voicerelief", "voice", "prepare"], env=rig.env, check=True,
                       stdout=subprocess.DEVNULL)
        for name, text in SETTINGS.items():
            settings = work / f"config-{name}.toml"
            settings.write_text(text)
            app = RunningApp(rig, work / f"data-{name}", settings=settings)
            misses = Misses()
            try:
                to_pain_confirmation(rig, app, misses, "not a doctor")
                answered = latencies(rig, app, commands, misses)
            finally:
                app.stop()
            app = RunningApp(rig, work / f"idle-{name}", settings=settings)
            try:
                app.wait_for("Say hey relief to begin")
                app.wait_until_done_talking(rig)
                time.sleep(SETTLE_SECONDS)
                cpu = idle_cpu(app.process.pid, idle_seconds)
            finally:
                app.stop()
            measured[name] = {"latencies_s": answered, "missed": len(misses.missed), "said": misses.said,
                              "idle_cpu_percent": cpu}
    finally:
        room.stop()
        rig.stop()
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cancel", dest="cancel", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-cancel", dest="cancel", action="store_false", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(cancel_for_a_while(args.child, args.cancel))
        return
    isolate_from_the_user()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rig_figures = in_the_rig(work, args.commands, args.idle_seconds)
        work_rows = canceller_work(work)

    settings = {"commands": args.commands, "idle_seconds": args.idle_seconds, "rates": list(RATES),
                "cancelled_seconds": CANCELLED_SECONDS, "arm_per_x86": list(ARM_PER_X86_INSTRUCTIONS),
                "boards": [list(board) for board in PI_CPUS]}
    with published("echo_cost", settings, save=(args.commands, args.idle_seconds) == (20, 60.0)) as figures:
        figures.update({"rig": rig_figures, "canceller": work_rows})
        on, off = rig_figures["on"], rig_figures["off"]
        print("| | echo cancellation on (the app's) | off |")
        print("| --- | ---: | ---: |")
        for label, q in (("answer latency p50, from the end of the words", 50), ("answer latency p95", 95)):
            print(f"| {label} | {percentile(on['latencies_s'], q) * 1000:.0f} ms | "
                  f"{percentile(off['latencies_s'], q) * 1000:.0f} ms |")
        print(f"| CPU listening in the quiet room | {on['idle_cpu_percent']:.1f}% of one core | "
              f"{off['idle_cpu_percent']:.1f}% |")
        print(f"| lines not acted on at once (said again, not timed) | {on['missed']} of {on['said']} | "
              f"{off['missed']} of {off['said']} |")
        print("\nThe canceller's own work while the assistant speaks (callgrind, x86-64), and the share of one core it "
              f"would take on a Pi: {FORMULA}, middle estimate and range.\n")
        boards = " | ".join(board for board, *_ in PI_CPUS)
        print(f"| audio rate | instructions per second of audio | CPU here, share of one core | {boards} |")
        print("| --- | ---: | ---: |" + " ---: |" * len(PI_CPUS))
        for row in work_rows:
            per_second = row["instructions_per_audio_second"]
            cells = [projected_share(per_second, ghz, ipc) for _, _, ghz, ipc in PI_CPUS]
            print(f"| {row['rate'] / 1000:g} kHz | {per_second / 1e6:.0f} M | {row['cpu_share_here'] * 100:.1f}% | "
                  f"{' | '.join(cells)} |")


if __name__ == "__main__":
    main()
