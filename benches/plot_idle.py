#!/usr/bin/env python3
"""Helpers for benches/idle.sh (Python 3 standard library only, no matplotlib).

    plot_idle.py row SERVER < experiment-output   RESULT line -> one TSV row on stdout
    plot_idle.py header                           the TSV header line
    plot_idle.py table idle.tsv                   the Markdown table on stdout
    plot_idle.py svg idle.tsv docs/idle.svg       threads and RSS against N, one line per server

The TSV has one row per (server, N) run; columns are HEADER below. "-" means "not measured".
"""

import math
import shlex
import sys
from html import escape

# TSV columns, in order; most are fields of the experiment's RESULT line.
HEADER = [
    "server", "connections", "served", "held", "closed_by_server", "threads_before", "threads",
    "rss_before_kib", "rss_kib", "rss_per_conn_kib", "fresh", "fresh_ok", "fresh_failed",
    "fresh_p50_ms", "fresh_p99_ms", "fresh_max_ms", "open_s", "limit",
]

# Series order and colours in the chart (plot_bars.py uses them too).
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f"]


def parse_result(text):
    """The key=value fields of the last RESULT line in `text`, or None."""
    for line in reversed(text.splitlines()):
        if line.startswith("RESULT "):
            fields = {}
            for item in shlex.split(line[len("RESULT "):]):
                key, _, value = item.partition("=")
                fields[key] = value
            return fields
    return None


def cmd_row(server):
    text = sys.stdin.read()
    fields = parse_result(text)
    if fields is None:
        # No RESULT line: the experiment itself failed; keep its last words as the "limit".
        last = next((l.strip() for l in reversed(text.splitlines()) if l.strip()), "no output")
        fields = {"limit": "experiment failed: " + last}
    fields["server"] = server
    values = [fields.get(column, "-").replace("\t", " ").replace("\n", " ") for column in HEADER]
    print("\t".join(values))


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def thousands(value):
    n = number(value)
    return f"{int(n):,}" if n is not None else value


def cmd_table(path):
    rows = read_tsv(path)
    print("| server | N requested | N held | threads | RSS KiB | RSS per idle conn KiB "
          "| fresh p50 ms | fresh p99 ms | fresh failures | limit hit |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        threads = r["threads"]
        if r["threads_before"] not in ("-", r["threads"]):
            threads = f'{r["threads_before"]} → {r["threads"]}'
        rss = r["rss_kib"]
        if rss != "-":
            rss = f'{thousands(r["rss_before_kib"])} → {thousands(rss)}'
        failures = f'{r["fresh_failed"]} of {r["fresh"]}' if r["fresh"] != "-" else "-"
        limit = r["limit"].replace("|", "\\|")
        print(f'| {r["server"]} | {thousands(r["connections"])} | {thousands(r["held"])} | {threads} '
              f'| {rss} | {r["rss_per_conn_kib"]} | {r["fresh_p50_ms"]} | {r["fresh_p99_ms"]} '
              f'| {failures} | {limit} |')


def nice_max(value):
    """A round axis maximum >= value."""
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exponent >= value:
            return step * exponent
    return 10 * exponent


def fmt_tick(value):
    if value >= 1000 and value % 100 == 0:
        return f"{value / 1000:g}k"
    if value == int(value):
        return str(int(value))
    return f"{value:g}"


def log_ticks(top):
    """1, 2, 5, 10, 20, 50, ... up to the first tick >= top."""
    ticks, decade = [], 1
    while True:
        for step in (1, 2, 5):
            ticks.append(step * decade)
            if step * decade >= top:
                return ticks
        decade *= 10


def panel(out, rows, servers, x0, y0, w, h, title, key, scale, unit, log_y=False):
    """One chart: x = connections requested (log scale), y = rows[key] / scale (linear or log)."""
    xs = sorted({number(r["connections"]) for r in rows if number(r["connections"])})
    if not xs:
        return
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    ys = [number(r[key]) / scale for r in rows if number(r[key]) is not None]
    if log_y:
        yticks = log_ticks(max(ys + [1]))
        ymax = yticks[-1]
    else:
        ymax = nice_max(max(ys) * 1.08 if ys else 1)
        yticks = [ymax * i / 5 for i in range(6)]

    def px(x):
        return x0 + (math.log10(x) - lo) / (hi - lo) * w

    def py(y):
        if log_y:
            return y0 + h - math.log10(max(y, 1)) / math.log10(ymax) * h
        return y0 + h - y / ymax * h

    out.append(f'<text x="{x0 + w / 2}" y="{y0 - 14}" text-anchor="middle" font-weight="bold">'
               f"{escape(title)}</text>")
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#888"/>')
    for y in yticks:
        out.append(f'<line x1="{x0}" y1="{py(y):.1f}" x2="{x0 + w}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{fmt_tick(round(y, 3))}</text>')
    for x in xs:
        out.append(f'<line x1="{px(x):.1f}" y1="{y0}" x2="{px(x):.1f}" y2="{y0 + h}" stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{y0 + h + 16}" text-anchor="middle">{fmt_tick(x)}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 34}" text-anchor="middle">'
               "idle keep-alive connections requested (log scale)</text>")
    out.append(f'<text transform="translate({x0 - 46},{y0 + h / 2}) rotate(-90)" text-anchor="middle">'
               f"{escape(unit)}</text>")
    for i, server in enumerate(servers):
        colour = COLOURS[i % len(COLOURS)]
        points = [(number(r["connections"]), number(r[key]) / scale, r)
                  for r in rows if r["server"] == server and number(r[key]) is not None]
        points.sort(key=lambda p: p[0])
        if len(points) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _ in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, r in points:
            # Hollow marker: not every requested connection was held (a limit was hit).
            full = r["held"] == r["connections"]
            fill = colour if full else "white"
            tip = f'{server}: N={r["connections"]}, held {r["held"]}, {key} {r[key]}'
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{fill}" stroke="{colour}" '
                       f'stroke-width="2"><title>{escape(tip)}</title></circle>')


def cmd_svg(path, out_path):
    rows = read_tsv(path)
    servers = []
    for r in rows:
        if r["server"] not in servers:
            servers.append(r["server"])
    width, height = 960, 420
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    panel(out, rows, servers, 80, 50, 360, 260, "Server threads (all processes)", "threads", 1,
          "threads (log scale)", log_y=True)
    panel(out, rows, servers, 570, 50, 360, 260, "Server resident memory (VmRSS)", "rss_kib", 1024, "MiB")
    legend_y = height - 44
    x = 80
    for i, server in enumerate(servers):
        colour = COLOURS[i % len(COLOURS)]
        out.append(f'<line x1="{x}" y1="{legend_y}" x2="{x + 24}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<circle cx="{x + 12}" cy="{legend_y}" r="4" fill="{colour}"/>')
        out.append(f'<text x="{x + 30}" y="{legend_y + 4}">{escape(server)}</text>')
        x += 50 + 7 * len(server)
    out.append(f'<text x="80" y="{legend_y + 24}" fill="#555">hollow marker: fewer connections held '
               "than requested (limit hit)</text>")
    out.append("</svg>")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def main(argv):
    if len(argv) == 3 and argv[1] == "row":
        cmd_row(argv[2])
    elif len(argv) == 2 and argv[1] == "header":
        print("\t".join(HEADER))
    elif len(argv) == 3 and argv[1] == "table":
        cmd_table(argv[2])
    elif len(argv) == 4 and argv[1] == "svg":
        cmd_svg(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
