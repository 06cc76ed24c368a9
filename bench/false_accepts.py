"""False accepts from background speech: what the app would act on that nobody said to it.

The clips (default: ../shared/data/background-dev/*) are joined into one stream with
quiet room noise between them and fed, in 0.1 s blocks, through the real listening
path: `Listener.listen` with its voice gate, recognizer and wake gate, listening as
the session does in each state context. Every phrase it passes on is a false accept.

Beside each figure, the same stream through the version before per-state grammars
(`baseline.py`: its own code and phrase table, from a git worktree), in the same run; it listened
with one grammar everywhere, so it runs once in a session and once outside one.
Each context runs in a process of its own, two at a time.

Run: .venv/bin/python bench/false_accepts.py [FOLDER ...] [--minutes N]
The last line printed is one JSON object with the figures; with the default folders, the whole run is
written to bench/results/false_accepts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr
from scipy.stats import chi2

from baseline import BASELINE_COMMIT, baseline_source
from stamp import published

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from recorded_room import RecordedRoom  # noqa: E402
from voicerelief.models import find_model  # noqa: E402
from voicerelief.synthesize import noise_at_level  # noqa: E402
from voicerelief.voice_gate import frame_levels_dbfs  # noqa: E402

RATE = 16000
ROOM_DBFS = -60.0
GAP_SECONDS = (1.0, 3.0)
# State contexts: the state whose listening set is used, and whether a session is under way.
CONTEXTS = {
    "idle (wake phrase needed)": ("idle", False),
    "red-flag question (yes/no)": ("redFlags", True),
    "pain score": ("painBefore", True),
    "pain score confirmation (yes/no)": ("confirmPainBefore", True),
    "pain in words": ("painWordsBefore", True),
    "stretch control": ("stretchHold", True),
    "ice on (waiting)": ("iceOn", True),
}
RED_FLAG_CONTEXT = "red-flag question (yes/no)"


@dataclass
class Stream:
    samples: np.ndarray
    speech_seconds: float
    # Where each clip starts and ends in the stream, and its file name.
    clips: list[tuple[float, float, str]]

    def clip_at(self, seconds: float) -> str:
        """The clip playing at (or ending just before) this moment of the stream."""
        return next((name for start, end, name in self.clips if start <= seconds <= end + 1.5), "(room noise)")

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


def build_stream(folders: list[Path], minutes: float | None, seed: int = 11) -> Stream:
    """Every clip in order, quiet pink room noise between.

    A clip's speech lasts from its first to its last frame 10 dB above its own quiet parts.
    """
    generator = np.random.default_rng(seed)
    paths = sorted(p for folder in folders for p in folder.iterdir() if p.suffix.lower() in (".wav", ".flac"))
    pieces, speech_seconds, total, clips = [], 0.0, 0, []
    for index, path in enumerate(paths):
        clip, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        clip = clip.mean(axis=1)
        if rate != RATE:
            clip = soxr.resample(clip, rate, RATE)
        clip16 = np.clip(clip * 32768, -32768, 32767)
        levels = frame_levels_dbfs(clip16, int(RATE * 0.02))
        voiced = np.flatnonzero(levels > max(float(np.percentile(levels, 10)) + 10.0, -55.0))
        if len(voiced):
            speech_seconds += float(voiced[-1] - voiced[0] + 1) * 0.02
        gap = int(RATE * generator.uniform(*GAP_SECONDS))
        pieces += [noise_at_level(gap, ROOM_DBFS, seed + index), clip16]
        clips.append(((total + gap) / RATE, (total + gap + len(clip16)) / RATE, path.name))
        total += gap + len(clip16)
        if minutes is not None and total >= minutes * 60 * RATE:
            break
    pieces.append(noise_at_level(RATE * 2, ROOM_DBFS, seed))
    samples = np.clip(np.concatenate(pieces), -32768, 32767).astype(np.int16)
    return Stream(samples, speech_seconds, clips)


def count_accepts(state: str, in_session: bool, stream_file: Path) -> list[tuple[str, float]]:
    """In a worker process: the phrases the listener of the version on PYTHONPATH passes on in this context."""
    from voicerelief.commands import load_phrase_table
    from voicerelief.listener import Command, Listener
    from voicerelief.models import find_model
    from voicerelief.recognizer import load_model

    table = load_phrase_table()
    model = load_model(find_model(), table)
    accepted: list[tuple[str, float]] = []
    room = RecordedRoom(np.load(stream_file))

    def post(item) -> None:
        if isinstance(item, Command) and item.heard.intent is not None:
            accepted.append((item.heard.text, room.seconds))
        elif not isinstance(item, Command) and item.key == "devices.wake":
            accepted.append(("(woken)", room.seconds))

    listener = Listener(model, table, None, post, lambda: in_session, lambda: None)
    if hasattr(listener, "expect"):
        from voicerelief.session import Expect, heard_in_state

        listener.expect(Expect(heard_in_state(state, table)))
        listener.listen(room)
    else:
        # The baseline listened with one grammar everywhere, and named its loop privately.
        listener._listen(room)
    return accepted


def run_worker(state: str, in_session: bool, stream_file: Path, source: Path | None) -> list[tuple[str, float]]:
    # The baseline's checkout has no model of its own: both versions use the one installed here.
    environment = dict(os.environ, VOSK_MODEL_PATH=str(find_model()))
    if source is not None:
        environment["PYTHONPATH"] = str(source)
    command = [sys.executable, __file__, "--worker", state, str(int(in_session)), str(stream_file)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=environment)
    return [(text, seconds) for text, seconds in json.loads(done.stdout.splitlines()[-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--minutes", type=float, help="only the first N minutes of the joined stream")
    parser.add_argument("--details", action="store_true", help="name the clip behind every false accept")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        state, in_session, stream_file = args.worker
        print(json.dumps(count_accepts(state, in_session == "1", Path(stream_file))))
        return
    folders = args.folders or sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "background-dev").iterdir())
    folders = [f for f in folders if f.is_dir()]
    if not folders:
        sys.exit("No folders of background clips found; give them as arguments.")
    stream = build_stream(folders, args.minutes)
    audio_hours, speech_hours = stream.seconds / 3600, stream.speech_seconds / 3600
    with tempfile.TemporaryDirectory() as folder, baseline_source(Path(folder)) as before_source:
        stream_file = Path(folder) / "stream.npy"
        np.save(stream_file, stream.samples)
        with ThreadPoolExecutor(max_workers=2) as pool:
            now = {name: pool.submit(run_worker, state, in_session, stream_file, None)
                   for name, (state, in_session) in CONTEXTS.items()}
            before = {in_session: pool.submit(run_worker, "idle", in_session, stream_file, before_source)
                      for in_session in {in_session for _, in_session in CONTEXTS.values()}}
            results = {(name, "now"): job.result() for name, job in now.items()}
            results |= {(name, "before"): before[in_session].result() for name, (_, in_session) in CONTEXTS.items()}

    settings = {"folders": [f.name for f in folders], "minutes": args.minutes, "baseline": BASELINE_COMMIT}
    with published("false_accepts", settings, save=not args.folders and args.minutes is None) as figures:
        print(f"Background speech (development set: the listening was tuned on it): {audio_hours * 60:.1f} min of audio, "
              f"{speech_hours * 60:.1f} min of it speech, from {', '.join(str(f) for f in folders)}.\n")
        print(f"| state context | false accepts per hour of speech | version {BASELINE_COMMIT}, before per-state grammars |")
        print("| --- | ---: | ---: |")
        rates = {}
        for name in CONTEXTS:
            now, before = results[(name, "now")], results[(name, "before")]
            rates[name] = len(now) / speech_hours
            print(f"| {name} | {rates[name]:.2f} ({len(now)}: {_phrases(now)}) "
                  f"| {len(before) / speech_hours:.2f} ({len(before)}: {_phrases(before)}) |")
        worst = max(len(results[(name, "now")]) for name in CONTEXTS)
        print(f"\nWith {worst} false accepts in {speech_hours:.2f} hours of speech in the worst context, the one-sided 95% "
              f"upper bound is {upper_bound_per_hour(worst, speech_hours):.1f} per hour of speech.")
        figures["accepted"] = {f"{name}|{version}": accepted for (name, version), accepted in results.items()}
        session = {name: rate for name, rate in rates.items() if CONTEXTS[name][1]}
        summary = {
            "audio_hours": round(audio_hours, 4),
            "speech_hours": round(speech_hours, 4),
            "idle_per_speech_hour": round(rates["idle (wake phrase needed)"], 3),
            "session_per_speech_hour": round(max(session.values()), 3),
            "worst_session_context": max(session, key=session.get),
            "red_flag_per_speech_hour": round(rates[RED_FLAG_CONTEXT], 3),
            "upper_bound_95_per_speech_hour": round(upper_bound_per_hour(worst, speech_hours), 3),
            "per_context_per_audio_hour": {name: round(len(results[(name, 'now')]) / audio_hours, 3) for name in CONTEXTS},
            "before_per_speech_hour": {name: round(len(results[(name, 'before')]) / speech_hours, 3) for name in CONTEXTS},
        }
        figures["summary"] = summary
    if args.details:
        for (name, version), accepted in results.items():
            for text, seconds in accepted:
                print(f"{version}, {name}: {text!r} at {seconds:.1f} s, {stream.clip_at(seconds)}")
    print(json.dumps(summary))


def upper_bound_per_hour(events: int, hours: float) -> float:
    """The one-sided 95% Poisson upper bound on a rate seen as ``events`` in ``hours`` (about 3/hours for none)."""
    return float(chi2.ppf(0.95, 2 * (events + 1))) / 2 / hours


def _phrases(accepted: list[tuple[str, float]]) -> str:
    return ", ".join(sorted({text for text, _ in accepted})) or "-"


if __name__ == "__main__":
    main()
