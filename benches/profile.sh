#!/usr/bin/env bash
# Where a request's CPU time goes: nioserve (nio, 2 workers) against nginx (1 worker
# process), under the same wrk load, sampled with `perf record -g`.
#
#   benches/profile.sh                          3 rounds of 4 s, /index.html with 64 connections
#   URL_PATH=/hello.txt benches/profile.sh      another file
#
# For each round and server: wrk -t1 -c$CONNS runs against the server; one second in, perf
# samples every thread of the server (nginx: its worker) at 999 Hz for $SECONDS_SAMPLED
# seconds. Every sample is put in one bucket by its call stack (first match wins):
#
#   waiting for events   epoll_wait: harvesting readiness, and sleeping until there is some
#   thread hand-over     futex, sched_yield, the crossbeam channels, and being switched out
#                        anywhere else: what it costs that two threads touch each request
#   send                 writev/sendto/sendfile/setsockopt, which on loopback include the
#                        client's side of TCP (softirq)
#   receive              recv/recvfrom/read
#   allocation           malloc/free and friends (the sampled function itself)
#   HTTP in user space   every other sample in the server's own code or libc: parsing,
#                        the handler, encoding, copies
#   other kernel         every other sample in the kernel
#
# Samples become microseconds per request: samples / 999 Hz / requests in the window, with
# requests = wrk's requests/s × the seconds sampled. Medians over rounds are printed and
# written to the <!-- profile:begin/end --> section of docs/benchmarks.md, with a chart
# (docs/profile.svg).
#
# Environment: ROUNDS (3), SECONDS_SAMPLED (4), URL_PATH (/index.html), CONNS (64),
# SKIP_BUILD=1. Needs Linux, python3, wrk, nginx and perf (apt-get install wrk nginx
# linux-perf, done here when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"

ROUNDS=${ROUNDS:-3}
SECONDS_SAMPLED=${SECONDS_SAMPLED:-4}
URL_PATH=${URL_PATH:-/index.html}
CONNS=${CONNS:-64}
HZ=999
TARGET=${CARGO_TARGET_DIR:-$REPO/target}/release
DOC=$REPO/docs/benchmarks.md

say() { printf 'profile.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

case $ROUNDS$SECONDS_SAMPLED$CONNS in *[!0-9]*) die "ROUNDS, SECONDS_SAMPLED and CONNS are whole numbers" ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$SECONDS_SAMPLED" -ge 1 ] || die "ROUNDS and SECONDS_SAMPLED must be at least 1"

need_tools wrk nginx perf:linux-perf
WRK=$(find_tool wrk)
NGINX=$(find_tool nginx)
PERF=$(find_tool perf)
"$PERF" record -q -F "$HZ" -o /dev/null -- true 2>/dev/null \
  || die "perf cannot sample here (kernel.perf_event_paranoid is $(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null); run as root)"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building (cargo build --release --bin nioserve)"
  cargo build --release --bin nioserve --quiet
fi
NIOSERVE=$TARGET/nioserve
[ -x "$NIOSERVE" ] || die "$NIOSERVE is missing (build failed?)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nioserve-profile.XXXXXX")
WWW=$(scratch_webapp "$TMP" 1mb.bin)
PIDS=()
cleanup() {
  stop_pids "${PIDS[@]}"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NIO_PORT=$(free_port)
RUST_LOG=warn "$NIOSERVE" "$WWW" --addr "127.0.0.1:$NIO_PORT" --workers 2 \
  --max-keep-alive-requests 100000 --keep-alive-timeout 300 >"$TMP/nioserve.log" 2>&1 &
NIO_PID=$!
PIDS+=("$NIO_PID")
NGINX_PORT=$(free_port)
nginx_conf "$TMP/nginx" 1 "$NGINX_PORT" "$WWW"
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
started nioserve "$NIO_PORT" "$NIO_PID" "$TMP/nioserve.log"
started nginx "$NGINX_PORT" "$NGINX_PID" "$TMP/nginx.log"
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
[ -n "$NGINX_WORKER" ] || die "nginx has no worker process"
for port in "$NIO_PORT" "$NGINX_PORT"; do
  curl -fsS -o /dev/null "http://127.0.0.1:$port$URL_PATH" || die "GET $URL_PATH failed on port $port"
done
say "nioserve pid $NIO_PID, nginx worker pid $NGINX_WORKER; $ROUNDS rounds of ${SECONDS_SAMPLED}s sampled"

# sample NAME PORT PID ROUND: wrk against PORT while perf samples PID; leaves perf's
# script output and wrk's output in $TMP.
sample() {
  local name=$1 port=$2 pid=$3 round=$4
  "$WRK" -t1 -c"$CONNS" -d"$((SECONDS_SAMPLED + 2))s" "http://127.0.0.1:$port$URL_PATH" \
    >"$TMP/wrk-$name-$round.txt" 2>&1 &
  local wrk_pid=$!
  sleep 1
  "$PERF" record -q -F "$HZ" -g -p "$pid" -o "$TMP/perf-$name-$round.data" -- sleep "$SECONDS_SAMPLED" \
    >/dev/null 2>&1 || die "perf record failed ($name)"
  wait "$wrk_pid" || die "wrk failed ($name)"
  "$PERF" script -i "$TMP/perf-$name-$round.data" -F comm,tid,ip,sym >"$TMP/stacks-$name-$round.txt" 2>/dev/null
  rm -f "$TMP/perf-$name-$round.data"
}

for round in $(seq 1 "$ROUNDS"); do
  # Alternate which server goes first.
  if [ $((round % 2)) = 1 ]; then
    sample nioserve "$NIO_PORT" "$NIO_PID" "$round"
    sample nginx "$NGINX_PORT" "$NGINX_WORKER" "$round"
  else
    sample nginx "$NGINX_PORT" "$NGINX_WORKER" "$round"
    sample nioserve "$NIO_PORT" "$NIO_PID" "$round"
  fi
  say "round $round done"
done

SECTION=$TMP/section.md
python3 - "$TMP" "$ROUNDS" "$SECONDS_SAMPLED" "$HZ" "$URL_PATH" "$CONNS" "$(git -C "$REPO" rev-parse --short HEAD)" >"$SECTION" <<'PY'
import re, statistics, sys
tmp, rounds, secs, hz, path, conns, commit = sys.argv[1:]
rounds, secs, hz = int(rounds), int(secs), int(hz)

BUCKETS = ["waiting for events", "thread hand-over", "send", "receive", "allocation",
           "HTTP in user space", "other kernel"]
SEND = ("writev", "sendto", "sendmsg", "sendfile", "setsockopt", "__libc_send")
RECEIVE = ("recvfrom", "__libc_recv", "sys_read", "tcp_recvmsg")
HANDOVER = ("futex", "sched_yield", "crossbeam", "schedule", "finish_task_switch")
ALLOC = ("malloc", "_int_malloc", "_int_free", "cfree", "free", "calloc", "realloc", "tcache")

def bucket(frames):
    # frames[0] is the sampled function, the rest its callers: (address, symbol) each.
    stack = " ".join(sym for _, sym in frames)
    if "epoll_wait" in stack:
        return "waiting for events"
    if any(k in stack for k in HANDOVER):
        return "thread hand-over"
    if any(k in stack for k in SEND):
        return "send"
    if any(k in stack for k in RECEIVE):
        return "receive"
    leaf_ip, leaf_name = frames[0]
    if leaf_ip.startswith("ffffffff"):
        return "other kernel"
    if leaf_name.startswith(ALLOC) or leaf_name.startswith("__libc_") and leaf_name[7:].startswith(ALLOC):
        return "allocation"
    return "HTTP in user space"

def profile(name, rnd):
    text = open(f"{tmp}/wrk-{name}-{rnd}.txt").read()
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text)[1])
    counts = dict.fromkeys(BUCKETS, 0)
    for block in open(f"{tmp}/stacks-{name}-{rnd}.txt", errors="replace").read().split("\n\n"):
        lines = [l.strip() for l in block.strip().splitlines() if l.strip()]
        if len(lines) < 2:
            continue
        frames = [tuple((l.split(None, 1) + [""])[:2]) for l in lines[1:]]
        counts[bucket(frames)] += 1
    requests = rps * secs
    return rps, {b: counts[b] / hz / requests * 1e6 for b in BUCKETS}

results = {name: [profile(name, r) for r in range(1, rounds + 1)] for name in ("nioserve", "nginx")}
med = {name: {b: statistics.median(p[1][b] for p in runs) for b in BUCKETS} for name, runs in results.items()}
total = {name: statistics.median(sum(p[1].values()) for p in runs) for name, runs in results.items()}
rps = {name: statistics.median(p[0] for p in runs) for name, runs in results.items()}

print("<!-- profile:begin -->")
print("## Where a request's CPU time goes (perf)")
print()
print(f"Generated by `benches/profile.sh` (nioserve {commit}): `wrk -t1 -c{conns}` on `{path}`, "
      f"{rounds} rounds, {secs} s sampled per server and round at {hz} Hz with `perf record -g`, "
      "servers alternating. Microseconds of server CPU per request, medians over the rounds "
      "(nioserve: poller and 2 workers; nginx: its one worker process). Exact command:")
print()
print("```sh")
print(f"ROUNDS={rounds} SECONDS_SAMPLED={secs} URL_PATH={path} CONNS={conns} benches/profile.sh")
print("```")
print()
print("| bucket | nioserve µs/request | nginx (1 worker) µs/request | difference |")
print("| --- | ---: | ---: | ---: |")
for b in BUCKETS:
    n, g = med["nioserve"][b], med["nginx"][b]
    print(f"| {b} | {n:.2f} | {g:.2f} | {n - g:+.2f} |")
print(f"| **total** (median of totals) | **{total['nioserve']:.2f}** | **{total['nginx']:.2f}** "
      f"| **{total['nioserve'] - total['nginx']:+.2f}** |")
print()
with open(f"{tmp}/profile.tsv", "w", encoding="utf-8") as f:
    f.write("server\tbucket\tus_per_request\n")
    for name, label in (("nioserve", "nioserve"), ("nginx", "nginx (1 worker)")):
        for b in BUCKETS:
            f.write(f"{label}\t{b}\t{med[name][b]:.4f}\n")
print(f"Requests/s while sampled (medians): nioserve {rps['nioserve']:,.0f}, nginx {rps['nginx']:,.0f}. "
      "Total µs per request in each round, in order: " + "; ".join(
          f"{name} " + ", ".join(f"{sum(p[1].values()):.2f}" for p in runs) for name, runs in results.items()) + ".")
print()
print("![Server CPU per request by bucket, nioserve against nginx](profile.svg)")
print("<!-- profile:end -->")
PY
cat "$SECTION"
python3 "$REPO/benches/plot_bars.py" profile "$TMP/profile.tsv" "$REPO/docs/profile.svg"
update_doc_section "$DOC" "$SECTION" profile
say "updated $DOC and docs/profile.svg"
