"""docs/measurements.md is rendered from the benches' results, and says when a result predates the code."""

import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import publish  # noqa: E402


def test_the_page_is_what_the_results_render():
    assert publish.PAGE.read_text() == publish.render(), \
        "docs/measurements.md differs from the results: run `.venv/bin/python bench/publish.py` and commit it"


def test_a_changed_figure_shows_and_a_result_older_than_its_code_says_so(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(publish.RESULTS, results)
    result = json.loads((results / "barge_in.json").read_text())
    # Other results may be older than their code: change the digest of a file no mark names yet.
    named = {name for files in stale_marks(publish.render(results)) for name in files.split(", ")}
    changed = next(path for path in result["measured"] if Path(path).name not in named)
    row = result["with_aec"]["-6"]
    row["prompt"]["heard"] = (row["prompt"]["heard"] + 1) % (row["prompt"]["trials"] + 1)
    result["measured"][changed] = "0" * 16
    (results / "barge_in.json").write_text(json.dumps(result))
    page = publish.render(results)
    assert f"| -6 dB | in the app | {row['prompt']['heard']} of {row['prompt']['trials']} " in page
    assert any(Path(changed).name in files.split(", ") for files in stale_marks(page))


def stale_marks(page: str) -> list[str]:
    """The files named in each "before later changes to ..." mark of the page."""
    return re.findall(r"before later changes to ([^*]*)\*\*", page)


def test_every_result_is_stamped_and_has_a_section():
    sections = {section.bench for section in publish.SECTIONS}
    for path in sorted(publish.RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        assert path.stem in sections, f"{path.name} is published nowhere"
        assert {"commit", "date", "cpu", "measured"} <= set(result), f"{path.name} is not stamped"
    assert not list(publish.RESULTS.glob("*.txt")), "a bench result kept as text cannot be rendered"
