"""Instructions per second of speech for each voice, counted by valgrind, and what they mean on a Pi.

Each voice renders the same sentences (prompts of the session, never cached
before) through the app's own renderer, under ``valgrind --tool=callgrind``
with counting switched on only once the voice is loaded (``callgrind_control``).
The count, divided by the seconds of speech rendered, is the voice's cost
independent of machine load. The same renders timed natively here give the
real-time factor and instructions per CPU second, as a check of the scale.

The Pi projection uses the same factors as ``bench/instructions.py``: render
time per second of speech on one core, and from it the wait before the first
sound of a new one-sentence prompt (its length in speech times that factor).
Piper's engine may spread a render over the Pi's four cores, so its wall time
there can be lower than one core's; espeak-ng uses one.

For the natural voice, two more figures for the Pi projections of ``bench/voice.py``:
- serving a cached sentence: the instructions of what the speaker does before a
  cached sentence's first sound (finding its WAV in the cache and reading it at
  the volume), counted the same way, per sentence;
- the engine's parallel share: the same sentences rendered natively with Piper's
  ONNX session held to one thread and to two (this machine's cores), best of
  three each; Amdahl's law on the two wall times gives the share of the work that
  runs in parallel.

Run: .venv/bin/python bench/voice_instructions.py (writes bench/results/voice_instructions.json)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnxruntime
import soundfile

from instructions import ARM_PER_X86_INSTRUCTIONS, PI_CPUS, callgrind_total
from stamp import published
from voicerelief.natural_voice import PiperRenderer, natural_voice, sentences
from voicerelief.prompts import load_prompts
from voicerelief.speak import ESPEAK, NATURAL, Voice, open_renderer, read_rendered

VOICES = {"espeak-ng (default, baseline)": ESPEAK, "natural (Piper, en_US-joe-medium)": NATURAL}
# Under callgrind Piper renders several hundred times slower than natively: each sentence takes minutes.
SENTENCE_COUNT = 3
# Serving from the cache is cheap: repeat it for a count well above the interpreter's own noise.
SERVES = 20
# Sentences timed natively for the parallel share: enough for a few seconds of work per run.
THREAD_SENTENCES = 12
# A new one-sentence prompt of this length: "I heard 7. Is that right?" is two short ones, a stretch step one long one.
ONE_SENTENCE_SECONDS = 2.0


def measured_sentences(count: int = SENTENCE_COUNT) -> list[str]:
    """Sentences of the session's fixed prompts, spread over them, the same for both voices."""
    texts = [text for key, text in load_prompts().texts.items() if key.startswith("session.") and "{" not in text]
    found = list(dict.fromkeys(sentence for text in texts for sentence in sentences(text)))
    return found[:: len(found) // count][:count]


def wait_for(go: Path | None) -> None:
    """Say "loaded" and wait for ``go`` (callgrind starts counting in between); nothing without ``go``."""
    if go is None:
        return
    print("loaded", flush=True)
    # A busy wait: callgrind takes commands only while the program runs.
    while not go.exists():
        pass


def serve_cached(cache: Path, go: Path | None = None) -> dict[str, float]:
    """The natural voice's sentences rendered into the cache, then (counted) served from it SERVES times each as the
    speaker serves one before its first sound. Returns the CPU seconds and the number of sentences served."""
    renderer = PiperRenderer(cache, Voice(voice_id=NATURAL), open_renderer(cache, Voice()))
    problem = renderer.wait_until_loaded(3600)
    if problem:
        raise SystemExit(f"the natural voice did not load: {problem}")
    said = measured_sentences()
    for sentence in said:
        renderer.render_sentence(sentence)
    wait_for(go)
    started_cpu = time.process_time()
    for _ in range(SERVES):
        for sentence in said:
            read_rendered(next(iter(renderer.speech(sentence))), 1.0)
    result = {"cpu": time.process_time() - started_cpu, "served": SERVES * len(said)}
    renderer.close()
    return result


def render_wall_with_threads(threads: int) -> float:
    """Wall seconds per second of speech for Piper's engine held to ``threads`` threads, best of three runs."""
    from piper import PiperConfig, PiperVoice, SynthesisConfig

    voice = natural_voice()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    piper = PiperVoice(config=PiperConfig.from_dict(json.loads(voice.config.read_text())),
                       session=onnxruntime.InferenceSession(str(voice.model), sess_options=options,
                                                            providers=["CPUExecutionProvider"]))
    said = measured_sentences(THREAD_SENTENCES)
    runs = []
    for _ in range(3):
        began, samples = time.monotonic(), 0
        for sentence in said:
            samples += sum(len(chunk.audio_float_array) for chunk in piper.synthesize(sentence, SynthesisConfig()))
        runs.append((time.monotonic() - began) / (samples / piper.config.sample_rate))
    return min(runs)


def render(voice_id: str, cache: Path, go: Path | None = None) -> dict[str, float]:
    """Open the voice the way the app does and render the sentences; with ``go``, say "loaded" and wait for
    that file first (callgrind starts counting in between). Returns CPU, wall and speech seconds."""
    renderer = open_renderer(cache, Voice(voice_id=voice_id))
    if isinstance(renderer, PiperRenderer):
        problem = renderer.wait_until_loaded(3600)
        if problem:
            raise SystemExit(f"the natural voice did not load: {problem}")
    wait_for(go)
    started_cpu, started = time.process_time(), time.monotonic()
    speech_seconds = 0.0
    for sentence in measured_sentences():
        info = soundfile.info(str(renderer.render(sentence)))
        speech_seconds += info.frames / info.samplerate
    result = {"cpu": time.process_time() - started_cpu, "wall": time.monotonic() - started, "speech": speech_seconds}
    renderer.close()
    return result


def callgrind_instructions(voice_id: str, work: Path, serve: bool = False) -> tuple[int, dict[str, float]]:
    """Instructions of the renders alone (with ``serve``, of serving cached sentences alone), and the child's
    result: the voice is loaded with counting off, and counting is switched on (callgrind_control) just before."""
    name = f"{voice_id}{'-serve' if serve else ''}"
    out, cache, go = work / f"callgrind-{name}.out", Path(tempfile.mkdtemp(dir=work)), work / f"go-{name}"
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", sys.executable,
               __file__, "--child", voice_id, "--cache", str(cache), "--go", str(go), *(["--serve"] if serve else [])]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env={**os.environ, "PYTHONHASHSEED": "0"})
    assert child.stdout is not None
    if child.stdout.readline().strip() != "loaded":
        raise RuntimeError(f"the {voice_id} voice did not load under valgrind")
    subprocess.run(["callgrind_control", "--instr=on", str(child.pid)], check=True, capture_output=True, timeout=600)
    go.touch()
    result = json.loads(child.stdout.read().strip().splitlines()[-1])
    if child.wait() != 0:
        raise RuntimeError(f"valgrind ended with {child.returncode} for {voice_id}")
    return callgrind_total(out), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--go", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(serve_cached(args.cache, args.go) if args.serve else render(args.child, args.cache, args.go)))
        return

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for name, voice_id in VOICES.items():
            instructions, counted = callgrind_instructions(voice_id, work)
            speech = counted["speech"]
            native = [render(voice_id, Path(tempfile.mkdtemp(dir=work))) for _ in range(3)]
            best = min(native, key=lambda run: run["cpu"])
            rows.append((name, instructions / speech, best["cpu"] / best["speech"], best["wall"] / best["speech"],
                         speech))
        serve_instructions, served = callgrind_instructions(NATURAL, work, serve=True)
        per_serve = serve_instructions / served["served"]
        one_thread, two_threads = render_wall_with_threads(1), render_wall_with_threads(2)
    # Amdahl: two_threads / one_thread = (1 - share) + share / 2.
    parallel_share = max(0.0, min(1.0, 2 * (1 - two_threads / one_thread)))

    with published("voice_instructions", {"sentences": SENTENCE_COUNT, "voices": VOICES}) as figures:
        figures["voices"] = [{"voice": name, "instructions_per_speech_second": per_second, "cpu_per_speech_second": cpu,
                              "wall_per_speech_second": wall, "speech_seconds": speech}
                             for name, per_second, cpu, wall, speech in rows]
        figures["natural_cached_serve_instructions"] = per_serve
        figures["natural_render_wall_per_speech_second"] = {"one_thread": one_thread, "two_threads": two_threads}
        figures["natural_parallel_share"] = parallel_share
        print(f"Speech rendering, {SENTENCE_COUNT} sentences of the session's prompts per voice, through the app's "
              "renderer; instructions counted by callgrind on x86-64.\n")
        print("| voice | seconds of speech | instructions per second of speech | CPU here per second of speech "
              "| wall time here per second of speech | instructions per CPU second here |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, per_second, cpu, wall, speech in rows:
            print(f"| {name} | {speech:.1f} | {per_second / 1e6:.0f} M | {cpu:.3f} s | {wall:.3f} s | "
                  f"{per_second / cpu / 1e9:.2f} G |")

        low_ratio, mid_ratio, high_ratio = ARM_PER_X86_INSTRUCTIONS
        print("\nProjected render time per second of speech on one core: instructions per second x (AArch64 per "
              "x86-64 instruction) / (clock x instructions per cycle); first sound of a new one-sentence prompt "
              f"of {ONE_SENTENCE_SECONDS:g} s of speech: that times {ONE_SENTENCE_SECONDS:g}.")
        print(f"AArch64 per x86-64 instruction: {mid_ratio} (range {low_ratio} to {high_ratio}).\n")
        print("| board | voice | render time per second of speech | first sound, new one-sentence prompt |")
        print("| --- | --- | ---: | ---: |")
        for board, core, ghz, (low_ipc, mid_ipc, high_ipc) in PI_CPUS:
            for name, per_second, *_ in rows:
                middle = per_second * mid_ratio / (ghz * 1e9 * mid_ipc)
                best = per_second * low_ratio / (ghz * 1e9 * high_ipc)
                worst = per_second * high_ratio / (ghz * 1e9 * low_ipc)
                print(f"| {board} ({core}) | {name} | {middle:.2f} s ({best:.2f} to {worst:.2f}) | "
                      f"{middle * ONE_SENTENCE_SECONDS:.1f} s ({best * ONE_SENTENCE_SECONDS:.1f} to "
                      f"{worst * ONE_SENTENCE_SECONDS:.1f}) |")

        print(f"\nThe natural voice, serving a cached sentence before its first sound (its WAV found and read): "
              f"{per_serve / 1e6:.1f} M instructions per sentence, counted over {served['served']} serves. "
              f"Rendering natively with Piper's engine held to one thread: {one_thread:.3f} s per second of speech; "
              f"to two: {two_threads:.3f} s; the parallel share of the work (Amdahl): {parallel_share:.0%}.")

if __name__ == "__main__":
    main()
