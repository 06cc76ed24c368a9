"""A one-page report of an episode, for the person and their clinician: HTML with the chart inside it."""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime
from pathlib import Path

from voicerelief.history import Episode

BAND_COLOURS = {"ice": "#7fb3e6", "heat": "#f2a65a"}


def pain_chart(episode: Episode, now: datetime):
    """Pain scores over time, with ice and heat periods as bands on the same time axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=(9, 3.6), dpi=110)
    axes = figure.subplots()
    for period in episode.periods:
        axes.axvspan(period.start, period.end or now, color=BAND_COLOURS[period.kind], alpha=0.45, lw=0,
                     gid=f"band-{period.kind}")
    times = [moment for moment, _ in episode.pains]
    scores = [score for _, score in episode.pains]
    axes.plot(times, scores, marker="o", color="#b3261e", lw=1.6, gid="pain")
    axes.set_ylim(0, 10.5)
    axes.set_ylabel("pain (0 to 10)")
    axes.set_title(f"Episode {episode.number}: pain, with ice and heat periods")
    axes.xaxis.set_major_formatter(dates.DateFormatter("%a %d\n%H:%M"))
    axes.grid(axis="y", alpha=0.3)
    axes.legend(handles=[Patch(color=BAND_COLOURS["ice"], alpha=0.45, label="ice on"),
                         Patch(color=BAND_COLOURS["heat"], alpha=0.45, label="heat on"),
                         axes.lines[0]], labels=["ice on", "heat on", "pain score"], loc="upper right")
    figure.tight_layout()
    return figure


def render_html(episode: Episode, now: datetime) -> str:
    figure = pain_chart(episode, now)
    png = io.BytesIO()
    figure.savefig(png, format="png")
    image = base64.b64encode(png.getvalue()).decode("ascii")
    flags = "".join(f"<li>{'all questions' if question == 'all' else html.escape(question)}: {html.escape(answer)}</li>"
                    for question, answer in episode.red_flags)
    late = "".join(f"<li>{p.start:%a %d %b %H:%M}, removed {p.end:%H:%M}</li>" for p in episode.late_removals if p.end)
    rows = "".join(
        f"<tr><td>{s.started:%a %d %b %H:%M}</td><td>{_score(s.pain_before)}</td><td>{_score(s.pain_after)}</td>"
        f"<td>{s.ice_rounds}</td><td>{s.heat}</td><td>{html.escape(', '.join(s.stretches_done)) or '-'}</td>"
        f"<td>{html.escape(', '.join(s.stretches_stopped)) or '-'}</td></tr>" for s in episode.sessions)
    onset = f"{episode.onset:%A %d %B %Y, %H:%M}" if episode.onset else "not given"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>VoiceRelief report, episode {episode.number}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 1.5em auto; color: #222; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.1em; margin-top: 1.2em; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #ccc; padding: 0.25em 0.5em; }}
img {{ width: 100%; }} .note {{ font-size: 0.85em; color: #555; }}
</style></head><body>
<h1>Back spasm episode {episode.number}</h1>
<p>Spasm began: {onset}. Report made {now:%A %d %B %Y, %H:%M}.</p>
<img alt="Pain scores over time, with ice and heat periods" src="data:image/png;base64,{image}">
<h2>Sessions</h2>
<table><tr><th>session</th><th>pain before</th><th>pain after</th><th>ice rounds</th><th>heat</th>
<th>stretches done</th><th>stretches stopped or skipped</th></tr>{rows}</table>
<h2>Red-flag answers</h2><ul>{flags or "<li>none recorded</li>"}</ul>
<h2>Late ice removals</h2><ul>{late or "<li>none</li>"}</ul>
<p class="note">Made by VoiceRelief, a self-care assistant. It is not a diagnosis and not a substitute
for a clinician.</p>
</body></html>
"""


def write_report(episode: Episode, out: Path, now: datetime) -> Path:
    out.write_text(render_html(episode, now), encoding="utf-8")
    out.chmod(0o600)
    return out


def _score(value: int | None) -> str:
    return "-" if value is None else str(value)
