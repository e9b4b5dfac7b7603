"""Charts drawn on the server as SVG elements inside the page: no script, no chart library, no
inline style (the Content-Security-Policy allows none) - colours come from the console's style
sheet through classes, sizes from SVG's own attributes. Every label is escaped."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 40, 28, 12


def _axis_top(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 ... at least ``value``: the top of the scale."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= value:
                return top * step
        top *= 10


def hourly(title: str, hours: list[str], series: list[tuple[str, str, list[int]]]) -> Markup:
    """Grouped bars per hour: ``series`` is (label, css class, one count per hour)."""
    top = _axis_top(max([1, *(c for _, _, counts in series for c in counts)]))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(hours))
    bar = max(1.0, (slot - 4) / max(1, len(series)))
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 24}" width="100%" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}"/>']
    for fraction in (0.5, 1.0):
        y = TOP + plot_h - plot_h * fraction
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}"/>'
                     f'<text class="label" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{int(top * fraction)}</text>')
    for index, hour in enumerate(hours):
        x0 = LEFT + index * slot + 2
        for number, (label, css, counts) in enumerate(series):
            height = plot_h * counts[index] / top
            parts.append(f'<rect class="{escape(css)}" x="{x0 + number * bar:.1f}" y="{TOP + plot_h - height:.1f}" '
                         f'width="{bar:.1f}" height="{height:.1f}"><title>{escape(hour)}: {escape(label)} '
                         f'{counts[index]}</title></rect>')
        if index % 3 == 0:
            parts.append(f'<text class="label" x="{x0 + slot / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
                         f'{escape(hour[-2:])}</text>')
    x = LEFT
    for label, css, counts in series:
        parts.append(f'<rect class="{escape(css)}" x="{x}" y="{HEIGHT + 6}" width="12" height="12"/>'
                     f'<text class="label" x="{x + 16}" y="{HEIGHT + 16}">{escape(label)} ({sum(counts)})</text>')
        x += 220
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every value above is escaped or a number)


def bars(title: str, items: list[tuple[str, int]], css: str = "bar") -> Markup:
    """Horizontal bars, one per (label, count), largest first as given."""
    if not items:
        return Markup("")
    top = max(count for _, count in items)
    row, label_w, width_all = 26, 170, 480
    height = row * len(items) + 8
    parts = [f'<svg class="chart" viewBox="0 0 {width_all} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for index, (label, count) in enumerate(items):
        y = 4 + index * row
        width = (width_all - label_w - 60) * count / top
        parts.append(f'<text class="label" x="{label_w - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
                     f'<rect class="{escape(css)} {escape(css)}-{escape(label)}" x="{label_w}" y="{y + 3}" '
                     f'width="{max(width, 1):.1f}" height="18"/>'
                     f'<text class="label" x="{label_w + width + 6:.1f}" y="{y + 16}">{count}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every value above is escaped or a number)
