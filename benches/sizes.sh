#!/usr/bin/env bash
# Where a page's cost goes, size by size: nioserve serving from memory, nioserve sending
# with sendfile from a cached descriptor, and nginx (1 worker process, sendfile), side by
# side under the same wrk load.
#
#   benches/sizes.sh                         3 rounds of 5 s per size and server
#   DURATION=2s ROUNDS=1 benches/sizes.sh    a quick look
#
# Sizes: 1, 4, 32 and 64 KiB of random bytes (1k.bin … 64k.bin) and the bundled
# index.html (10.7 KB), each with `wrk -t1 -c64`. Servers: nioserve (`--workers 2`, files
# up to 64 KiB held in memory and written with one writev per response), nioserve-1w (the
# same with one worker: one thread fewer to share the cores with wrk), nioserve-sendfile
# (two workers and `--in-memory-up-to 0`: the head is written with MSG_MORE, the body with
# sendfile from the cache's open descriptor), nginx-1w (benches/nginx.conf: sendfile,
# tcp_nopush, open_file_cache). For every run, from the server's side:
#
#   req/s            wrk's figure
#   user µs, sys µs  CPU per request, from /proc/PID/stat (nginx: master + worker)
#   ctx vol/invol    context switches per request over every thread (/proc/PID/task/*/status):
#                    voluntary = a thread went to sleep (epoll_wait, a channel, a futex),
#                    involuntary = it was preempted (on 2 cores, by wrk or a sibling thread)
#   segs             TCP segments sent per request, host-wide (/proc/net/snmp OutSegs): the
#                    server's and wrk's together, so only the difference between servers counts
#
# and, in one extra run per size and server (tracing costs CPU, so it is not timed), the
# system calls per request by name (`perf stat -e 'syscalls:sys_enter_*'`, when perf can
# trace here). Medians over the rounds go to bench-results/sizes.tsv and to the
# <!-- sizes:begin/end --> section of docs/benchmarks.md.
#
# Environment: DURATION (5s), ROUNDS (3), SKIP_BUILD=1, CARGO_TARGET_DIR. Needs Linux,
# python3, wrk and nginx (installed with apt-get when missing and run as root); perf is
# optional (the system-call table is left out without it).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}/release
RESULTS=$REPO/bench-results
DOC=$REPO/docs/benchmarks.md
CONNS=64

say() { printf 'sizes.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

case $ROUNDS in '' | *[!0-9]*) die "ROUNDS must be a whole number" ;; esac
[ "$ROUNDS" -ge 1 ] || die "ROUNDS must be at least 1"
SECS=${DURATION%s}
case $SECS in '' | *[!0-9]*) die "DURATION must be whole seconds (5s), not $DURATION" ;; esac

need_tools wrk nginx
WRK=$(find_tool wrk)
NGINX=$(find_tool nginx)
PERF=$(find_tool perf)
command -v python3 >/dev/null || die "python3 is needed for the summary"
if [ -n "$PERF" ] && ! "$PERF" stat -e 'syscalls:sys_enter_writev' -o /dev/null -- true 2>/dev/null; then
  say "perf cannot trace system calls here (run as root?): no system-call table"
  PERF=""
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building (cargo build --release --bin nioserve)"
  cargo build --release --bin nioserve --quiet
fi
NIOSERVE=$TARGET/nioserve
[ -x "$NIOSERVE" ] || die "$NIOSERVE is missing (build failed?)"

raise_nofile

bench_scratch sizes

# start NAME nio|nio-sendfile|nginx [WORKERS]
start() {
  local name=$1 kind=$2 workers=${3:-2} port log pid
  port=$(free_port)
  log=$TMP/$name.log
  case $kind in
    nio | nio-sendfile)
      local extra=()
      [ "$kind" = nio-sendfile ] && extra=(--in-memory-up-to 0)
      RUST_LOG=warn "$NIOSERVE" "$WWW" --addr "127.0.0.1:$port" --workers "$workers" "${extra[@]}" \
        --max-keep-alive-requests 100000 --keep-alive-timeout 300 >"$log" 2>&1 &
      pid=$!
      ;;
    nginx)
      spawn_nginx "$TMP/$name" 1 "$port" "$log"
      ;;
  esac
  serving "$name" "$port" "$pid" "$log"
}
start nioserve nio
start nioserve-1w nio 1
start nioserve-sendfile nio-sendfile
start nginx-1w nginx

# The server's processes: nginx's master and worker, or nioserve itself.
processes() { echo "$1" $(pgrep -P "$1" || true); }

# "utime stime voluntary involuntary" summed over the processes and all their threads.
counters() {
  local pid task rest u=0 s=0 v=0 n=0
  for pid in $(processes "$1"); do
    rest=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    set -- $rest
    u=$((u + ${12})) s=$((s + ${13}))
    for task in /proc/"$pid"/task/*; do
      v=$((v + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$task/status" 2>/dev/null || echo 0)))
      n=$((n + $(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$task/status" 2>/dev/null || echo 0)))
    done
  done
  echo "$u $s $v $n"
}
out_segs() { awk '/^Tcp:/ { if (seen++) print $12 }' /proc/net/snmp; }

for i in "${!NAMES[@]}"; do
  for path in /1k.bin /4k.bin /index.html /32k.bin /64k.bin; do
    curl -fsS -o /dev/null "http://127.0.0.1:${PORTS[$i]}$path" || die "${NAMES[$i]}: GET $path failed"
  done
done

SIZES=("1k /1k.bin" "4k /4k.bin" "10.7k /index.html" "32k /32k.bin" "64k /64k.bin")
mkdir -p "$RESULTS"
TSV=$RESULTS/sizes.tsv
SYSCALLS=$RESULTS/sizes-syscalls.tsv
printf 'round\tsize\tserver\trequests\trps\tuser_us\tsys_us\tvol\tinvol\tsegs\n' >"$TSV"
printf 'size\tserver\tsyscall\tper_request\n' >"$SYSCALLS"
runs=$((ROUNDS * ${#SIZES[@]} * ${#NAMES[@]}))
say "$runs timed runs of $DURATION${PERF:+, and ${#SIZES[@]}×${#NAMES[@]} traced ones}"
for round in $(seq 1 "$ROUNDS"); do
  for size in "${SIZES[@]}"; do
    read -r sname path <<<"$size"
    for k in $(seq 0 $((${#NAMES[@]} - 1))); do
      i=$(((k + round - 1) % ${#NAMES[@]}))
      name=${NAMES[$i]} pid=${PIDS[$i]} port=${PORTS[$i]}
      kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) has exited"
      read -r u0 s0 v0 n0 < <(counters "$pid")
      g0=$(out_segs)
      out=$("$WRK" -t1 -c$CONNS -d"$DURATION" --timeout 2s "http://127.0.0.1:$port$path" 2>&1) || true
      g1=$(out_segs)
      read -r u1 s1 v1 n1 < <(counters "$pid")
      row=$(WRK_OUT=$out python3 - "$CLK_TCK" $((u1 - u0)) $((s1 - s0)) $((v1 - v0)) $((n1 - n0)) $((g1 - g0)) <<'EOF'
import os, re, sys
hz, u, s, v, n, g = (int(a) for a in sys.argv[1:])
text = os.environ["WRK_OUT"]
m = re.search(r"(\d+) requests in", text)
r = int(m[1]) if m else 0
m = re.search(r"Requests/sec:\s*([\d.]+)", text)
rps = float(m[1]) if m else 0.0
if r == 0:
    print("0\t0\t-\t-\t-\t-\t-")
else:
    us = 1e6 / hz / r
    print(f"{r}\t{rps:.0f}\t{u * us:.2f}\t{s * us:.2f}\t{v / r:.3f}\t{n / r:.3f}\t{g / r:.2f}")
EOF
      )
      printf '%s\t%s\t%s\t%s\n' "$round" "$sname" "$name" "$row" >>"$TSV"
      say "round $round $sname $name: $(cut -f2- <<<"$row" | tr '\t' ' ')  (rps user_us sys_us vol invol segs)"
    done
  done
done

if [ -n "$PERF" ]; then
  for size in "${SIZES[@]}"; do
    read -r sname path <<<"$size"
    for i in "${!NAMES[@]}"; do
      name=${NAMES[$i]} port=${PORTS[$i]}
      pids=$(processes "${PIDS[$i]}" | tr ' ' ',')
      "$PERF" stat -x, -e 'syscalls:sys_enter_*' -p "$pids" -o "$TMP/perf.csv" -- sleep $((SECS + 1)) &
      perf_pid=$!
      sleep 0.3
      out=$("$WRK" -t1 -c$CONNS -d"$DURATION" --timeout 2s "http://127.0.0.1:$port$path" 2>&1) || true
      wait "$perf_pid" || true
      requests=$(awk '/requests in/ {print $1}' <<<"$out")
      # Calls made before and after wrk's run are few (timers, the odd epoll_wait) against
      # hundreds of thousands of requests.
      awk -F, -v r="${requests:-0}" -v size="$sname" -v server="$name" \
        'r > 0 && $1 ~ /^[0-9]+$/ && $1 > 0 { sub("syscalls:sys_enter_", "", $3); printf "%s\t%s\t%s\t%.3f\n", size, server, $3, $1 / r }' \
        "$TMP/perf.csv" >>"$SYSCALLS"
      say "traced $sname $name"
    done
  done
fi
say "wrote $TSV${PERF:+ and $SYSCALLS}"

commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$REPO" status --porcelain -- src demo 2>/dev/null)" ] && commit="$commit+changes"
section=$TMP/sizes-section.md
python3 - "$TSV" "$SYSCALLS" "$section" <<EOF
import statistics, sys
from collections import defaultdict

def table(path):
    lines = [l.rstrip("\n").split("\t") for l in open(path, encoding="utf-8")]
    return [dict(zip(lines[0], l)) for l in lines[1:]]

runs = table(sys.argv[1])
sizes, servers = [], []
by = defaultdict(list)
for r in runs:
    sizes.append(r["size"]) if r["size"] not in sizes else None
    servers.append(r["server"]) if r["server"] not in servers else None
    by[r["size"], r["server"]].append(r)

def med(rs, key):
    values = [float(r[key]) for r in rs if r[key] not in ("-", "")]
    return statistics.median(values) if values else None

def fmt(v, digits):
    return "-" if v is None else f"{v:,.{digits}f}"

rows = ["| size | server | req/s | user µs/req | sys µs/req | req per CPU-s | ctx switches/req (vol + invol) | TCP segments/req (host) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
per_cpu = {}
for s in sizes:
    for v in servers:
        rs = by.get((s, v))
        if not rs:
            continue
        u, k = med(rs, "user_us"), med(rs, "sys_us")
        cpu = None if u is None or k is None or u + k == 0 else 1e6 / (u + k)
        per_cpu[s, v] = cpu
        vol, inv = med(rs, "vol"), med(rs, "invol")
        rows.append(f"| {s} | {v} | {fmt(med(rs, 'rps'), 0)} | {fmt(u, 2)} | {fmt(k, 2)} | {fmt(cpu, 0)} "
                    f"| {fmt(vol, 2)} + {fmt(inv, 2)} | {fmt(med(rs, 'segs'), 2)} |")
ratios = ["| size | nioserve ÷ nginx-1w req/s | nioserve ÷ nginx-1w req per CPU-s | nioserve-1w ÷ nginx-1w req per CPU-s | nioserve-sendfile ÷ nginx-1w req per CPU-s |",
          "| --- | ---: | ---: | ---: | ---: |"]
def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}"
for s in sizes:
    n, f, g = by.get((s, "nioserve"), []), by.get((s, "nioserve-sendfile"), []), by.get((s, "nginx-1w"), [])
    ratios.append(f"| {s} | {ratio(med(n, 'rps'), med(g, 'rps'))} | {ratio(per_cpu.get((s, 'nioserve')), per_cpu.get((s, 'nginx-1w')))} "
                  f"| {ratio(per_cpu.get((s, 'nioserve-1w')), per_cpu.get((s, 'nginx-1w')))} "
                  f"| {ratio(per_cpu.get((s, 'nioserve-sendfile')), per_cpu.get((s, 'nginx-1w')))} |")

calls = table(sys.argv[2])
call_rows = []
if calls:
    names = sorted({c["syscall"] for c in calls if float(c["per_request"]) >= 0.01})
    counts = {(c["size"], c["server"], c["syscall"]): float(c["per_request"]) for c in calls}
    call_rows = ["| size | server | " + " | ".join(names) + " | total |",
                 "| --- | --- | " + " | ".join("---:" for _ in names) + " | ---: |"]
    for s in sizes:
        for v in servers:
            values = [counts.get((s, v, n), 0.0) for n in names]
            call_rows.append(f"| {s} | {v} | " + " | ".join(f"{x:.2f}" if x else "·" for x in values)
                             + f" | {sum(values):.2f} |")

rounds = max((len(rs) for rs in by.values()), default=0)
section = f"""<!-- sizes:begin -->
## Where a page's cost goes, size by size

Generated by \`benches/sizes.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), nioserve $commit, $(nproc) cores,
Linux $(uname -r), $("$NGINX" -v 2>&1 | sed 's|.*/|nginx |'). Exact command:

\`\`\`sh
DURATION=$DURATION ROUNDS=$ROUNDS benches/sizes.sh
\`\`\`

\`wrk -t1 -c$CONNS -d$DURATION\` per size and server, the order rotating each round, {rounds} round(s), medians.
nioserve: \`--workers 2\`, files up to 64 KiB from memory (one \`writev\` of head and body);
nioserve-1w: the same with \`--workers 1\`; nioserve-sendfile: two workers with \`--in-memory-up-to 0\` (head with \`MSG_MORE\`, body with \`sendfile\`
from the cached descriptor); nginx-1w: one worker, \`sendfile\`, \`tcp_nopush\`, \`open_file_cache\`.
CPU is the server's own (utime, stime); context switches are summed over its threads; TCP
segments are the host's (server and wrk together).

""" + "\n".join(rows) + """

""" + "\n".join(ratios) + ("""

System calls per request (one traced run per size and server, \`perf stat -e 'syscalls:sys_enter_*'\`;
calls under 0.01 per request left out):

""" + "\n".join(call_rows) if call_rows else "") + """
<!-- sizes:end -->"""
open(sys.argv[3], "w", encoding="utf-8").write(section + "\n")
print("\n".join(rows))
print()
print("\n".join(ratios))
if call_rows:
    print()
    print("\n".join(call_rows))
EOF
update_doc_section "$DOC" "$section" sizes
say "updated $DOC"
