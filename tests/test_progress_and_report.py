"""Progress, history, the report, export and forget, on a database filled by five days of sessions."""

import json
from contextlib import closing
import sqlite3
import subprocess
import sys
from datetime import timedelta

import pytest

from harness import MONDAY_8AM, Harness
from voicerelief import history
from voicerelief.report import pain_chart, render_html
from voicerelief.store import DATABASE_NAME, Store


def later_session(run: Harness, pain_before: str) -> None:
    run.say("start")
    run.answer_every_safety_question("no")
    run.say(pain_before)
    run.say("yes")


def finish(run: Harness, pain_after: str) -> None:
    run.say("no")
    run.say(pain_after)
    run.say("yes")


def five_days(run: Harness) -> None:
    """Day 0 to 2: an ice round a day; day 3 and 4: heat; one late ice removal, one stopped stretch."""
    run.first_session_to_rest(onset="this morning", pain="eight")
    run.ice_round()
    run.say("yes")
    run.say("skip")
    run.say("ready")
    run.say("ouch")
    run.say("six")
    run.say("yes")
    for day, before, after in ((1, "six", "five"), (2, "five", "four")):
        run.clock.set(MONDAY_8AM + timedelta(days=day, hours=1))
        later_session(run, before)
        run.ice_round(minutes_late=3)
        finish(run, after)
    for day, before, after in ((3, "four", "three"), (4, "three", "two")):
        run.clock.set(MONDAY_8AM + timedelta(days=day, hours=2))
        later_session(run, before)
        run.say("ready")
        run.say("ready")
        run.wait(minutes=15)
        run.say("done")
        finish(run, after)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    run = Harness(tmp_path_factory.mktemp("five-days"))
    five_days(run)
    return run


def test_how_am_i_doing_is_answered_from_the_episode(filled):
    spoken = filled.say("how am i doing")
    assert spoken[0] == "Your first pain score was 8. The latest is 2. The best was 2."
    assert spoken[1] == "Ice rounds today: 0. In all: 3. Heat sessions today: 1. In all: 2."
    assert spoken[2].startswith("Your next heat can start ")


def test_a_clinician_is_suggested_when_pain_is_not_easing_after_a_week(tmp_path):
    run = Harness(tmp_path / "d")
    run.first_session_to_rest(onset="last week", pain="six")
    run.say("start heat")
    run.say("ready")
    spoken = run.say("my progress")
    assert spoken[0] == "Your first pain score was 6. The latest is 6. The best was 6."
    assert "see a doctor or physiotherapist" in spoken[-1]


def test_history_lists_every_session(filled):
    found = history.episodes(filled.store)
    assert len(found) == 1 and len(found[0].sessions) == 5
    assert [(s.pain_before, s.pain_after) for s in found[0].sessions] == [(8, 6), (6, 5), (5, 4), (4, 3), (3, 2)]
    text = history.table(found)
    assert text.count("→") == 5
    assert json.loads(json.dumps(history.as_json(found)))[0]["number"] == 1


def test_the_chart_has_every_pain_score_and_a_band_per_ice_and_heat_period(filled):
    episode = history.episodes(filled.store)[0]
    figure = pain_chart(episode, filled.clock.now())
    axes = figure.axes[0]
    pain_line = next(line for line in axes.lines if line.get_gid() == "pain")
    assert list(pain_line.get_ydata()) == [8, 6, 6, 5, 5, 4, 4, 3, 3, 2]
    bands = [patch.get_gid() for patch in axes.patches]
    assert bands.count("band-ice") == 6 and bands.count("band-heat") == 2
    assert len(episode.late_removals) == 2


def test_the_report_is_one_offline_page(filled, tmp_path):
    page = render_html(history.episodes(filled.store)[0], filled.clock.now())
    assert "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "back flattening" in page and "Late ice removals" in page
    out = tmp_path / "report.html"
    result = subprocess.run([sys.executable, "-m", "voicerelief", "report", "--data-dir", str(filled.data_dir),
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.read_text().count("<tr>") == 6


def test_export_then_import_gives_the_same_data(filled, tmp_path):
    exported = filled.store.export()
    fresh = Store(tmp_path / "copy")
    assert fresh.import_(exported) == len(exported["events"])
    assert fresh.export() == exported
    with pytest.raises(Exception, match="already holds"):
        fresh.import_(exported)


def test_forget_really_deletes(tmp_path):
    run = Harness(tmp_path / "d")
    five_days(run)
    run.clock.set(MONDAY_8AM + timedelta(days=40))
    run.first_session_to_rest(pain="nine")
    database = tmp_path / "d" / DATABASE_NAME
    run.store.close()
    result = subprocess.run([sys.executable, "-m", "voicerelief", "forget", "--episode", "1", "--data-dir",
                             str(tmp_path / "d")], input="yes\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT count(*) FROM events WHERE episode = 1").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM events WHERE episode = 2").fetchone()[0] > 0
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0, "the file was vacuumed"
    assert b"back flattening" not in database.read_bytes()
    kept = database.read_bytes()
    refused = subprocess.run([sys.executable, "-m", "voicerelief", "forget", "--all", "--data-dir",
                              str(tmp_path / "d")], input="no\n", capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and database.read_bytes() == kept
    subprocess.run([sys.executable, "-m", "voicerelief", "forget", "--all", "--yes", "--data-dir",
                    str(tmp_path / "d")], check=True, capture_output=True, timeout=60)
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM memory").fetchone()[0] == 0
