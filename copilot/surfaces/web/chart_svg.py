"""A chart (``charts.Chart``) drawn as a small accessible inline SVG: no script, no style
attribute, no external reference (the pages' Content-Security-Policy allows none), and
every text escaped, since titles and change notes come from tool output."""

from __future__ import annotations

import hashlib
from datetime import datetime
from xml.sax.saxutils import escape

from copilot.surfaces.web.charts import _CONTROL, Chart, _at, _clock, format_value

WIDTH, HEIGHT = 240, 60
LEFT, RIGHT, TOP, BOTTOM = 44.0, 192.0, 6.0, 46.0  # the plot area; labels around it
FONT = 'font-size="9" fill="currentColor"'


def _esc(text: str) -> str:
    """Text or attribute content: control characters dropped, XML special characters escaped."""
    return escape(_CONTROL.sub("", text), {'"': "&quot;", "'": "&#x27;"})


def chart_id(chart: Chart) -> str:
    """A stable id for the chart's elements, unique per distinct chart on a page."""
    key = "\x1f".join([chart.title, chart.unit, *chart.fact_ids, chart.points[-1][0]])
    return "chart-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _f(x: float) -> str:
    return f"{x:.1f}"


def svg(chart: Chart) -> str:
    """The chart as an accessible inline SVG line chart (about 240x60): the axis range
    (from 0, so a small wobble does not look like an outage), a dashed line at each change
    inside the span, the last value labelled, each point's time and raw value on hover."""
    cid = chart_id(chart)
    times = [_at(at) for at, _ in chart.points]
    values = [v for _, v in chart.points]
    lo, hi = min(0.0, *values), max(0.0, *values)
    flat = hi == lo
    if flat:
        hi = lo + 1.0  # all zero: a line along the bottom
    t0, t1 = times[0], times[-1]
    spread = (t1 - t0).total_seconds()

    def x(t: datetime) -> float:
        return RIGHT if spread <= 0 else LEFT + (t - t0).total_seconds() / spread * (RIGHT - LEFT)

    def y(v: float) -> float:
        return BOTTOM - (v - lo) / (hi - lo) * (BOTTOM - TOP)

    labels = _clock(times)
    fmt = [format_value(v, chart.unit) for v in values]
    low_i, high_i = values.index(min(values)), values.index(max(values))
    desc = (
        f"{len(values)} reading{'s' if len(values) > 1 else ''} from {labels[0]} to "
        f"{labels[-1]} UTC; lowest {fmt[low_i]}, highest {fmt[high_i]}, last {fmt[-1]} "
        f"at {labels[-1]}."
    )
    if chart.marks:
        desc += " Marked: " + "; ".join(f"{_at(at):%H:%M} {text}" for at, text in chart.marks)
    desc += f" Source: {', '.join(chart.fact_ids)}."
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{cid}-title" aria-describedby="{cid}-desc">',
        f'<title id="{cid}-title">{_esc(chart.title)}</title>',
        f'<desc id="{cid}-desc">{_esc(desc)}</desc>',
        f'<line x1="{_f(LEFT)}" y1="{_f(y(0.0))}" x2="{_f(RIGHT)}" y2="{_f(y(0.0))}" '
        'stroke="currentColor" stroke-opacity="0.3" stroke-width="1"/>',
        f'<text x="{_f(LEFT - 4)}" y="{_f(BOTTOM)}" text-anchor="end" {FONT}>'
        f"{_esc(format_value(lo, chart.unit))}</text>",
    ]
    if not flat:
        out.append(
            f'<text x="{_f(LEFT - 4)}" y="{_f(TOP + 6)}" text-anchor="end" {FONT}>'
            f"{_esc(format_value(hi, chart.unit))}</text>"
        )
    for at, text in chart.marks:
        if t0 <= (t := _at(at)) <= t1:
            mx = _f(x(t))
            out.append(
                f'<line x1="{mx}" y1="{_f(TOP)}" x2="{mx}" y2="{_f(BOTTOM)}" stroke="currentColor" '
                'stroke-opacity="0.5" stroke-width="1" stroke-dasharray="2 2">'
                f"<title>{_esc(f'{t:%H:%M} {text}')}</title></line>"
            )
    xy = [(x(t), y(v)) for t, v in zip(times, values, strict=True)]
    if len(xy) > 1:
        out.append(
            '<polyline points="'
            + " ".join(f"{_f(px)},{_f(py)}" for px, py in xy)
            + '" fill="none" stroke="currentColor" stroke-width="1.5" '
            'stroke-linejoin="round" stroke-linecap="round"/>'
        )
    lx, ly = xy[-1]
    out.append(f'<circle cx="{_f(lx)}" cy="{_f(ly)}" r="2" fill="currentColor"/>')
    out.append(
        f'<text x="{_f(RIGHT + 4)}" y="{_f(min(max(ly + 3, TOP + 6), BOTTOM))}" {FONT}>'
        f"{_esc(fmt[-1])}</text>"
    )
    out.append(
        f'<text x="{_f(RIGHT)}" y="{HEIGHT - 3}" text-anchor="end" font-size="8" '
        f'fill="currentColor">{_esc(labels[-1])} UTC</text>'
    )
    if spread > 0:
        out.append(
            f'<text x="{_f(LEFT)}" y="{HEIGHT - 3}" font-size="8" fill="currentColor">'
            f"{_esc(labels[0])}</text>"
        )
    # Invisible hover targets, drawn last so they sit on top of the line.
    for (px, py), label, shown in zip(xy, labels, fmt, strict=True):
        out.append(
            f'<circle cx="{_f(px)}" cy="{_f(py)}" r="4" fill="currentColor" fill-opacity="0">'
            f"<title>{_esc(f'{label} UTC: {shown}')}</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)
