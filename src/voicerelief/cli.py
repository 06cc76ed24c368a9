"""The command line: argument parsing and the subcommands. No logic of its own lives here."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from voicerelief import __version__
from voicerelief.errors import VoiceReliefError
from voicerelief.session import STATE_NAMES, heard_in_state


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicerelief", description=__doc__)
    parser.add_argument("--version", action="version", version=f"voicerelief {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is heard and done")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="guide a relief session by voice")
    run.add_argument("--text", action="store_true", help="type commands instead of speaking them")
    run.add_argument("--quiet", action="store_true", help="with --text: print answers, do not speak them")
    _add_device_options(run)
    run.add_argument("--wait-for-microphone", action="store_true",
                     help="if the microphone is missing, say so and keep looking for it (the service does this)")
    run.add_argument("--record-audio", action="store_true",
                     help="keep a WAV of each utterance heard, in the data folder's recordings/ (off by default)")
    run.add_argument("--speed", type=_positive_number, default=1.0, metavar="N",
                     help="run the clock N times faster (for demonstrations and tests)")
    _add_session_options(run)
    _add_model_option(run)

    demo = commands.add_parser("demo", help="watch a scripted, sped-up session")
    demo.add_argument("--speed", type=_positive_number, default=100.0, metavar="N",
                      help="run time N times faster (default 100: under two minutes)")
    demo.add_argument("--speak", action="store_true", help="also speak the assistant's lines")
    demo.add_argument("--speak-to", type=Path, metavar="FILE",
                      help="say the assistant's lines into this WAV file instead of the speaker")
    demo.add_argument("--voice", choices=("espeak", "natural"),
                      help="with --speak or --speak-to: the voice (default: the setting)")
    _add_session_options(demo)
    _add_model_option(demo)

    recognize = commands.add_parser("recognize", help="recognize commands in WAV files")
    recognize.add_argument("--json", action="store_true", help="one JSON object per line")
    recognize.add_argument("--state", default="any", choices=("any",) + STATE_NAMES, metavar="STATE",
                           help="listen as in this state of the session, e.g. painBefore or redFlags "
                                "(default: any, every phrase)")
    recognize.add_argument("files", nargs="+", type=Path, metavar="FILE.wav")
    _add_model_option(recognize)

    devices = commands.add_parser("devices", help="list microphones and speakers")
    _add_device_options(devices)

    doctor = commands.add_parser("doctor", help="check every part and say what to fix")
    _add_device_options(doctor)
    doctor.add_argument("--data-dir", type=Path, metavar="DIR", help="where the session history is kept")
    doctor.add_argument("--placement", action="store_true",
                        help="check instead whether the microphone hears you from where you will lie")
    _add_model_option(doctor)

    config = commands.add_parser("config", help="show or change the settings file")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_commands.add_parser("show", help="print the settings")
    config_set = config_commands.add_parser("set", help="change one setting")
    config_set.add_argument("key")
    config_set.add_argument("value")

    alert = commands.add_parser("alert", help="the carers to alert when the person calls for help")
    alert_commands = alert.add_subparsers(dest="alert_command", required=True, metavar="ACTION")
    alert_add = alert_commands.add_parser("add", help="add a carer: a name said aloud, and an Apprise URL or homeassistant://USER:PASSWORD@BROKER:1883/NODE")
    alert_add.add_argument("name")
    alert_add.add_argument("url", help="for example json://192.168.1.20:8080/ or ntfy://home-server/backpain")
    alert_commands.add_parser("list", help="the carers, their URLs shortened")
    alert_remove = alert_commands.add_parser("remove", help="remove a carer")
    alert_remove.add_argument("name")
    alert_commands.add_parser("test", help="send a test alert to every carer now and say how each went")

    service = commands.add_parser("service", help="start the assistant at boot (systemd user unit)")
    service_commands = service.add_subparsers(dest="service_command", required=True, metavar="ACTION")
    service_install = service_commands.add_parser("install", help="write, enable and start the unit")
    service_install.add_argument("--dry-run", action="store_true", help="print the unit, install nothing")
    service_commands.add_parser("uninstall", help="stop, disable and remove the unit")
    service_commands.add_parser("status", help="show whether it runs")

    history = commands.add_parser("history", help="list episodes and sessions")
    history.add_argument("--json", action="store_true", help="the same as JSON")
    report = commands.add_parser("report", help="write a one-page HTML report of an episode")
    report.add_argument("--out", type=Path, required=True, metavar="FILE.html")
    report.add_argument("--episode", type=int, metavar="N", help="which episode (default: the latest)")
    export = commands.add_parser("export", help="write everything saved as JSON")
    export.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    import_ = commands.add_parser("import", help="read back an export into an empty data folder")
    import_.add_argument("file", type=Path, metavar="FILE")
    forget = commands.add_parser("forget", help="delete an episode, or everything, after confirmation")
    which = forget.add_mutually_exclusive_group(required=True)
    which.add_argument("--episode", type=int, metavar="N")
    which.add_argument("--all", action="store_true")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for data_command in (history, report, export, import_, forget):
        data_command.add_argument("--data-dir", type=Path, metavar="DIR", help="where the session history is kept")

    voice = commands.add_parser("voice", help="get the natural voice ready")
    voice_commands = voice.add_subparsers(dest="voice_command", required=True, metavar="ACTION")
    voice_prepare = voice_commands.add_parser(
        "prepare", help="render every sentence a session may say, once, so each is spoken at once (a few minutes)")
    voice_prepare.add_argument("--data-dir", type=Path, metavar="DIR", help="where the session history is kept")

    model = commands.add_parser("model", help="fetch or check the speech model")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    fetch = model_commands.add_parser("fetch", help="download and install the model (the only use of the network)")
    fetch.add_argument("--from", dest="given", type=Path, metavar="PATH",
                       help="a model folder, zip or aar to use first")
    fetch.add_argument("--force", action="store_true", help="install again even if a model is present")
    fetch.add_argument("--dest", type=Path, metavar="DIR",
                       help="where to install (default: models/ or the data folder)")
    check = model_commands.add_parser("check", help="verify the installed model file by file")
    _add_model_option(check)
    return parser


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 10000:
        raise argparse.ArgumentTypeError("must be above 0 and at most 10000")
    return value


def _add_device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-device", metavar="NAME", help="microphone whose name contains NAME")
    parser.add_argument("--output-device", metavar="NAME", help="speaker whose name contains NAME")


def _add_session_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help="where the session history is kept")
    parser.add_argument("--routine", type=Path, metavar="FILE", help="your own stretch routine (TOML)")


def _add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, metavar="DIR", help="the vosk model folder")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = None
    logging.basicConfig(format="voicerelief: %(message)s" if not args.verbose else
                        "voicerelief %(relativeCreated)7.0f ms: %(message)s",
                        level=logging.DEBUG if args.verbose else logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    try:
        if hasattr(args, "input_device"):
            # Commands that use sound devices take what an option leaves unsaid from the settings file.
            from voicerelief.config import load_config

            settings = load_config()
            args.input_device = args.input_device or settings.input_device or None
            args.output_device = args.output_device or settings.output_device or None
        args.settings = settings
        if args.command == "recognize":
            return _recognize(args)
        if args.command == "model":
            return _model(args)
        if args.command == "devices":
            from voicerelief.devices import describe_devices

            print("\n".join(describe_devices(args.input_device, args.output_device)) or "No sound devices were found.")
            return 0
        if args.command == "doctor":
            return _doctor(args)
        if args.command in ("history", "report", "export", "import", "forget"):
            return _data(args)
        if args.command == "config":
            return _config(args)
        if args.command == "service":
            return _service(args)
        if args.command == "alert":
            return _alert(args)
        if args.command == "voice":
            return _voice(args)
        return _session(args)
    except VoiceReliefError as error:
        print(f"voicerelief: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        print(f"voicerelief: {error.strerror or error}{where}; check the path and its permissions.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (as with `| head`): nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _recognize(args: argparse.Namespace) -> int:
    from voicerelief.audio_file import read_speech
    from voicerelief.commands import load_phrase_table
    from voicerelief.models import find_model
    from voicerelief.recognizer import FileRecognizer, load_model

    table = load_phrase_table()
    model = load_model(find_model(args.model), table)
    if args.state != "any":
        table = table.restricted_to(heard_in_state(args.state, table))
    recognizer = FileRecognizer(model, table)
    status = 0
    for path in args.files:
        try:
            heard, decode_ms = recognizer.recognize(read_speech(path))
        except VoiceReliefError as error:
            status = 1
            line = json.dumps({"file": str(path), "error": str(error)}) if args.json else f"{path}: error: {error}"
            print(line, flush=True)
            continue
        intent = heard.intent
        if args.json:
            print(json.dumps({
                "file": str(path),
                "text": heard.text,
                "intent": intent.name if intent else None,
                "value": intent.value if intent else None,
                "confidence": heard.confidence,
                "decode_ms": round(decode_ms, 2),
            }), flush=True)
        else:
            meaning = "nothing accepted" if intent is None else intent.name + (
                f" {intent.value}" if intent.value is not None else "")
            print(f"{path}: {meaning} (heard {heard.text!r}, confidence {heard.confidence:.2f}, "
                  f"{decode_ms:.0f} ms)", flush=True)
    return status


def _model(args: argparse.Namespace) -> int:
    from voicerelief import models

    if args.model_command == "fetch":
        destination = args.dest / models.MODEL_FOLDER_NAME if args.dest else models.default_model_dir()
        print("Fetching the speech model: this downloads about 41 MB, once.")
        models.fetch_model(destination, given=args.given, force=args.force)
        return 0
    from voicerelief.commands import load_phrase_table
    from voicerelief.recognizer import load_model

    path = models.find_model(args.model)
    table = load_phrase_table()
    load_model(path, table)
    print(f"The model at {path} is complete, supports grammar mode and knows all {len(table.words())} grammar words.")
    return 0


def _config(args: argparse.Namespace) -> int:
    from voicerelief import config

    if args.config_command == "show":
        print(f"# {config.config_path()}")
        print(config.show(config.load_config()))
    else:
        config.set_value(args.key, args.value)
        print(f"{args.key} is now {args.value} (in {config.config_path()}).")
    return 0


# A test waits this long for a lasting connection (Home Assistant's broker) before it reports failure.
TEST_CONNECT_SECONDS = 5.0


def _alert(args: argparse.Namespace) -> int:
    from datetime import datetime

    from voicerelief import carers
    from voicerelief.config import config_path

    path = carers.carers_path(config_path())
    if args.alert_command == "add":
        carers.add_carer(path, args.name, args.url)
        print(f"{args.name} will be alerted (in {path}, readable by you only). Try it: voicerelief alert test")
        return 0
    if args.alert_command == "remove":
        carers.remove_carer(path, args.name)
        print(f"{args.name} will no longer be alerted.")
        return 0
    found = carers.load_carers(path)
    if not found:
        print("No carer is set up: `voicerelief alert add NAME URL` adds one.")
        return 0 if args.alert_command == "list" else 1
    if args.alert_command == "list":
        for carer in found:
            print(f"{carer.name}: {carer.redacted()}")
        return 0
    from voicerelief.alert_delivery import reach
    from voicerelief.app import load_content

    now = datetime.now()
    body = load_content().prompts.say("alerts.test", time=now.strftime("%H:%M"))
    through = set()
    for carer in found:
        problem = reach(carer, TEST_CONNECT_SECONDS, (f"test-{now:%Y%m%dT%H%M%S}", body))
        if problem is None:
            through.add(carer.name)
        print(f"{'OK ' if problem is None else 'FIX'} {carer.name} ({carer.redacted()}): "
              f"{'the service took the test message' if problem is None else problem}")
    carers.mark_tested(path, through, datetime.now().isoformat(timespec="seconds"))
    return 0 if len(through) == len(found) else 1


def _voice(args: argparse.Namespace) -> int:
    from voicerelief import app
    from voicerelief.carers import carers_path, load_carers
    from voicerelief.config import config_path, load_config
    from voicerelief.speak import NATURAL
    from voicerelief.store import Store, default_data_dir

    settings = load_config()
    if settings.voice != NATURAL:
        print(f"The voice is espeak-ng (voice = {settings.voice!r}), which needs nothing prepared; "
              "`voicerelief config set voice natural` chooses the natural voice.")
        return 0
    content = app.load_content(None, settings, load_carers(carers_path(config_path())))
    store = Store(args.data_dir or default_data_dir())
    try:
        voice = app.spoken_voice(store, settings)
    finally:
        store.close()
    print("Preparing the natural voice: every sentence a session may say is rendered once and kept.", flush=True)
    rendered = app.prepare_voice(content, voice, ProgressLine(sys.stdout))
    print(f"The natural voice is ready: {rendered} new sentences rendered." if rendered else
          "The natural voice is ready: every sentence was already rendered.")
    return 0


class ProgressLine:
    """Sentences done and the time left, on one line redrawn in a terminal, a line per tenth elsewhere."""

    WIDTH = 30

    def __init__(self, out) -> None:
        self.out = out
        self.began = time.monotonic()
        self.shown_tenths = -1

    def __call__(self, done: int, total: int) -> None:
        if total == 0:
            return
        elapsed = time.monotonic() - self.began
        left = f"about {_duration(elapsed / done * (total - done))} left" if done else "estimating the time left"
        filled = self.WIDTH * done // total
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} sentences, {left}"
        if self.out.isatty():
            self.out.write(f"\r{line}" + ("\n" if done == total else ""))
        elif done * 10 // total > self.shown_tenths:
            self.shown_tenths = done * 10 // total
            self.out.write(line + "\n")
        self.out.flush()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _service(args: argparse.Namespace) -> int:
    from voicerelief import service

    if args.service_command == "install":
        print(service.unit_text() if args.dry_run else service.install())
    elif args.service_command == "uninstall":
        print(service.uninstall())
    else:
        print(service.status())
    return 0


def _data(args: argparse.Namespace) -> int:
    from datetime import datetime

    from voicerelief import history
    from voicerelief.store import Store, default_data_dir

    store = Store(args.data_dir or default_data_dir())
    try:
        if args.command == "history":
            found = history.episodes(store)
            print(json.dumps(history.as_json(found), indent=2) if args.json else history.table(found))
        elif args.command == "report":
            from voicerelief.report import write_report

            found = {e.number: e for e in history.episodes(store)}
            if not found:
                raise VoiceReliefError("No episode is saved yet, so there is nothing to report.")
            number = args.episode if args.episode is not None else max(found)
            if number not in found:
                raise VoiceReliefError(f"There is no episode {number}; the episodes are {sorted(found)}.")
            print(f"Report written to {write_report(found[number], args.out, datetime.now())}")
        elif args.command == "export":
            text = json.dumps(store.export(), indent=1)
            if args.out:
                args.out.write_text(text + "\n", encoding="utf-8")
                os.chmod(args.out, 0o600)
            else:
                print(text)
        elif args.command == "import":
            try:
                exported = json.loads(args.file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise VoiceReliefError(f"{args.file} cannot be read as an export ({error}).") from None
            print(f"Imported {store.import_(exported)} events.")
        else:
            what = "everything saved" if args.all else f"episode {args.episode}"
            if not args.yes:
                print(f"This deletes {what} for good. Type yes to go on: ", end="", flush=True)
                if sys.stdin.readline().strip().lower() != "yes":
                    print("Nothing was deleted.")
                    return 1
            removed = store.forget(None if args.all else args.episode)
            print(f"Deleted {removed} events of {what}.")
    finally:
        store.close()
    return 0


def _doctor(args: argparse.Namespace) -> int:
    if args.placement:
        return _placement(args)
    from voicerelief.config import load_config
    from voicerelief.doctor import examine
    from voicerelief.store import default_data_dir

    findings = examine(args.model, args.input_device, args.output_device, args.data_dir or default_data_dir(),
                       args.settings or load_config())
    for finding in findings:
        print(finding.line())
    return 0 if all(f.ok for f in findings) else 1


def _placement(args: argparse.Namespace) -> int:
    from voicerelief.commands import load_phrase_table
    from voicerelief.microphone import Microphone
    from voicerelief.models import find_model
    from voicerelief.placement import GOOD_SPEECH_OVER_NOISE_DB, assess, record_test_phrase
    from voicerelief.prompts import load_prompts
    from voicerelief.recognizer import load_model
    from voicerelief.speak import PromptRenderer, Speaker, Voice, speech_cache

    prompts = load_prompts()
    table = load_phrase_table()
    model = load_model(find_model(args.model), table)
    speaker = Speaker(PromptRenderer(speech_cache(), Voice()), args.output_device)

    def say(key: str) -> None:
        print(f"Relief: {prompts.say(key)}", flush=True)
        speaker.say(prompts.say(key))

    say("placement.ask")
    microphone = Microphone(args.input_device)
    try:
        print("Listening for the test phrase.", flush=True)
        samples = record_test_phrase(microphone)
    finally:
        microphone.close()
    placement = assess(samples, microphone.rate, model, table.confidence_floor)
    print(f"speech {placement.speech_dbfs:.0f} dBFS, room noise {placement.noise_dbfs:.0f} dBFS: "
          f"{placement.speech_over_noise_db:.0f} dB of speech over noise ({GOOD_SPEECH_OVER_NOISE_DB:.0f} dB or more is good)")
    print(f"heard: {placement.heard or 'nothing'!r} (confidence {placement.confidence:.2f})")
    print(f"verdict: {'this place is good' if placement.good else 'move the microphone closer'}", flush=True)
    say(placement.verdict_key)
    return 0 if placement.good else 1


def _stop_on_terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _session(args: argparse.Namespace) -> int:
    from voicerelief import app
    from voicerelief.carers import carers_path, load_carers
    from voicerelief.config import config_path, load_config
    from voicerelief.store import Store, default_data_dir

    signal.signal(signal.SIGTERM, _stop_on_terminate)
    carers = load_carers(carers_path(config_path())) if args.command == "run" else ()
    content = app.load_content(args.routine, args.settings or load_config(), carers)
    store = Store(args.data_dir or default_data_dir(), exclusive=True)
    try:
        from voicerelief.clock import ScaledClock, SystemClock
        from voicerelief.models import find_model

        if args.command == "demo":
            settings = args.settings or load_config()
            voice = replace(settings, voice=args.voice) if args.voice else settings
            return app.run_demo(content, store, find_model(args.model), args.speed, args.speak, voice, args.speak_to)
        clock = SystemClock() if args.speed == 1.0 else ScaledClock(args.speed)
        if args.text:
            return app.run_text(content, store, not args.quiet, args.output_device, clock, args.settings)
        data_dir = args.data_dir or default_data_dir()
        recordings = data_dir / "recordings" if args.record_audio else None
        return app.run_voice(content, store, args.model, args.input_device, args.output_device, clock,
                             recordings, args.settings, args.wait_for_microphone)
    finally:
        store.close()
