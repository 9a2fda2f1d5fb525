#!/usr/bin/env python3
"""Bar charts for benches/wrk.sh and benches/profile.sh (Python 3 standard library only).

    plot_bars.py wrk wrk.tsv docs/wrk.svg
        requests/s and requests per server CPU-second, medians over the rounds, one group of
        bars per test and one bar per server
    plot_bars.py profile profile.tsv docs/profile.svg
        µs of server CPU per request, one stacked bar per server, one segment per bucket;
        profile.tsv has the columns server, bucket, us_per_request (medians)
"""

import statistics
import sys
from collections import defaultdict
from html import escape

# The idle chart's helper (beside this file): the same colours, the same TSV reader.
from plot_idle import COLOURS, read_tsv


def nice_max(value):
    """A round number at or above `value`, for the top of an axis."""
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if factor * step >= value:
            return factor * step
    return 10 * step


def number_label(value):
    return f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"


def svg_open(width, height):
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
            f'<rect width="{width}" height="{height}" fill="white"/>']


def legend(out, names, x, y):
    for i, name in enumerate(names):
        out.append(f'<rect x="{x}" y="{y - 9}" width="12" height="12" fill="{COLOURS[i % len(COLOURS)]}"/>')
        out.append(f'<text x="{x + 17}" y="{y + 1}">{escape(name)}</text>')
        x += 40 + 7 * len(name)


def grouped_panel(out, x0, y0, w, h, title, groups, series, values):
    """Vertical bars: for each group, one bar per series; values[(group, series)]."""
    top = nice_max(max(values.values(), default=1))
    out.append(f'<text x="{x0}" y="{y0 - 14}" font-weight="bold">{escape(title)}</text>')
    for i in range(6):
        v = top * i / 5
        y = y0 + h - h * i / 5
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{number_label(v)}</text>')
    group_w = w / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for g, group in enumerate(groups):
        gx = x0 + g * group_w + group_w * 0.1
        for s, name in enumerate(series):
            v = values.get((group, name))
            if v is None:
                continue
            bh = h * v / top
            x = gx + s * bar_w
            out.append(f'<rect x="{x:.1f}" y="{y0 + h - bh:.1f}" width="{bar_w - 2:.1f}" height="{bh:.1f}" '
                       f'fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(name)} {escape(group)}: '
                       f'{v:,.0f}</title></rect>')
        # Two lines ("/index.html gzip", "c64"), so that neighbouring names never overlap.
        cx = gx + group_w * 0.4
        first, _, last = group.rpartition(" ")
        out.append(f'<text x="{cx:.1f}" y="{y0 + h + 16}" text-anchor="middle">'
                   f'<tspan x="{cx:.1f}">{escape(first or last)}</tspan>'
                   + (f'<tspan x="{cx:.1f}" dy="14">{escape(last)}</tspan>' if first else '')
                   + '</text>')
    out.append(f'<line x1="{x0}" y1="{y0 + h}" x2="{x0 + w}" y2="{y0 + h}" stroke="#333"/>')


def cmd_wrk(tsv, out_path):
    rows = read_tsv(tsv)
    tests, servers = [], []
    runs = defaultdict(lambda: defaultdict(list))
    for r in rows:
        test = r["label"]
        if test not in tests:
            tests.append(test)
        if r["server"] not in servers:
            servers.append(r["server"])
        for column in ("rps", "rps_per_cpu_s"):
            try:
                runs[column][(test, r["server"])].append(float(r[column]))
            except ValueError:
                pass
    medians = {column: {key: statistics.median(v) for key, v in by_key.items() if v}
               for column, by_key in runs.items()}
    # The 1 MiB test is two orders of magnitude below the others: it gets its own scale.
    small = [t for t in tests if "1mb" not in t]
    large = [t for t in tests if "1mb" in t]
    width, height = 1000, 620
    out = svg_open(width, height)
    for row, (column, title) in enumerate([("rps", "Requests per second (median of rounds)"),
                                           ("rps_per_cpu_s", "Requests per server CPU-second (median of rounds)")]):
        y0 = 50 + row * 270
        values = medians.get(column, {})
        grouped_panel(out, 70, y0, 640, 200, title, small, servers,
                      {k: v for k, v in values.items() if k[0] in small})
        if large:
            grouped_panel(out, 790, y0, 180, 200, "", large, servers,
                          {k: v for k, v in values.items() if k[0] in large})
    legend(out, servers, 70, height - 20)
    out.append("</svg>")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def cmd_profile(tsv, out_path):
    rows = read_tsv(tsv)
    servers, buckets = [], []
    value = {}
    for r in rows:
        if r["server"] not in servers:
            servers.append(r["server"])
        if r["bucket"] not in buckets:
            buckets.append(r["bucket"])
        value[(r["server"], r["bucket"])] = max(float(r["us_per_request"]), 0.0)
    totals = [sum(value.get((s, b), 0.0) for b in buckets) for s in servers]
    top = nice_max(max(totals, default=1))
    x0, w, bar_h = 170, 760, 34
    width, height = 1000, 110 + len(servers) * (bar_h + 16) + 30
    out = svg_open(width, height)
    out.append(f'<text x="{x0}" y="24" font-weight="bold">Server CPU per request, µs (median of rounds), '
               "by where the call stack was</text>")
    y_axis = 50 + len(servers) * (bar_h + 16)
    for i in range(6):
        v = top * i / 5
        x = x0 + w * i / 5
        out.append(f'<line x1="{x:.1f}" y1="40" x2="{x:.1f}" y2="{y_axis}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{y_axis + 16}" text-anchor="middle" fill="#555">{v:g}</text>')
    for i, server in enumerate(servers):
        y = 50 + i * (bar_h + 16)
        out.append(f'<text x="{x0 - 8}" y="{y + bar_h / 2 + 4:.1f}" text-anchor="end">{escape(server)}</text>')
        x = x0
        for b, bucket in enumerate(buckets):
            v = value.get((server, bucket), 0.0)
            bw = w * v / top
            if bw <= 0:
                continue
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{bw:.1f}" height="{bar_h}" '
                       f'fill="{COLOURS[b % len(COLOURS)]}"><title>{escape(server)}, {escape(bucket)}: '
                       f'{v:.2f} µs</title></rect>')
            if bw > 34:
                out.append(f'<text x="{x + bw / 2:.1f}" y="{y + bar_h / 2 + 4:.1f}" text-anchor="middle" '
                           f'fill="white">{v:.2f}</text>')
            x += bw
    legend(out, buckets, 20, height - 14)
    out.append("</svg>")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def main(argv):
    if len(argv) == 4 and argv[1] == "wrk":
        cmd_wrk(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "profile":
        cmd_profile(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
