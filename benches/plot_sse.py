#!/usr/bin/env python3
"""Table and chart for benches/sse.sh (Python 3 standard library only).

    plot_sse.py table NAME=RESULT_FILE...        the Markdown results table
    plot_sse.py svg OUT.svg NAME=RESULT_FILE...  threads, KiB per stream and a fresh
                                                 request's p99, one bar per server

Each RESULT_FILE holds the output of examples/sse_clients (its last RESULT line counts).
"""

import sys
from html import escape

# The idle chart's helpers (beside this file): the same colours, the same RESULT reader.
from plot_idle import COLOURS, parse_result


def load(args):
    runs = []
    for arg in args:
        name, _, path = arg.partition("=")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        fields = parse_result(text)
        if fields is None:
            last = next((l.strip() for l in reversed(text.splitlines()) if l.strip()), "no output")
            fields = {"first_error": "client failed: " + last}
        runs.append((name, fields))
    return runs


def probe(fields, which):
    ok = fields.get(f"{which}_ok", "-")
    error = fields.get(f"{which}_error", "none")
    if ok in ("-", "0"):
        return error if error != "none" else "-"
    text = f'{fields.get(f"{which}_p50_ms", "-")} / {fields.get(f"{which}_p99_ms", "-")}'
    if error != "none":
        text += f" ({ok} ok, then {error})"
    return text


def mib(kib):
    try:
        return f"{int(kib) / 1024:.1f}"
    except ValueError:
        return "-"


def cmd_table(args):
    print("| server | streams held / asked | server threads (no streams → streams open) "
          "| worker (or connection-thread) CPU while open | poller CPU | RSS MiB (no streams → open) | KiB per stream "
          "| events/s received | fresh request p50 / p99 ms, no streams | same, streams open |")
    print("|---|---:|---|---:|---:|---|---:|---:|---|---|")
    for name, f in load(args):
        get = lambda key: f.get(key, "-")  # noqa: E731
        workers_cpu = get("cpu_nioserve_worker_pct")
        if workers_cpu == "-" and get("cpu_nioserve_conn_pct") != "-":
            workers_cpu = get("cpu_nioserve_conn_pct")  # the blocking model's threads
        pct = lambda v: "-" if v == "-" else f"{v} %"  # noqa: E731
        print(f'| {name} | {get("held")} / {get("connections")} '
              f'| {get("threads_before")} → {get("threads")} | {pct(workers_cpu)} | {pct(get("cpu_nioserve_poller_pct"))} '
              f'| {mib(get("rss_before_kib"))} → {mib(get("rss_kib"))} | {get("rss_per_stream_kib")} '
              f'| {get("events_per_s")} | {probe(f, "probe_idle")} | {probe(f, "probe_open")} |')
    print()
    for name, f in load(args):
        print(f'- {name}: threads with the streams open: `{f.get("thread_names", "-")}`; '
              f'ticker CPU {f.get("cpu_stream_ticker_pct", "-")} % of a core; '
              f'`/_status` said connections_streaming={f.get("streaming", "-")}; '
              f'first connection error: {f.get("first_error", "-")}')


def number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def cmd_svg(out_path, args):
    runs = load(args)
    panels = [
        ("Server threads with the streams open", "threads", "{:.0f}"),
        ("Server RSS per open stream, KiB", "rss_per_stream_kib", "{:.2f}"),
        ("Fresh request p99 with the streams open, ms", "probe_open_p99_ms", "{:.3f}"),
    ]
    x0, w, bar_h, gap = 230, 330, 26, 8
    panel_h = 30 + len(runs) * (bar_h + gap) + 10
    width, height = 640, 20 + len(panels) * panel_h + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for p, (title, key, fmt) in enumerate(panels):
        y0 = 20 + p * panel_h
        out.append(f'<text x="20" y="{y0 + 12}" font-weight="bold">{escape(title)}</text>')
        values = [number(f.get(key)) for _, f in runs]
        top = max([v for v in values if v is not None] + [1e-9])
        for i, ((name, f), v) in enumerate(zip(runs, values)):
            y = y0 + 24 + i * (bar_h + gap)
            out.append(f'<text x="{x0 - 8}" y="{y + bar_h / 2 + 4:.1f}" text-anchor="end">{escape(name)}</text>')
            if v is None:
                label = "no answer within 2 s" if key.startswith("probe") else "-"
                out.append(f'<text x="{x0 + 4}" y="{y + bar_h / 2 + 4:.1f}" fill="#d62728">{label}</text>')
                continue
            bw = max(w * v / top, 1.0)
            out.append(f'<rect x="{x0}" y="{y}" width="{bw:.1f}" height="{bar_h}" fill="{COLOURS[i % len(COLOURS)]}"/>')
            out.append(f'<text x="{x0 + bw + 6:.1f}" y="{y + bar_h / 2 + 4:.1f}">{fmt.format(v)}</text>')
    out.append("</svg>")
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def main(argv):
    if len(argv) >= 3 and argv[1] == "table":
        cmd_table(argv[2:])
    elif len(argv) >= 4 and argv[1] == "svg":
        cmd_svg(argv[2], argv[3:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
