"""Putting the parts together for each front end: typed text, the microphone, and the demo."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from voicerelief.clock import Clock, ScaledClock, SystemClock
from voicerelief.commands import PhraseTable, load_phrase_table
from voicerelief.call_numbers import CallNumbers
from voicerelief.carers import Carer
from voicerelief.config import IN_THE_APP, Config, numbers_to_call
from voicerelief.echo_cancel import EchoCancellationKeeper
from voicerelief.own_voice import PlayedSound, own_voice_cancelling
from voicerelief.errors import AudioDeviceError, ContentError, ModelError
from voicerelief.prompts import Prompts, content_path, load_prompts, placeholders, read_toml
from voicerelief.protocol import Timings, load_timings
from voicerelief.red_flags import CAUTION, RedFlagQuestion, load_red_flags
from voicerelief.routine import Stretch, load_routine
from voicerelief.runner import Announcement, EndOfInput, Runner
from voicerelief.session import (ALERT_KEYS, DURATION_KEYS, PROMPT_FIELDS, PROMPT_KEYS, AdjustVoice, Memory,
                                 NotUnderstood, Said, Say, Session)
from voicerelief.store import Store

if TYPE_CHECKING:  # vosk, Apprise and the voices load only for the front ends that use them
    from voicerelief.alert_delivery import AlertSender
    from voicerelief.recognizer import Heard
    from voicerelief.speak import SoundEnds, Voice

log = logging.getLogger(__name__)

MIN_WORDS_PER_MINUTE, MAX_WORDS_PER_MINUTE = 90, 240
MIN_VOLUME = 0.2
DEVICE_PROMPTS = ("ready", "wake", "microphone_lost", "microphone_back", "stopped", "model_missing",
                  "microphone_missing")
# sysexits' EX_CONFIG: a person must fix the set-up, so the service manager should not restart us.
EXIT_NEEDS_SETUP = 78
# The assistant's own voice still reaches the microphone for a moment after its last sound leaves the
# speaker (the room's echo, a sound server's loopback); people answer about 0.2 s after a question.
ECHO_TAIL_SECONDS = 0.1


@dataclass(frozen=True)
class Content:
    prompts: Prompts
    timings: Timings
    routine: tuple[Stretch, ...]
    table: PhraseTable
    red_flags: tuple[RedFlagQuestion, ...]
    numbers: CallNumbers
    carers: tuple[Carer, ...] = ()
    discreet_alerts: bool = False


def load_content(routine_path: Path | None = None, settings: Config | None = None,
                 carers: tuple[Carer, ...] = ()) -> Content:
    """Every content file, validated; any problem stops the start with one error."""
    settings = settings or Config()
    required = {f"session.{key}": PROMPT_FIELDS for key in PROMPT_KEYS}
    required.update({f"devices.{key}": {"wake"} for key in DEVICE_PROMPTS})
    required.update({f"alerts.{key}": {"time", "emergency"} for key in ALERT_KEYS})
    required.update({f"durations.{key}": {"minutes", "hours"} for key in DURATION_KEYS})
    prompts = load_prompts(required=required)
    table = load_phrase_table()
    if settings.wake_phrase != table.wake_phrase:
        table = table.with_wake_phrase(settings.wake_phrase)
    red_flags = load_red_flags()
    unheard = sorted({question.said_as for question in red_flags if question.said_as} - table.intent_names())
    if unheard:
        raise ContentError("red_flags.toml", "said_as", f"'{unheard[0]}' is not an intent of commands.toml")
    routine = load_routine(routine_path, {question.name for question in red_flags if question.means == CAUTION})
    return Content(prompts, load_timings(), routine, table, red_flags, numbers_to_call(settings), carers,
                   settings.discreet_alerts)


def open_runner(content: Content, store: Store, clock: Clock, speak: Callable[[Say], None],
                adjust_voice: Callable[[AdjustVoice], None] = lambda _: None) -> Runner:
    """A runner on the saved session, or on a new one."""
    saved = store.load_memory()
    memory = Memory.from_dict(saved) if saved else None
    session = Session(content.prompts, content.timings, content.routine, content.table, content.red_flags,
                      content.numbers, memory, tuple(carer.name for carer in content.carers), content.discreet_alerts)
    return Runner(session, store, clock, speak, adjust_voice)


def known_ahead(content: Content, session: Session | None = None) -> list[str]:
    """What may be said whose words are known now: the device prompts (filled with the wake phrase), said first at a
    start, then the session's foreseeable prompts (of a new session when none is given)."""
    session = session or Session(content.prompts, content.timings, content.routine, content.table,
                                 content.red_flags, content.numbers, None,
                                 tuple(carer.name for carer in content.carers), content.discreet_alerts)
    wake = content.table.wake_phrase
    devices = [content.prompts.say(key, wake=wake) for key, text in content.prompts.texts.items()
               if key.startswith("devices.") and placeholders(text) <= {"wake"}]
    return devices + session.foreseeable_texts()


def spoken_voice(store: Store | None, defaults: Config) -> Voice:
    """The voice of the settings, at the rate and volume last asked for by voice (kept in the store)."""
    from voicerelief.speak import Voice

    saved = (store.load_setting("voice") if store else None) or {}
    return Voice(words_per_minute=int(saved.get("words_per_minute", defaults.words_per_minute)),
                 volume=float(saved.get("volume", defaults.volume)), voice_id=defaults.voice)


def prepare_voice(content: Content, voice: Voice, progress: Callable[[int, int], None]) -> int:
    """Render, into the speech cache, every sentence a session may say that is not there yet, calling ``progress``
    with sentences done and to do after each; the number rendered. Raises NaturalVoiceUnavailable with why."""
    from voicerelief.natural_voice import LOAD_TIMEOUT_SECONDS, NaturalVoiceUnavailable, PiperRenderer
    from voicerelief.speak import PromptRenderer, speech_cache

    missing = unprepared(known_sentences(content), voice)
    progress(0, len(missing))
    if not missing:
        return 0
    renderer = PiperRenderer(speech_cache(), voice, PromptRenderer(speech_cache(), voice))
    try:
        problem = renderer.wait_until_loaded(LOAD_TIMEOUT_SECONDS)
        if problem is not None:
            raise NaturalVoiceUnavailable(f"The natural voice cannot be prepared: {problem}")
        for done, sentence in enumerate(missing, start=1):
            renderer.render_sentence(sentence)
            progress(done, len(missing))
        return len(missing)
    finally:
        renderer.close()


def known_sentences(content: Content) -> list[str]:
    """The distinct sentences of everything a session may say, as the natural voice renders them."""
    from voicerelief.natural_voice import sentences

    return list(dict.fromkeys(sentence for text in known_ahead(content) for sentence in sentences(text)))


def unprepared(sentences: list[str], voice: Voice) -> list[str]:
    """Those of ``sentences`` that the natural voice has not rendered into the speech cache yet."""
    from voicerelief.natural_voice import SpeechCache
    from voicerelief.speak import speech_cache

    return SpeechCache(speech_cache(), voice).missing(sentences)


def send_alerts(runner: Runner, content: Content) -> AlertSender | None:
    """With carers set up, the runner's alerts go out; without, nothing that could open a socket is loaded."""
    if not content.carers:
        return None
    from voicerelief.alert_delivery import AlertSender

    runner.courier = AlertSender(content.carers, runner.post)
    return runner.courier


def intent_event(table: PhraseTable, text: str) -> Said | NotUnderstood:
    intent = table.match(text)
    if intent is None:
        return NotUnderstood(text.strip())
    return Said(intent.name, intent.value)


def heard_event(heard: Heard) -> Said | NotUnderstood:
    """What the recognizer heard, as the session's event."""
    return Said(heard.intent.name, heard.intent.value, heard.confidence) if heard.intent else NotUnderstood(heard.text)


class VoiceOut:
    """Speaks prompts (or only prints them), and follows slower, faster, louder and quieter.

    The text of every prompt is always printed, so a failed speaker loses nothing.
    """

    def __init__(self, speak_aloud: bool, output_device: str | None = None, store: Store | None = None,
                 stamp: Callable[[], str] = lambda: "", defaults: Config | None = None,
                 record_to: Path | None = None, played: PlayedSound | None = None) -> None:
        self.stamp = stamp
        self.store = store
        self.speaker = None
        self.hushed = False
        self.muting: tuple[Callable[[str], None], Callable[[float], None]] | None = None
        self.ahead: list[str] = []
        if speak_aloud or record_to is not None:
            from voicerelief.speak import AudioFileSpeaker, Speaker, open_renderer, speech_cache

            renderer = open_renderer(speech_cache(), spoken_voice(store, defaults or Config()))
            if record_to is None:
                self.speaker = Speaker(renderer, output_device, played)
            else:
                self.speaker = AudioFileSpeaker(renderer, record_to)
                _wait_for_the_natural_voice(renderer)

    def prepare(self, texts: list[str]) -> None:
        """Have these texts rendered ahead (again after a change of rate), where the voice renders slowly."""
        self.ahead = texts
        prepare = getattr(self.speaker.renderer, "prepare", None) if self.speaker else None
        if prepare is not None:
            prepare(texts)

    def say(self, effect: Say, only_if_speaker: bool = False) -> None:
        """Print and speak; with ``only_if_speaker``, a missing speaker is not reported as a fault."""
        print(f"{self.stamp()}Relief: {effect.text}", flush=True)
        log.debug("saying %r", effect.key)
        try:
            self._speak(effect, only_if_speaker)
        finally:
            log.debug("said %r", effect.key)

    def _speak(self, effect: Say, only_if_speaker: bool) -> None:
        if self.speaker is None or self.hushed:
            return
        if only_if_speaker and not self.speaker.has_output():
            return
        if self.muting is None:
            self.speaker.say(effect.text, effect.urgency)
            return
        mute, unmute = self.muting

        @contextlib.contextmanager
        def deaf_while_playing() -> Iterator[SoundEnds]:
            mute(effect.text)
            deaf_until: list[float] = []

            def sound_ends(at: float) -> None:
                deaf_until.append(at + ECHO_TAIL_SECONDS)
                unmute(deaf_until[0])

            try:
                yield sound_ends
            finally:
                # After a fault, or if the speaker never said when its sound ends.
                if not deaf_until:
                    sound_ends(time.monotonic())
                # The microphone hears from then on whatever this thread does; waiting here keeps the next prompt,
                # and the log line others wait for before they speak, from coming before it does.
                time.sleep(max(0.0, deaf_until[0] - time.monotonic()))
                log.debug("listening again")

        self.speaker.say(effect.text, effect.urgency, deaf_while_playing)

    def interrupt(self) -> None:
        """Cut the current prompt short and drop the rest of this answer (the person barged in)."""
        self.hushed = True
        if self.speaker is not None:
            self.speaker.interrupt()

    def listen_again(self) -> None:
        self.hushed = False

    def adjust(self, change: AdjustVoice) -> None:
        if self.speaker is None:
            return
        voice = self.speaker.renderer.voice
        voice.words_per_minute = min(MAX_WORDS_PER_MINUTE,
                                     max(MIN_WORDS_PER_MINUTE, voice.words_per_minute + change.rate_step))
        voice.volume = round(min(1.0, max(MIN_VOLUME, voice.volume + change.volume_step)), 2)
        if self.store is not None:
            self.store.save_setting("voice", {"words_per_minute": voice.words_per_minute, "volume": voice.volume})
        if change.rate_step:
            self.prepare(self.ahead)

    def close(self) -> None:
        if self.speaker is not None:
            self.speaker.renderer.close()
            self.speaker.close()


def _wait_for_the_natural_voice(renderer: object) -> None:
    """A recording has no person waiting: it is made in the natural voice throughout, not begun by the stand-in."""
    from voicerelief.natural_voice import LOAD_TIMEOUT_SECONDS

    wait = getattr(renderer, "wait_until_loaded", None)
    if wait is not None:
        problem = wait(LOAD_TIMEOUT_SECONDS)
        if problem is not None:
            log.warning("Recording in espeak-ng's voice: %s", problem)


def run_text(content: Content, store: Store, speak_aloud: bool, output_device: str | None,
             clock: Clock | None = None, config: Config | None = None) -> int:
    """Typed commands on standard input; the answers printed, and spoken unless quiet."""
    out = VoiceOut(speak_aloud, output_device, store=store, defaults=config)
    runner = open_runner(content, store, clock or SystemClock(), out.say, out.adjust)
    out.prepare(known_ahead(content, runner.session))
    sender = send_alerts(runner, content)

    def read_lines() -> None:
        for line in sys.stdin:
            if line.strip():
                runner.post(intent_event(content.table, line))
        runner.post(EndOfInput())

    try:
        runner.start()
        threading.Thread(target=read_lines, name="typed-input", daemon=True).start()
        runner.serve()
    except KeyboardInterrupt:
        print(content.prompts.say("devices.stopped"), flush=True)
    finally:
        out.close()
        if sender is not None:
            sender.close()
    return 0


def run_voice(content: Content, store: Store, model_option: Path | None, input_device: str | None,
              output_device: str | None, clock: Clock | None = None, record_dir: Path | None = None,
              config: Config | None = None, wait_for_microphone: bool = False) -> int:
    """The microphone in, speech out: the assistant as a person uses it.

    A missing model or microphone is said aloud when a speaker works, and logged
    in every case: on a headless machine nobody reads the screen.
    """
    settings = config or Config()
    cancellation = EchoCancellationKeeper(input_device, output_device)
    played = None
    if not settings.echo_cancellation:
        log.info("echo cancellation is off in the settings")
    elif settings.echo_canceller == IN_THE_APP and (played := own_voice_cancelling()) is not None:
        log.info("echo cancellation is on, in the app")
    else:
        cancellation.start()
    try:
        return _run_voice(content, store, model_option, input_device, output_device, clock, record_dir, settings,
                          wait_for_microphone, cancellation, played)
    finally:
        cancellation.stop()


def _run_voice(content: Content, store: Store, model_option: Path | None, input_device: str | None,
               output_device: str | None, clock: Clock | None, record_dir: Path | None,
               settings: Config, wait_for_microphone: bool, cancellation: EchoCancellationKeeper,
               played: PlayedSound | None) -> int:
    from voicerelief.listener import (BARGE_IN, BARGE_IN_WITH_ECHO_CANCELLATION, BargeInRule, Command, Listener,
                                      Notice, OwnVoiceControl)
    from voicerelief.models import find_model
    from voicerelief.recognizer import load_model

    out = VoiceOut(True, output_device, store=store, defaults=settings, played=played)
    try:
        model = load_model(find_model(model_option), content.table)
    except ModelError as error:
        _tell_problem(out, content, "devices.model_missing", error)
        out.close()
        return EXIT_NEEDS_SETUP
    runner = open_runner(content, store, clock or SystemClock(), out.say, out.adjust)
    out.prepare(known_ahead(content, runner.session))
    runner.on_event = out.listen_again
    sender = send_alerts(runner, content)

    def post(item: Command | Notice) -> None:
        if isinstance(item, Notice):
            runner.post(Announcement(Say(content.prompts.say(item.key, wake=content.table.wake_phrase), item.key)))
        else:
            heard = item.heard
            runner.post(heard_event(heard))

    def session_active() -> bool:
        return runner.session.awaits_the_person() or bool(runner.timers)

    def barge_in_rule() -> BargeInRule:
        """More may cut a prompt short while the assistant's voice is taken out of the microphone."""
        return BARGE_IN_WITH_ECHO_CANCELLATION if played is not None or cancellation.restore() else BARGE_IN

    own_voice = None
    if played is not None and out.speaker is not None:
        own_voice = OwnVoiceControl(played, out.speaker.pause, out.speaker.resume)
    listener = Listener(model, content.table, input_device, post, session_active, out.interrupt, record_dir,
                        voice_gate=settings.voice_gate, barge_in_rule=barge_in_rule,
                        own_voice=own_voice)
    out.muting = (listener.start_speaking, listener.done_speaking)
    runner.listen_for = listener.expect
    try:
        try:
            listener.open()
            missing = False
        except AudioDeviceError as error:
            # Timers must keep running while the microphone is looked for: the runner starts regardless.
            _tell_problem(out, content, "devices.microphone_missing", error)
            if not wait_for_microphone:
                return 1
            missing = True
        if not missing and runner.session.state in ("boot", "idle"):
            out.say(Say(content.prompts.say("devices.ready", wake=content.table.wake_phrase), "devices.ready"))
        runner.start(greet=False)
        threading.Thread(target=listener.run, args=(missing,), name="microphone", daemon=True).start()
        runner.serve()
    except KeyboardInterrupt:
        print(content.prompts.say("devices.stopped"), flush=True)
    finally:
        listener.stop()
        out.close()
        if sender is not None:
            sender.close()
        if listener.overflows:
            log.warning("The microphone overflowed %d times.", listener.overflows)
    return 0


def _tell_problem(out: VoiceOut, content: Content, key: str, error: Exception) -> None:
    """Log the problem, and say it aloud if there is a speaker to say it on."""
    log.error("%s", error)
    out.say(Say(content.prompts.say(key, wake=content.table.wake_phrase), key), only_if_speaker=True)


def run_demo(content: Content, store: Store, model_dir: Path, speed: float, speak_aloud: bool,
             config: Config | None = None, record_to: Path | None = None) -> int:
    """A scripted session: each line synthesized by espeak-ng and recognized by the real model."""
    from voicerelief.recognizer import FileRecognizer, load_model
    from voicerelief.synthesize import synthesize

    script = _demo_script(content_path("demo.toml"))
    recognizer = FileRecognizer(load_model(model_dir, content.table), content.table)
    clock = ScaledClock(speed)
    began = clock.now()

    def stamp() -> str:
        elapsed = int((clock.now() - began).total_seconds())
        return f"[{elapsed // 3600:02d}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}] "

    out = VoiceOut(speak_aloud, stamp=stamp, defaults=config, record_to=record_to)

    def say_on_a_held_clock(effect: Say) -> None:
        # At demo speed, a line played aloud would otherwise let the story's minutes run out while it plays.
        with clock.held():
            out.say(effect)

    runner = open_runner(content, store, clock, say_on_a_held_clock, out.adjust)
    out.prepare(known_ahead(content, runner.session))
    print(f"Demo at {speed:g} times real speed. The person's lines are spoken by espeak-ng "
          "and recognized by the speech model.\n", flush=True)
    try:
        runner.start()
        for index, (state, line, after_minutes, optional) in enumerate(script):
            # A line for a question the session may not ask (a confirmation of a score it was sure of)
            # is passed over when the session has gone on to the next line's state instead.
            then = next((s for s, _, _, o in script[index + 1:] if not o), state) if optional else state
            _serve_until(runner, lambda s=state, t=then: runner.session.state in (s, t))
            if runner.session.state != state:
                continue
            if after_minutes:
                _serve_until(runner, lambda t=clock.now() + timedelta(minutes=after_minutes): clock.now() >= t)
            with clock.held():
                heard, _ = recognizer.recognize(synthesize(line, voice="en-us", words_per_minute=150))
            meaning = heard.intent.name if heard.intent else "not understood"
            print(f"{stamp()}You:    {line}    (heard {heard.text!r}: {meaning})", flush=True)
            runner.handle(heard_event(heard))
            if runner.finished:
                break
    finally:
        out.close()
    if record_to is not None:
        print(f"\nThe assistant's lines, spoken, are in {record_to}.")
    return 0


def _serve_until(runner: Runner, done: Callable[[], bool], limit_seconds: float = 120.0) -> None:
    """Let timers fire, in scaled real time, until ``done`` holds."""
    deadline = time.monotonic() + limit_seconds
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the demo waited too long in state {runner.session.state}")
        if runner.fire_next_due():
            continue
        upcoming = runner.next_due()
        time.sleep(0.05 if upcoming is None else min(0.05, runner.clock.real_seconds_until(upcoming[1])))


def _demo_script(path: Path) -> list[tuple[str, str, float, bool]]:
    lines = []
    for entry in read_toml(path).get("line", []):
        for _ in range(int(entry.get("repeat", 1))):
            lines.append((entry["state"], entry["say"], float(entry.get("after_minutes", 0)),
                          bool(entry.get("optional", False))))
    return lines
