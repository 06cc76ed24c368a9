"""The typed bench figures (docs/bench-figures.md) say what the benches printed: each figure is in the bench's saved output."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Each measured section of docs/bench-figures.md, by its bold opening words, and the bench output it quotes.
SECTIONS = {
    "**Recognition**": "recognize.txt",
    "**Per state**": "recognize.txt",
    "**Audio loop**": "loop.txt",
    "**Background speech**": "false_accepts.txt",
    "**Voice gate**": "gate.txt",
    "**Across the room**": "far_field.txt",
    "**Tried at 2 m**": "far_field_sweep.txt",
    "**Calling a carer**": "alert.txt",
    "**Instructions per second of audio**": "instructions.txt",
    "**Projection to a Raspberry Pi.**": "instructions.txt",
    "**The two voices**": "voice.txt",
    "**Rendering cost on a Pi**": "voice_instructions.txt",
}
NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)(?![\w.]*\d)")


def figures(text: str) -> list[tuple[str, float, int]]:
    """Every number in ``text``: as written, its value, and its decimal places."""
    found = []
    for match in NUMBER.finditer(text):
        written = match.group(1)
        decimals = len(written.split(".")[1]) if "." in written else 0
        found.append((written, float(written.replace(",", "")), decimals))
    return found


def table_figures(section: str) -> list[str]:
    """The numbers in a section's table cells, the first column (what is measured) left out."""
    rows = [line for line in section.splitlines() if line.startswith("|") and not set(line) <= set("|-: ")]
    return [written for row in rows[1:] for cell in row.strip("|").split("|")[1:] for written, _, _ in figures(cell)]


def printed(figure: str, values: list[float]) -> bool:
    """Whether a bench value, in the same unit or a thousandth or hundredth of it (ms, %), rounds to ``figure``."""
    [(_, wanted, decimals)] = figures(figure)
    return any(round(value * scale, decimals) == wanted for value in values for scale in (1, 100, 1000))


def page_section(lead: str) -> str:
    page = (ROOT / "docs" / "bench-figures.md").read_text()
    start = page.index(lead)
    ends = [page.find(mark, start + len(lead)) for mark in ("\n**", "\n- **", "\n## ")]
    return page[start:min((end for end in ends if end >= 0), default=len(page))]


@pytest.mark.parametrize("lead", SECTIONS)
def test_every_figure_in_a_typed_table_is_in_the_bench_output(lead):
    output = ROOT / "bench" / "results" / SECTIONS[lead]
    assert output.is_file(), f"{lead} quotes {output.name}, which is not in bench/results"
    values = [value for _, value, _ in figures(output.read_text())]
    quoted = table_figures(page_section(lead))
    assert quoted, f"{lead} has no table of figures"
    assert [figure for figure in quoted if not printed(figure, values)] == []


def test_a_changed_figure_is_caught():
    values = [value for _, value, _ in figures("answer latency p50 | 305 ms | 0.836 s | 93.2% | 0.932")]
    assert printed("305", values) and printed("836", values) and printed("93.2", values)
    assert not printed("306", values) and not printed("93.3", values)
