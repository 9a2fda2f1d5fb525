#!/usr/bin/env bash
# The load comparison: nioserve's demo against nginx (1 and 2 worker processes), serving
# the same files on 127.0.0.1, measured with wrk.
#
#   benches/wrk.sh                        3 rounds of 10 s per test and server
#   DURATION=2s ROUNDS=1 benches/wrk.sh   a quick check
#   benches/wrk.sh --compare-blocking     also nioserve --model blocking
#   benches/wrk.sh --compare-log          also nioserve with its default logging on (an
#                                         access-log line per request, stderr to a file)
#   MODEL=blocking benches/wrk.sh         the "nioserve" under test uses the blocking model
#
# Tests (wrk -t1 --latency): /hello.txt (13 B) with 64 connections; pages of 1, 4, 32 and
# 64 KiB (1k.bin … 64k.bin, random bytes generated into a scratch copy of webapp/) and
# /index.html (10.7 KB) with 64; /index.html with 256; /index.html with 64 connections
# sending `Accept-Encoding: gzip` (nginx: gzip_static serves index.html.gz; nioserve
# negotiates); /1mb.bin (1 MiB) with 16. Rounds alternate between servers (the order
# rotates each round). For every run: requests/s,
# p99 latency, socket errors and non-2xx/3xx responses, and the CPU seconds the server
# used (utime + stime from /proc/PID/stat; nginx: master + workers), hence requests per
# server CPU-second. Medians over the rounds are printed with the ratios
# nioserve / nginx (2 workers) and nioserve / nginx (1 worker), written to
# bench-results/wrk.tsv (every run) and to the <!-- wrk:begin/end --> section of
# docs/benchmarks.md, with a chart (docs/wrk.svg).
#
# Environment: DURATION (10s), ROUNDS (3), ONLY (tests to run, of: hello64 1k64 4k64 index64
# 32k64 64k64 index256 gzip64 1mb16),
# MODEL (nio), NIO_WORKERS (2),
# BLOCKING_WORKERS (300: enough threads for 256 connections), SKIP_BUILD=1,
# CARGO_TARGET_DIR. Needs Linux, python3, wrk and nginx (installed with apt-get when
# missing and run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
MODEL=${MODEL:-nio}
NIO_WORKERS=${NIO_WORKERS:-2}
BLOCKING_WORKERS=${BLOCKING_WORKERS:-300}
KEEP_ALIVE_REQUESTS=100000
TARGET=${CARGO_TARGET_DIR:-$REPO/target}/release
RESULTS=$REPO/bench-results
DOC=$REPO/docs/benchmarks.md
COMPARE_BLOCKING=0
COMPARE_LOG=0
ARGS="$*"

say() { printf 'wrk.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for arg in "$@"; do
  case $arg in
    --compare-blocking) COMPARE_BLOCKING=1 ;;
    --compare-log) COMPARE_LOG=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (see --help)" ;;
  esac
done
case $MODEL in nio | blocking) ;; *) die "MODEL must be nio or blocking, not $MODEL" ;; esac
case $ROUNDS in '' | *[!0-9]*) die "ROUNDS must be a whole number" ;; esac
[ "$ROUNDS" -ge 1 ] || die "ROUNDS must be at least 1"
# wrk's duration syntax: 10, 10s, 2m, 1h.
case $DURATION in
  *[0-9]) SECS=$DURATION ;;
  *s) SECS=${DURATION%s} ;;
  *m) SECS=$((${DURATION%m} * 60)) ;;
  *h) SECS=$((${DURATION%h} * 3600)) ;;
  *) die "DURATION must look like 10s or 2m, not $DURATION" ;;
esac
case $SECS in '' | *[!0-9]*) die "DURATION must be whole seconds (10s, 2m), not $DURATION" ;; esac

# --- tools -------------------------------------------------------------------------------
need_tools wrk nginx
WRK=$(find_tool wrk)
NGINX=$(find_tool nginx)
command -v python3 >/dev/null || die "python3 is needed for the summary"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building (cargo build --release --workspace --bins --examples)"
  cargo build --release --workspace --bins --examples --quiet
fi
NIOSERVE=$TARGET/nioserve
[ -x "$NIOSERVE" ] || die "$NIOSERVE is missing (build failed?)"
if [ "$MODEL" = blocking ] || [ "$COMPARE_BLOCKING" = 1 ]; then
  "$NIOSERVE" --help 2>/dev/null | grep -q -- '--model' || die "this nioserve build has no --model flag"
fi

raise_nofile

# --- files and servers -------------------------------------------------------------------
# The scratch copy of the web app, and the servers in parallel arrays: name, main pid, port.
bench_scratch wrk

# start NAME KIND [ARG]: KIND nio|nio-log|blocking (ARG: workers) or nginx (ARG: worker
# processes). nio-log is nio with the demo's default logging: an access-log line per request.
start() {
  local name=$1 kind=$2 arg=$3 port log pid
  port=$(free_port)
  log=$TMP/$name.log
  case $kind in
    nio | nio-log | blocking)
      local model=() level=warn
      [ "$kind" = blocking ] && model=(--model blocking)
      [ "$kind" = nio-log ] && level=info
      RUST_LOG=$level "$NIOSERVE" "$WWW" --addr "127.0.0.1:$port" "${model[@]}" --workers "$arg" \
        --max-keep-alive-requests $KEEP_ALIVE_REQUESTS --keep-alive-timeout 300 --max-connections 30000 \
        >"$log" 2>&1 &
      pid=$!
      ;;
    nginx)
      spawn_nginx "$TMP/$name" "$arg" "$port" "$log"
      ;;
  esac
  serving "$name" "$port" "$pid" "$log"
}

# CPU ticks used so far by process $1 and its children (nginx workers), all threads.
cpu_ticks() {
  local total=0 pid stat rest
  for pid in "$1" $(pgrep -P "$1" || true); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    rest=${stat##*) }            # after "pid (comm) "
    set -- $rest                 # state ppid pgrp ... : utime is field 14 overall, 12 here
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}

if [ "$MODEL" = blocking ]; then
  start nioserve blocking "$BLOCKING_WORKERS"
else
  start nioserve nio "$NIO_WORKERS"
fi
start nginx-1w nginx 1
start nginx-2w nginx 2
if [ "$COMPARE_BLOCKING" = 1 ] && [ "$MODEL" != blocking ]; then
  start nioserve-blocking blocking "$BLOCKING_WORKERS"
fi
if [ "$COMPARE_LOG" = 1 ] && [ "$MODEL" != blocking ]; then
  start nioserve-log nio-log "$NIO_WORKERS"
fi

# Every server serves every file before any measurement (and warms its file cache).
# NAME PATH CONNECTIONS [ACCEPT-ENCODING]
ALL_TESTS=("hello64 /hello.txt 64" "1k64 /1k.bin 64" "4k64 /4k.bin 64" "index64 /index.html 64"
  "32k64 /32k.bin 64" "64k64 /64k.bin 64" "index256 /index.html 256" "gzip64 /index.html 64 gzip"
  "1mb16 /1mb.bin 16")
ALL_NAMES=$(printf '%s\n' "${ALL_TESTS[@]}" | awk '{print $1}' | xargs)
TESTS=()
for test in "${ALL_TESTS[@]}"; do
  case " ${ONLY:-$ALL_NAMES} " in *" ${test%% *} "*) TESTS+=("$test") ;; esac
done
[ ${#TESTS[@]} -gt 0 ] || die "ONLY=\"$ONLY\" names no test ($ALL_NAMES)"
for i in "${!NAMES[@]}"; do
  for path in /hello.txt /1k.bin /4k.bin /index.html /32k.bin /64k.bin /1mb.bin; do
    for _ in 1 2 3; do
      curl -fsS -o /dev/null "http://127.0.0.1:${PORTS[$i]}$path" || die "${NAMES[$i]}: GET $path failed"
    done
  done
  # The gzip test measures compressed responses: both servers must send them.
  encoding=$(curl -fsS -o /dev/null -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:${PORTS[$i]}/index.html" \
    | tr -d '\r' | awk -F': ' 'tolower($1) == "content-encoding" {print $2}')
  [ "$encoding" = gzip ] || say "${NAMES[$i]}: /index.html with Accept-Encoding: gzip came back '${encoding:-identity}'"
done

# --- runs --------------------------------------------------------------------------------
mkdir -p "$RESULTS"
TSV=$RESULTS/wrk.tsv
printf 'round\ttest\tlabel\tserver\tpath\tconnections\trequests\tseconds\trps\tp99_ms\tsocket_errors\tnon2xx\tcpu_s\trps_per_cpu_s\n' >"$TSV"
runs=$((ROUNDS * ${#TESTS[@]} * ${#NAMES[@]}))
say "$runs runs of $DURATION: about $((runs * (SECS + 1) / 60 + 1)) min"
run=0
for round in $(seq 1 "$ROUNDS"); do
  for test in "${TESTS[@]}"; do
    read -r tname path conns coding <<<"$test"
    label="$path${coding:+ $coding} c$conns"   # as the tables and the chart name the test
    headers=()
    [ -n "$coding" ] && headers=(-H "Accept-Encoding: $coding")
    for k in $(seq 0 $((${#NAMES[@]} - 1))); do
      i=$(((k + round - 1) % ${#NAMES[@]}))   # rotate the order each round
      name=${NAMES[$i]} pid=${PIDS[$i]} port=${PORTS[$i]}
      run=$((run + 1))
      kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) has exited; its log: $(tail -5 "$TMP/$name.log")"
      out=$TMP/wrk-$round-$tname-$name.txt
      t0=$(cpu_ticks "$pid")
      timeout $((SECS + 30)) "$WRK" -t1 -c"$conns" -d"$DURATION" --timeout 2s --latency "${headers[@]}" \
        "http://127.0.0.1:$port$path" >"$out" 2>&1 || say "wrk exited with status $? ($name $tname)"
      t1=$(cpu_ticks "$pid")
      row=$(python3 - "$out" $((t1 - t0)) "$CLK_TCK" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
ticks, hz = int(sys.argv[2]), int(sys.argv[3])
def unit(value, suffix):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[suffix]
m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text)
requests, seconds = (int(m[1]), unit(m[2], m[3]) / 1e3) if m else (0, 0.0)
m = re.search(r"Requests/sec:\s*([\d.]+)", text)
rps = float(m[1]) if m else 0.0
m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m|h)", text, re.M)
p99 = f"{unit(m[1], m[2]):.3f}" if m else "-"
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = sum(int(g) for g in m.groups()) if m else 0
m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
non2xx = int(m[1]) if m else 0
cpu = ticks / hz
per_cpu = f"{requests / cpu:.0f}" if cpu > 0 else "-"
print(f"{requests}\t{seconds:.2f}\t{rps:.0f}\t{p99}\t{errors}\t{non2xx}\t{cpu:.2f}\t{per_cpu}")
EOF
      )
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$tname" "$label" "$name" "$path" "$conns" "$row" >>"$TSV"
      IFS=$'\t' read -r _ _ rps p99 errs non2xx cpu per_cpu <<<"$row"
      say "[$run/$runs] round $round $tname $name: $rps req/s, p99 $p99 ms, cpu $cpu s, $per_cpu req/cpu-s, errors $errs, non-2xx $non2xx"
      [ "$rps" != 0 ] || { say "wrk output:"; cat "$out" >&2; }
    done
  done
done
say "wrote $TSV"

# What nioserve itself counted, and anything it logged at warn or above.
for i in "${!NAMES[@]}"; do
  case ${NAMES[$i]} in
    nioserve*)
      say "${NAMES[$i]} /_status: $(curl -fsS "http://127.0.0.1:${PORTS[$i]}/_status" || echo unavailable)"
      grep -v '^nioserve: serving' "$TMP/${NAMES[$i]}.log" | head -20 >&2 || true
      ;;
    nginx*)
      # The worker_connections warning is expected: 30000 > the fd limit, as in idle.sh.
      grep -v -e '\[notice\]' -e 'worker_connections exceed open file resource limit' \
        "$TMP/${NAMES[$i]}/error.log" 2>/dev/null | head -5 >&2 || true
      ;;
  esac
done

# --- summary -----------------------------------------------------------------------------
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$REPO" status --porcelain -- src demo 2>/dev/null)" ] && commit="$commit+changes"
command_line="DURATION=$DURATION ROUNDS=$ROUNDS"
[ -n "${ONLY:-}" ] && command_line="$command_line ONLY=\"$ONLY\""
[ "$MODEL" != nio ] && command_line="$command_line MODEL=$MODEL"
command_line="$command_line benches/wrk.sh${ARGS:+ $ARGS}"
section=$TMP/wrk-section.md
blocking_note=""
[ "$MODEL" = blocking ] && blocking_note=", \`--workers $BLOCKING_WORKERS\`"
[ "$COMPARE_BLOCKING" = 1 ] && [ "$MODEL" = nio ] \
  && blocking_note="; nioserve-blocking: \`--model blocking --workers $BLOCKING_WORKERS\`"
[ "$COMPARE_LOG" = 1 ] && [ "$MODEL" = nio ] \
  && blocking_note="$blocking_note; nioserve-log: the same with \`RUST_LOG=info\` (the demo's default: an access-log line per request), stderr to a file"
python3 - "$TSV" "$section" <<EOF
import statistics, sys
from collections import defaultdict

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1], encoding="utf-8")]
header, rows = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
tests, servers = [], []
runs = defaultdict(list)
for r in rows:
    if r["test"] not in tests:
        tests.append(r["test"])
    if r["server"] not in servers:
        servers.append(r["server"])
    runs[r["test"], r["server"]].append(r)

def med(rs, key):
    values = [float(r[key]) for r in rs if r[key] not in ("-", "")]
    return statistics.median(values) if values else None

def f0(v):
    return "-" if v is None else f"{v:,.0f}"

def f2(v):
    return "-" if v is None else f"{v:.2f}"

def ratio(a, b):
    return "-" if a is None or b in (None, 0) else f"{a / b:.2f}"

stats = {}
for key, rs in runs.items():
    stats[key] = {
        "rps": med(rs, "rps"), "p99": med(rs, "p99_ms"), "cpu": med(rs, "cpu_s"),
        "per_cpu": med(rs, "rps_per_cpu_s"),
        "errors": sum(int(r["socket_errors"]) for r in rs), "non2xx": sum(int(r["non2xx"]) for r in rs),
        "n": len(rs),
    }

label = {r["test"]: r["label"] for r in rows}
main_table = ["| test | server | req/s | p99 ms | socket errors / non-2xx (all rounds) | server CPU s | req per CPU-s |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
for t in tests:
    for s in servers:
        st = stats.get((t, s))
        if st:
            main_table.append(f"| {label.get(t, t)} | {s} | {f0(st['rps'])} | {f2(st['p99'])} "
                              f"| {st['errors']} / {st['non2xx']} | {f2(st['cpu'])} | {f0(st['per_cpu'])} |")
ratio_table = ["| test | req/s vs nginx 2w | req/s vs nginx 1w | req per CPU-s vs nginx 2w "
               "| req per CPU-s vs nginx 1w | p99 vs nginx 2w |",
               "| --- | ---: | ---: | ---: | ---: | ---: |"]
for t in tests:
    n = stats.get((t, "nioserve"), {})
    w1 = stats.get((t, "nginx-1w"), {})
    w2 = stats.get((t, "nginx-2w"), {})
    ratio_table.append(f"| {label.get(t, t)} | {ratio(n.get('rps'), w2.get('rps'))} "
                       f"| {ratio(n.get('rps'), w1.get('rps'))} | {ratio(n.get('per_cpu'), w2.get('per_cpu'))} "
                       f"| {ratio(n.get('per_cpu'), w1.get('per_cpu'))} | {ratio(n.get('p99'), w2.get('p99'))} |")
if "nioserve-log" in servers:
    ratio_table.append("")
    ratio_table.append("| test | logging on / off req/s | logging on / off req per CPU-s |")
    ratio_table.append("| --- | ---: | ---: |")
    for t in tests:
        n, g = stats.get((t, "nioserve"), {}), stats.get((t, "nioserve-log"), {})
        ratio_table.append(f"| {label.get(t, t)} | {ratio(g.get('rps'), n.get('rps'))} "
                           f"| {ratio(g.get('per_cpu'), n.get('per_cpu'))} |")
if "nioserve-blocking" in servers:
    ratio_table.append("")
    ratio_table.append("| test | nio / blocking req/s | nio / blocking req per CPU-s |")
    ratio_table.append("| --- | ---: | ---: |")
    for t in tests:
        n, b = stats.get((t, "nioserve"), {}), stats.get((t, "nioserve-blocking"), {})
        ratio_table.append(f"| {label.get(t, t)} | {ratio(n.get('rps'), b.get('rps'))} "
                           f"| {ratio(n.get('per_cpu'), b.get('per_cpu'))} |")

print("\n".join(main_table))
print()
print("nioserve / nginx (ratios of the medians; > 1 means nioserve did more, or for p99 waited longer):")
print("\n".join(ratio_table))

rounds = max((s["n"] for s in stats.values()), default=0)
section = f"""<!-- wrk:begin -->
## Load: nioserve against nginx (wrk)

Generated by \`benches/wrk.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), nioserve $commit, $(nproc) cores,
Linux $(uname -r), $("$NGINX" -v 2>&1 | sed 's|.*/|nginx |'), $("$WRK" -v 2>&1 | head -1 | awk '{print $1, $2}'). Exact command:

\`\`\`sh
$command_line
\`\`\`

\`wrk -t1 -c<connections> -d$DURATION --latency\` against each server in turn, the order rotating each round;
{rounds} round(s); medians over the rounds. Servers (all on 127.0.0.1 at once, serving the same scratch
copy of \`webapp/\` plus generated \`1k.bin\` … \`64k.bin\`, \`1mb.bin\` and \`index.html.gz\`): nioserve demo \`--workers $NIO_WORKERS
--max-keep-alive-requests $KEEP_ALIVE_REQUESTS\` (model \`$MODEL\`$blocking_note), nginx with 1 and with 2 worker processes and
[\`benches/nginx.conf\`](../benches/nginx.conf) (\`sendfile\`, \`tcp_nopush\`, \`open_file_cache\`, \`gzip_static\`, no
access log, \`keepalive_requests $KEEP_ALIVE_REQUESTS\`). Server CPU = utime + stime of the server's
processes during the run (nginx: master + workers); wrk shares the 2 cores with the server.

""" + "\n".join(main_table) + """

nioserve / nginx, ratios of the medians (above 1: nioserve served more; for p99, waited longer):

""" + "\n".join(ratio_table) + """

![Requests per second and per server CPU-second, medians, by test and server](wrk.svg)
<!-- wrk:end -->"""
open(sys.argv[2], "w", encoding="utf-8").write(section + "\n")
EOF

python3 "$REPO/benches/plot_bars.py" wrk "$TSV" "$REPO/docs/wrk.svg"
update_doc_section "$DOC" "$section" wrk
say "updated $DOC and docs/wrk.svg"
