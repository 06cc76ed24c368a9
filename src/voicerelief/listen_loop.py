"""The listen-and-answer loop: says back each command it hears."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import platformdirs

from voicerelief.commands import PhraseTable, load_phrase_table
from voicerelief.prompts import Prompts, load_prompts

REQUIRED_PROMPTS = {
    "listen.ready": set(),
    "listen.heard": {"phrase"},
    "listen.not_understood": set(),
    "listen.goodbye": set(),
}


def _answer(table: PhraseTable, prompts: Prompts, text: str) -> tuple[str, bool]:
    """What to say back to ``text``, and whether the loop should end."""
    intent = table.match(text)
    if intent is None:
        return prompts.say("listen.not_understood"), False
    if intent.name == "goodbye":
        return prompts.say("listen.goodbye"), True
    return prompts.say("listen.heard", phrase=" ".join(text.lower().split())), False


def run_echo(args: argparse.Namespace) -> int:
    from voicerelief.speak import PromptRenderer, Speaker, Voice

    table = load_phrase_table()
    prompts = load_prompts(required=REQUIRED_PROMPTS)
    renderer = PromptRenderer(Path(platformdirs.user_cache_dir("voicerelief")) / "speech", Voice())
    speaker = Speaker(renderer, args.output_device)
    speak = print if (args.text and args.quiet) else speaker.say
    try:
        if args.text:
            speak(prompts.say("listen.ready"))
            for line in sys.stdin:
                answer, done = _answer(table, prompts, line)
                speak(answer)
                if done:
                    break
            return 0
        return _listen(args, table, prompts, speak)
    finally:
        renderer.close()


def _listen(args: argparse.Namespace, table: PhraseTable, prompts: Prompts, speak) -> int:
    from voicerelief.microphone import Microphone
    from voicerelief.models import find_model
    from voicerelief.recognizer import CommandRecognizer, load_model

    microphone = Microphone(args.input_device)
    try:
        recognizer = CommandRecognizer(load_model(find_model(args.model), table), table, microphone.rate)
        speak(prompts.say("listen.ready"))
        microphone.drain()
        for block in microphone.blocks():
            heard = recognizer.accept(block)
            if heard is None or not heard.text:
                continue
            answer, done = _answer(table, prompts, heard.text if heard.intent else "")
            speak(answer)
            microphone.drain()
            recognizer.reset()
            if done:
                return 0
    finally:
        microphone.close()
    return 0
