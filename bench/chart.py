#!/usr/bin/env python3
"""Draw bench/results.svg from the table in bench/RESULTS.md (Python standard library only).

    python3 bench/chart.py [RESULTS_MD [SVG]]      # defaults: bench/RESULTS.md, bench/results.svg

`bench/run` calls it right after writing RESULTS.md, so the chart always shows the same numbers
as the table: for each client-comparison item (HTTP and stdio, `tools list` and `tools call`),
one horizontal bar per client (the protocol floor, mcpchat, the MCP Inspector CLI, the fastmcp
CLI) at its median wall time, on a log scale; for each kept-alive item, mcpchat direct and
kept alive beside mcporter's daemon and mcpc's session. Profiling rows are left out. Nothing is typed in
by hand: change the numbers by running the benchmark again.
"""

import html
import math
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLOURS = {
    "floor": "#9e9e9e", "mcpchat": "#1565c0", "Inspector": "#ef6c00", "fastmcp": "#6a1b9a",
    "mcpchat kept": "#64b5f6", "mcporter": "#2e7d32", "mcpc": "#c62828",
}
ROW_H, GAP, LEFT, RIGHT, TOP = 18, 14, 300, 150, 64
WIDTH = 900


def client_of(run):
    """Which client a row of the table measured, or None for rows that are not a client."""
    if run.startswith("floor"):
        return "floor"
    if run == "mcpchat":
        return "mcpchat"
    if run.startswith("Inspector CLI"):
        return "Inspector"
    if run.startswith("fastmcp CLI"):
        return "fastmcp"
    return None


def kept_client(run):
    """(client, short label) of a row of a kept-alive item, or None."""
    for prefix, client, label in (
        ("mcpchat, direct", "mcpchat", "mcpchat direct"),
        ("mcpchat, through the daemon", "mcpchat kept", "mcpchat kept alive"),
        ("mcpchat, `keep_alive: true`: kept", "mcpchat kept", "mcpchat kept alive"),
        ("mcpchat, `keep_alive: true`: **direct**", "mcpchat", "mcpchat keep_alive (direct)"),
        ("mcporter", "mcporter", "mcporter daemon"),
        ("mcpc", "mcpc", "mcpc session"),
    ):
        if run.startswith(prefix):
            return client, label
    return None


def parse(text):
    """[(item, [(run, client, ms)])] for the items that compare clients."""
    groups, item = [], None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not line.startswith("|") or set(cells[0]) <= {"-"} and cells[0]:
            continue
        if cells[0] == "item":
            continue
        if cells[0]:
            item = cells[0]
            groups.append((item, []))
        run, client = cells[1], client_of(cells[1])
        if item and item.startswith("kept alive: `"):
            client, run = kept_client(cells[1]) or (None, run)
        median = re.match(r"([\d.]+) (ms|s)\b", cells[2])
        if client and median and item and ("HTTP" in item or "stdio" in item):
            ms = float(median.group(1)) * (1000 if median.group(2) == "s" else 1)
            groups[-1][1].append((run, client, ms))
    return [(item, bars) for item, bars in groups if any(c == "mcpchat" for _, c, _ in bars)]


def svg(groups, subtitle):
    values = [ms for _, bars in groups for _, _, ms in bars]
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values)))
    span = WIDTH - LEFT - RIGHT

    def x(ms):
        return LEFT + span * (math.log10(ms) - math.log10(low)) / (math.log10(high) - math.log10(low))

    height = TOP + sum(len(b) * ROW_H + GAP + 20 for _, b in groups) + 50
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        '<text x="12" y="24" font-size="16" font-weight="bold">mcpchat against the protocol floor '
        "and other MCP clients</text>",
        f'<text x="12" y="44" fill="#555">{html.escape(subtitle)}</text>',
    ]
    y = TOP
    for item, bars in groups:
        out.append(f'<text x="12" y="{y + 12}" font-weight="bold">{html.escape(clean(item))}</text>')
        y += 20
        for run, client, ms in bars:
            out.append(f'<text x="{LEFT - 8}" y="{y + 13}" text-anchor="end">{html.escape(clean(run))}</text>')
            out.append(
                f'<rect x="{LEFT}" y="{y + 2}" width="{max(x(ms) - LEFT, 1):.1f}" height="{ROW_H - 4}" '
                f'fill="{COLOURS[client]}"/>'
            )
            out.append(f'<text x="{x(ms) + 6:.1f}" y="{y + 13}">{format_ms(ms)}</text>')
            y += ROW_H
        y += GAP
    # The log axis: one gridline per power of ten.
    decade = low
    while decade <= high:
        gx = x(decade)
        out.append(f'<line x1="{gx:.1f}" y1="{TOP - 6}" x2="{gx:.1f}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{gx:.1f}" y="{y + 16}" text-anchor="middle" fill="#555">{format_ms(decade)}</text>')
        decade *= 10
    out.append(
        f'<text x="{LEFT + span / 2:.0f}" y="{y + 34}" text-anchor="middle" fill="#555">'
        "median wall time of the whole command, log scale (lower is faster)</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def clean(text):
    return text.replace("`", "")


def format_ms(ms):
    if ms >= 1000:
        return f"{ms / 1000:g} s"
    return f"{ms:g} ms"


def main():
    results = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "RESULTS.md"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "results.svg"
    text = results.read_text()
    groups = parse(text)
    if not groups:
        sys.exit(f"chart.py: no client comparison rows in {results}")
    date = re.search(r"^- date: (.+?)(?: \(|$)", text, re.M)
    machine = re.search(r"^- machine: ([^,]+, [^,]+)", text, re.M)
    subtitle = "bench/RESULTS.md" + "".join(
        f", {m.group(1)}" for m in (date, machine) if m
    )
    target.write_text(svg(groups, subtitle))
    print(f"chart.py: wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
