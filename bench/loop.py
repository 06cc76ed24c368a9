"""Audio-loop benchmark on a real PulseAudio server with a virtual microphone and speaker.

Measures, beside a baseline from the same run:
- latency from the end of the person's words to the first sound of the answer,
  for prompts already rendered (warm cache) and rendered on the spot (cold);
- CPU, as a share of one core, while listening to a quiet room (pink noise at
  -50 dBFS) for 60 s: with the voice gate, without it (the same app with
  `voice_gate = false`), and a bare capture through the app's own microphone
  code that recognizes nothing;
- peak RSS of both; time from process start to ready, against loading the model alone.

Run: .venv/bin/python bench/loop.py [--commands 30] [--idle-seconds 60]
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
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from audio_rig import AudioRig, RunningApp  # noqa: E402

# The app's own capture path (callback into a queue, 0.1 s blocks), with nothing done to the blocks.
BARE_CAPTURE = """
from voicerelief.microphone import Microphone
microphone = Microphone("pulse")
print("ready", flush=True)
for block in microphone.blocks():
    pass
"""


# The first seconds after a stream opens cost extra CPU (over a second of it for a bare capture here),
# which is start-up, not listening: every CPU figure starts after this pause.
SETTLE_SECONDS = 5.0


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def answer_latency(rig: AudioRig, app: RunningApp, line: str) -> float:
    app.wait_until_done_talking(rig)
    _, ended = rig.speak(line)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        first = rig.first_sound_after(ended)
        if first is not None:
            return first - ended
        time.sleep(0.02)
    raise TimeoutError(f"no answer to {line!r}")


def idle_cpu(pid: int, seconds: float) -> tuple[float, float]:
    """Percent of one core over ``seconds``, and peak RSS in MB (from the kernel's high-water mark)."""
    process = psutil.Process(pid)
    before = process.cpu_times()
    time.sleep(seconds)
    after = process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    with open(f"/proc/{pid}/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    return 100 * used / seconds, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rig = AudioRig(work / "pulse")
        rig.start()
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        rig.env["XDG_CACHE_HOME"] = str(work / "cache")
        try:
            launched = time.monotonic()
            app = RunningApp(rig, work / "data")
            ready = app.wait_for("Say hey relief to begin") - launched

            cold = [answer_latency(rig, app, "hey relief start")]
            for _ in range(6):
                cold.append(answer_latency(rig, app, "no"))
            warm = []
            for index in range(args.commands):
                warm.append(answer_latency(rig, app, "repeat" if index % 2 else "how much time is left"))
            app.wait_until_done_talking(rig)
            room = rig.play_room_noise(3 * (args.idle_seconds + SETTLE_SECONDS) + 60)
            time.sleep(SETTLE_SECONDS)
            app_cpu, app_rss = idle_cpu(app.process.pid, args.idle_seconds)
            app.stop()

            settings = work / "ungated.toml"
            settings.write_text("voice_gate = false\n")
            ungated = RunningApp(rig, work / "data", settings=settings)
            ungated.wait_for("Relief: ", after=time.monotonic())
            ungated.wait_until_done_talking(rig)
            time.sleep(SETTLE_SECONDS)
            ungated_cpu, _ = idle_cpu(ungated.process.pid, args.idle_seconds)
            ungated.stop()

            bare = subprocess.Popen([sys.executable, "-c", BARE_CAPTURE], env=rig.env, stdout=subprocess.PIPE, text=True)
            bare.stdout.readline()
            time.sleep(SETTLE_SECONDS)
            bare_cpu, bare_rss = idle_cpu(bare.pid, args.idle_seconds)
            bare.kill()
            room.kill()

            model_only = subprocess.run(
                [sys.executable, "-c", "import time; t = time.monotonic(); import vosk; "
                 "from voicerelief.models import find_model; vosk.Model(str(find_model())); "
                 "print(time.monotonic() - t)"], capture_output=True, text=True, check=True)
            model_seconds = float(model_only.stdout.strip().splitlines()[-1])
        finally:
            rig.stop()

    rows = [
        ("answer latency p50, cached prompts", f"{percentile(warm, 50) * 1000:.0f} ms",
         f"{percentile(cold, 50) * 1000:.0f} ms (rendered on the spot)"),
        ("answer latency p95, cached prompts", f"{percentile(warm, 95) * 1000:.0f} ms",
         f"{percentile(cold, 95) * 1000:.0f} ms (rendered on the spot)"),
        ("CPU in a quiet room, voice gate on", f"{app_cpu:.1f}% of one core",
         f"{ungated_cpu:.1f}% with the gate off; {bare_cpu:.1f}% bare capture"),
        ("peak RSS", f"{app_rss:.0f} MB", f"{bare_rss:.0f} MB (bare capture)"),
        ("process start to ready", f"{ready:.2f} s", f"{model_seconds:.2f} s (loading the model alone)"),
    ]
    print(f"Audio loop on PulseAudio virtual devices: {len(warm)} cached and {len(cold)} fresh answers, "
          f"{args.idle_seconds:.0f} s of a quiet room for each CPU figure.\n")
    print("| measure | voicerelief run | baseline, same run |")
    print("| --- | ---: | ---: |")
    for name, ours, baseline in rows:
        print(f"| {name} | {ours} | {baseline} |")


if __name__ == "__main__":
    main()
