"""The microphone side of `voicerelief run`: hearing commands, and only the person's.

- Each utterance is decoded with the grammar of what the session expects now
  (its `Expect` effect); the grammar changes only between utterances.
- While the assistant speaks (and for a short tail after), what the microphone
  captures is not recognized as commands; the recognizer is reset afterwards.
- Meanwhile a second, strict recognizer that knows only "stop" still listens, so
  the person can cut the assistant short (barge-in).
- With the assistant's voice cancelled in the app (`own_voice`), a voice starting
  over a prompt pauses it, so the rest of the word is heard without the voice over
  it; the prompt goes on if no barge-in phrase came.
- Only audio that the voice gate passes is decoded, so an empty room costs
  little CPU (the gate can be switched off in the settings).
- Outside an active session, a command counts only after the wake phrase.
- If the microphone stops sending sound, it is reopened by name, with backoff.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

import vosk

from voicerelief.commands import UNKNOWN_WORD, PhraseTable
from voicerelief.devices import rescan
from voicerelief.errors import AudioDeviceError
from voicerelief.microphone import Microphone
from voicerelief.own_voice import CleanedBlock, OwnVoiceCanceller, PlayedSound, VoiceOnset
from voicerelief.recognizer import CommandRecognizer, Heard
from voicerelief.session import Expect
from voicerelief.voice_gate import VoiceGate

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class BargeInRule:
    """Which phrases may cut the assistant short while it talks, and how sure the decoder must be of them."""

    intents: tuple[str, ...]
    confidence: float


# Only "stop": "pause" was also heard in the assistant's own voice ("pain began", "paused") with the
# speaker looped into the microphone, and pausing can wait until the sentence ends.
BARGE_IN = BargeInRule(("stop",), confidence=0.95)
# With the sound server cancelling the assistant's voice: the words that must not wait for a sentence's end,
# and less certainty, as what is left of the voice is faint (bench/barge_in.py: at a -6 and a 0 dB leak,
# 10 of 16 "stop"s taken at 0.7 against 5 of 16 at 0.95, with none of 32 prompts cut by its own voice).
BARGE_IN_WITH_ECHO_CANCELLATION = BargeInRule(
    ("stop", "pause", "cancel", "help", "emergency", "call_help", "wet_myself", "legs_numb"), confidence=0.7)
# A prompt paused for a voice goes on after this long without one, if no barge-in phrase was heard.
QUIET_BEFORE_RESUMING_SECONDS = 0.6
# A barge-in phrase is said within this long of its start ("my legs are numb" takes about 1.2 s); a voice
# that goes on is someone else talking (a television), and the prompt goes on over it.
LONGEST_PAUSE_FOR_VOICE_SECONDS = 1.5
# Once for the phrase and once more for a person saying it again; none after a voice that talked on.
PAUSES_PER_PROMPT = 2
# What a paused prompt's voice is heard from: the blocks up to the one it was found in, 0.3 s.
PRE_ROLL_BLOCKS = 3
# Enough of the assistant's latest lines to judge every block still queued behind them.
SPOKEN_SPANS_KEPT = 8
# Enough for a speaker that says late when its sound ended (a busy machine): 1 s.
HELD_BLOCKS = 10
# After this long, muting is lifted even if the speaker never said it had finished.
MAX_MUTE_SECONDS = 90.0
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 5.0)
WAKE_WINDOW_SECONDS = 10.0
# With --record-audio, at most the last 10 s of an utterance are kept.
RECORD_BLOCKS = 100


@dataclass(frozen=True)
class Command:
    """What the listener passes on: the words heard and their intent (None if not understood)."""

    heard: Heard


@dataclass(frozen=True)
class Notice:
    """Something about the devices the person should hear: its prompt key."""

    key: str


class BlockSource(Protocol):
    """Where sound comes from: the microphone, or a recording streamed as a microphone would."""

    rate: int

    def blocks(self) -> Iterator[bytes]: ...


class WakeGate:
    """Outside a session, only the wake phrase (or the wake phrase and a command) gets through."""

    def __init__(self, table: PhraseTable, window_seconds: float = WAKE_WINDOW_SECONDS) -> None:
        self.table = table
        self.window_seconds = window_seconds
        self._open_until = 0.0

    def admit(self, heard: Heard, session_active: bool, now: float) -> tuple[Heard | None, bool]:
        """The utterance to act on (or None), and whether to acknowledge the wake phrase."""
        wake = self.table.wake_phrase
        text = heard.text
        if text == wake or text.startswith(wake + " "):
            rest = text[len(wake):].strip()
            if not rest:
                self._open_until = now + self.window_seconds
                return None, not session_active
            trusted = heard.confidence >= self.table.confidence_floor and UNKNOWN_WORD not in rest.split()
            return Heard(rest, self.table.match(rest) if trusted else None, heard.confidence), False
        if session_active or now < self._open_until:
            self._open_until = 0.0
            return heard, False
        return None, False


@dataclass(frozen=True)
class OwnVoiceControl:
    """What the speaker plays (the canceller's reference), and how to pause and resume it."""

    played: PlayedSound
    pause: Callable[[], None]
    resume: Callable[[], None]


class Listener:
    def __init__(self, model: vosk.Model, table: PhraseTable, device_name: str | None,
                 post: Callable[[Command | Notice], None], session_active: Callable[[], bool],
                 on_barge_in: Callable[[], None], record_dir: Path | None = None,
                 voice_gate: bool = True,
                 barge_in_rule: Callable[[], BargeInRule] = lambda: BARGE_IN,
                 own_voice: OwnVoiceControl | None = None) -> None:
        """``barge_in_rule``: asked each time the microphone opens (echo cancellation may come or go).
        ``own_voice``: where the assistant's voice is cancelled in the app, and how to pause it."""
        self.own_voice = own_voice
        self.model = model
        self.barge_in_rule = barge_in_rule
        self.barge_in_now = BARGE_IN
        self.voice_gate = voice_gate
        self.record_dir = record_dir
        self.table = table
        self.device_name = device_name
        self.post = post
        self.session_active = session_active
        self.on_barge_in = on_barge_in
        self.wake = WakeGate(table)
        # When the assistant spoke, as (began, ended) on the monotonic clock; ``ended`` is None while it speaks.
        self.spoken: deque[tuple[float, float | None]] = deque(maxlen=SPOKEN_SPANS_KEPT)
        self.prompt_words: frozenset[str] = frozenset()
        self.stopped = threading.Event()
        self.microphone: Microphone | None = None
        self.overflows = 0
        # None: every phrase of the table, until the session says what it expects.
        self.listening: frozenset[str] | None = None

    def open(self) -> Microphone:
        self.microphone = Microphone(self.device_name)
        return self.microphone

    def start_speaking(self, text: str) -> None:
        self.prompt_words = frozenset(re.findall(r"[a-z']+", text.lower()))
        self.spoken.append((time.monotonic(), None))

    def done_speaking(self, sound_ends_at: float) -> None:
        """The assistant's last sound leaves the speaker (and its echo the room) at ``sound_ends_at``, which may
        be still to come: what the microphone captured from then on is heard."""
        if self.spoken and self.spoken[-1][1] is None:
            self.spoken.append((self.spoken.pop()[0], sound_ends_at))

    def unspoken_part(self, captured_at: float, block: bytes, rate: int) -> bytes:
        """What of a block was captured after the assistant stopped speaking: all of it, its end, or nothing.

        Judged by when the sound was captured, not when it is read: blocks queued while the listener
        was busy, or before it started, hold the assistant's voice wherever the speaker leaks into the microphone.
        Cutting within the block keeps the start of a reply that follows a question closely.
        """
        seconds = len(block) / 2 / rate
        heard_from = 0.0
        for began, ended in list(self.spoken):
            if began >= captured_at + seconds or (ended is not None and ended <= captured_at):
                continue
            if ended is None or began > captured_at or ended >= captured_at + seconds:
                return b""
            heard_from = max(heard_from, ended - captured_at)
        return block[2 * int(heard_from * rate):]

    def run(self, missing_at_start: bool = False) -> None:
        """The listening thread: runs until stopped, reopening the microphone whenever it fails.

        A microphone missing at start has already been announced; when it comes,
        the person hears the ready line (or, mid-session, that it is back).
        """
        failures = 1 if missing_at_start else 0
        first_arrival = missing_at_start
        while not self.stopped.is_set():
            try:
                # Asked before the microphone opens: it may load again the canceller the microphone goes through.
                self.barge_in_now = self.barge_in_rule()
                microphone = self.microphone or self.open()
                if failures:
                    log.warning("The microphone is here." if first_arrival else "The microphone is back.")
                    ready = first_arrival and not self.session_active()
                    self.post(Notice("devices.ready" if ready else "devices.microphone_back"))
                failures = 0
                first_arrival = False
                self.listen(microphone)
            except AudioDeviceError as error:
                if failures == 0:
                    log.warning("%s Trying to reopen it.", error)
                    self.post(Notice("devices.microphone_lost"))
                else:
                    log.debug("no microphone yet (try %d)", failures)
                self._close()
                time.sleep(BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)])
                failures += 1
                try:
                    rescan()
                except Exception as rescan_error:  # PortAudio may be half gone: keep trying
                    log.debug("rescan failed: %s", rescan_error)

    def stop(self) -> None:
        self.stopped.set()
        self._close()

    def _record(self, blocks: list[bytes], rate: int, heard: Heard) -> None:
        """Keep what was heard, only when the person asked for it with --record-audio."""
        assert self.record_dir is not None
        self.record_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        label = re.sub(r"[^a-z]+", "-", heard.text)
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{int(time.monotonic() * 1000) % 1000:03d}"
        path = self.record_dir / f"{stamp}-{label}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(b"".join(blocks))
        path.chmod(0o600)

    def _close(self) -> None:
        if self.microphone is not None:
            self.overflows += self.microphone.overflows
            try:
                self.microphone.close()
            except Exception as error:  # closing a stream whose device vanished may fail too
                log.debug("closing the microphone failed: %s", error)
            self.microphone = None

    def expect(self, expected: Expect) -> None:
        """From the session: listen for these intents from the next utterance on."""
        self.listening = expected.intents

    def listen(self, microphone: BlockSource) -> None:
        """Hear commands in the source's blocks until it ends or the listener is stopped."""
        gate = VoiceGate(microphone.rate) if self.voice_gate else None
        # One recognizer per grammar, all sharing the model: vosk must not change a grammar mid-utterance.
        by_grammar: dict[frozenset[str] | None, CommandRecognizer] = {}

        def recognizer_for(intents: frozenset[str] | None) -> CommandRecognizer:
            if intents not in by_grammar:
                table = self.table if intents is None else self.table.restricted_to(intents)
                by_grammar[intents] = CommandRecognizer(self.model, table, microphone.rate, gate)
            return by_grammar[intents]

        listening = self.listening
        commands = recognizer_for(listening)
        barge = BargeIn(self.model, self.table, microphone.rate, self.barge_in_now)
        own_voice = self.own_voice
        canceller = OwnVoiceCanceller(own_voice.played, microphone.rate) if own_voice else None
        pause = None
        if own_voice is not None:
            pause = PauseForVoice(own_voice, microphone.rate, lambda: BargeIn(self.model, self.table, microphone.rate,
                                                                              self.barge_in_now))
        was_speaking = False
        cut_short = False
        # Blocks judged spoken over, kept in case the speaker then says its sound ended before they were captured.
        held: deque[tuple[float, bytes]] = deque(maxlen=HELD_BLOCKS)
        utterance: list[bytes] = []

        def hear(pcm: bytes) -> None:
            nonlocal commands, listening
            if self.listening != listening and commands.between_utterances:
                listening = self.listening
                commands = recognizer_for(listening)
                commands.restart()
                log.debug("listening for %s", "everything" if listening is None else ", ".join(sorted(listening)))
            if self.record_dir is not None:
                utterance.append(pcm)
                del utterance[:-RECORD_BLOCKS]
            gate_was_open = commands.gate is not None and commands.gate.is_open
            heard = commands.accept(pcm)
            # For `--verbose`: whether a voice reached the recognizer at all, when nothing is understood.
            if commands.gate is not None and commands.gate.is_open and not gate_was_open:
                log.debug("a voice began")
            if heard is not None and not heard.text:
                log.debug("the voice ended with no words recognized")
            if heard is not None and self.record_dir is not None:
                if heard.text:
                    self._record(utterance, microphone.rate, heard)
                utterance.clear()
            if heard is not None and heard.text:
                log.debug("heard %r (confidence %.2f): %s", heard.text, heard.confidence,
                          heard.intent.name if heard.intent else "no phrase")
                admitted, acknowledge = self.wake.admit(heard, self.session_active(), time.monotonic())
                if acknowledge:
                    self.post(Notice("devices.wake"))
                if admitted is not None:
                    self.post(Command(admitted))
                elif not acknowledge:
                    log.debug("ignored %r: not after the wake phrase", heard.text)

        for captured_at, block in microphone.timed_blocks():
            if self.stopped.is_set():
                return
            if self.spoken and self.spoken[-1][1] is None and time.monotonic() - self.spoken[-1][0] > MAX_MUTE_SECONDS:
                log.warning("Muting lasted too long; listening again.")
                self.done_speaking(time.monotonic())
            cleaned = canceller.clean(captured_at, block) if canceller is not None else CleanedBlock(block, block)
            block = cleaned.cancelled
            unspoken = self.unspoken_part(captured_at, block, microphone.rate)
            if len(unspoken) < len(block):
                if not was_speaking or barge.prompt_words != self.prompt_words:
                    barge.expect_echo_of(self.prompt_words)
                    was_speaking = True
                heard = None if cut_short else barge.accept(block)
                if heard is None and pause is not None and not cut_short:
                    heard = pause.accept(captured_at, cleaned, self.prompt_words)
                if heard is not None:
                    # The rest of the word must not cut the next prompt short too.
                    cut_short = True
                    log.debug("barge-in: %r (read %.2f s after capture)", heard.text, time.monotonic() - captured_at)
                    if pause is not None:
                        pause.reset()
                    self.on_barge_in()
                    self.post(Command(heard))
                if not unspoken:
                    held.append((captured_at, block))
                    continue
            if was_speaking:
                commands.reset()
                was_speaking = False
                cut_short = False
                if pause is not None:
                    pause.reset()
                utterance.clear()
                for held_at, held_block in held:
                    if late := self.unspoken_part(held_at, held_block, microphone.rate):
                        hear(late)
                held.clear()
            hear(unspoken)


class PauseForVoice:
    """While the assistant speaks with its voice cancelled: a voice beginning over a prompt pauses it, and that
    voice is heard afresh by barge-in recognizers, from a little before it began; once it has been quiet a while,
    or has gone on too long to be a barge-in phrase, the prompt goes on."""

    def __init__(self, control: OwnVoiceControl, rate: int, barge_in: Callable[[], BargeIn]) -> None:
        self.control = control
        self.rate = rate
        self.barge_in = barge_in
        self.onset = VoiceOnset(rate)
        self.recent: deque[CleanedBlock] = deque(maxlen=PRE_ROLL_BLOCKS)
        self.hearing: list[tuple[str, BargeIn]] = []
        self.paused_at = 0.0
        self.voice_until = 0.0
        self.pauses = 0

    def accept(self, captured_at: float, block: CleanedBlock, prompt_words: frozenset[str]) -> Heard | None:
        """A barge-in phrase heard in the paused prompt's silence, else None. The prompt's words stay in the
        grammar: what the canceller's suppressor leaves of a word's start is more like one of them than like a
        phrase."""
        self.recent.append(block)
        seconds = len(block.cancelled) / 2 / self.rate
        ends = captured_at + seconds
        if not self.control.played.onsets_hidden(captured_at, seconds) and self.onset.heard(block.cancelled):
            self.voice_until = ends
            if not self.hearing and self.pauses < PAUSES_PER_PROMPT:
                log.debug("a voice over the prompt: pausing it")
                self.control.pause()
                self.pauses += 1
                self.paused_at = captured_at
                self.hearing = [("cancelled", self.barge_in()), ("linear", self.barge_in())]
                for _, hearing in self.hearing:
                    hearing.expect_echo_of(prompt_words)
                return self._hear(list(self.recent))
        talking_on = ends - self.paused_at >= LONGEST_PAUSE_FOR_VOICE_SECONDS
        if self.hearing and (talking_on or ends - self.voice_until >= QUIET_BEFORE_RESUMING_SECONDS):
            log.debug("no barge-in phrase came (heard %s): going on with the prompt",
                      "; ".join(f"{kind}: {hearing.words_so_far()!r}" for kind, hearing in self.hearing))
            self.control.resume()
            self.hearing = []
            if talking_on:
                self.pauses = PAUSES_PER_PROMPT
        return self._hear([block]) if self.hearing else None

    def reset(self) -> None:
        """A new prompt: its voice is heard afresh."""
        self.hearing = []
        self.recent.clear()
        self.pauses = 0

    def _hear(self, blocks: list[CleanedBlock]) -> Heard | None:
        for block in blocks:
            for kind, hearing in self.hearing:
                if (heard := hearing.accept(block.linear if kind == "linear" else block.cancelled)) is not None:
                    log.debug("the barge-in phrase was heard in the %s sound", kind)
                    return heard
        return None


class BargeIn:
    """A strict recognizer for the few phrases that may cut the assistant short while it talks.

    Its grammar also holds every word of the prompt being spoken, so the
    assistant's own voice, heard back through the microphone, is explained by
    those words rather than mistaken for a command. A phrase seen at the end of
    a partial result is confirmed by closing the utterance at once and checking
    each of its words' confidence.
    """

    def __init__(self, model: vosk.Model, table: PhraseTable, rate: int,
                 rule: BargeInRule = BARGE_IN) -> None:
        self.model = model
        self.table = table
        self.rate = rate
        self.rule = rule
        self.phrases = {phrase: intent for phrase, intent in table.phrases.items() if intent.name in rule.intents}
        self.prompt_words: frozenset[str] = frozenset()
        self._recognizer: vosk.KaldiRecognizer | None = None

    def expect_echo_of(self, prompt_words: frozenset[str]) -> None:
        self.prompt_words = prompt_words
        phrase_words = {word for phrase in self.phrases for word in phrase.split()}
        echo = [word for word in sorted(prompt_words)
                if word not in phrase_words and self.model.vosk_model_find_word(word) != -1]
        grammar = sorted(set(self.phrases) | set(echo) | set(self.table.decoys)) + [UNKNOWN_WORD]
        self._recognizer = vosk.KaldiRecognizer(self.model, self.rate, json.dumps(grammar))
        self._recognizer.SetWords(True)

    def accept(self, block: bytes) -> Heard | None:
        """The phrase once it is heard for sure, else None."""
        assert self._recognizer is not None
        self._recognizer.AcceptWaveform(block)
        words = json.loads(self._recognizer.PartialResult()).get("partial", "").split()
        phrase = self._phrase_ending(words)
        if phrase is None:
            return None
        # Close the utterance now, without waiting for silence, to see how sure the decoder is.
        final = json.loads(self._recognizer.FinalResult()).get("result", [])
        tail = final[-len(phrase.split()):]
        if [word["word"] for word in tail] == phrase.split() and min(w["conf"] for w in tail) >= self.rule.confidence:
            return Heard(phrase, self.phrases[phrase], min(w["conf"] for w in tail))
        log.debug("barge-in candidate %r rejected: %s", phrase, tail)
        return None

    def words_so_far(self) -> str:
        """What the decoder makes of the utterance so far (which it then ends)."""
        assert self._recognizer is not None
        return " ".join(f"{word['word']}:{word['conf']:.2f}"
                        for word in json.loads(self._recognizer.FinalResult()).get("result", []))

    def _phrase_ending(self, words: list[str]) -> str | None:
        """The longest listed phrase the words end with, unless the prompt itself says a word of it."""
        for length in (3, 2, 1):
            phrase = " ".join(words[-length:]) if len(words) >= length else ""
            if phrase in self.phrases and not set(phrase.split()) & self.prompt_words:
                return phrase
        return None
