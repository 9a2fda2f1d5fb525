#!/usr/bin/env bash
# Hostile and heavy clients against nioserve's demo binary, one command:
#
#   benches/robustness.sh             the full run (about 3.5 min, plus the build)
#   QUICK=1 benches/robustness.sh     a shorter run of every part (about 1.5 min)
#   PARTS="slow flood" benches/robustness.sh   some parts only
#
# Parts (each against a fresh server on a free port of 127.0.0.1, all bounded in time):
#   slow      slowhttptest in its four modes, 5,000 connections at 500/s each, 30 s (QUICK: 10 s):
#             slow headers (-H, slowloris), slow body (-B, R-U-Dead-Yet, against POST /echo), slow
#             read (-X, against a generated 1 MiB file), range attack (-R, Apache killer, -b 1000: a
#             6 KB Range header, under the head limit, as in earlier runs). Server: --workers 2 --max-connections 10000
#             --echo. Meanwhile /hello.txt is probed every 0.5 s (curl, 2 s limit) and /_status sampled.
#             PASS: every probe 200 within 2 s, no worker held by the slow clients (the median of
#             workers_busy, less the /_status request itself, is 0), server exits 0.
#             Note: -X fills the kernel's TCP memory (net.ipv4.tcp_mem) for up to SLOW_SECS.
#   shutdown  5 trials (QUICK: 2), each a fresh server: 16 keep-alive clients (python3) loop on
#             /hello.txt (12) and a 1 MiB file (4); SIGTERM after 3 s. PASS, in every trial: no
#             failed request before the signal, every request written before the signal and
#             answered after it completes with 200, exit 0 within the grace period, `stopped after`
#             logged. (Requests begun after the signal, or still being written at it, may be
#             refused or find their keep-alive connection closed: counted, not failed.)
#   soak      wrk -t1 -c256 --timeout 2s on /index.html for 60 s (QUICK: 15 s), server
#             --max-keep-alive-requests 1000; server VmRSS every second (printed every 5 s).
#             PASS: no socket error or non-2xx, RSS at the end within 10 % of the RSS at 10 s
#             (QUICK: 5 s), each point the peak of its 5 one-second samples.
#   flood     1,000 connections opened at once, then a GET each (Connection: close), against
#             --max-connections 100. PASS: all 1,000 get 200, none refused or reset, never more
#             than 100 open.
#   dribble   DRIBBLE_CONNS (200) connections each send POST /echo with a chunked body of 1-byte
#             chunks, DRIBBLE_WRITE (256) bytes per write, all taking turns every 10 ms, for
#             DRIBBLE_SECS (20; QUICK: 8) s (about 430 KB a body); then each ends its body and reads
#             the echo. A fresh client GETs /hello.txt on a new connection every 0.1 s, first on the
#             quiet server, then throughout. Server: --workers 2 --echo --request-timeout
#             DRIBBLE_SECS+30. PASS: every probe 200, the median probe under the dribble within
#             20 ms and the slowest within 500 ms, every body echoed whole, server exits 0. Also
#             reported: the poller thread's CPU time over the dribble.
#   spellings the demo under `prlimit --nofile=256` (SPELLINGS_NOFILE): 600 spellings of one 1 MiB path
#             (`//big.bin`, `/./big.bin`, `/%62ig.bin`, ...) and 400 distinct 100 KiB files, each
#             asked twice, over 8 keep-alive connections at once (python3), while the server's
#             /proc/PID/fd is sampled every 20 ms. PASS: every request 200 with the whole body (503
#             allowed for at most 1 % of them, 500 never), the server never at its fd limit, the
#             descriptors on served files within the cache's budget (a quarter of the limit) plus
#             one per connection, and a fresh client served at the end.
#   faults    the in-repo fault tests, through cargo: resets mid-request, clients vanishing during a
#             large response, half-close, a flood beyond max_connections, handlers that panic under
#             load (the demo has no panicking endpoint), the demo under a 64-fd limit, the smuggling
#             table and the codec properties. PASS: every test passes.
#   stall     32 keep-alive clients (python3) loop on /hello.txt (24) and a 1 MiB file (8); after 2 s
#             the server is stopped (SIGSTOP) for STALL_SECS (6 s, longer than its 5 s keep-alive
#             timeout) while the clients send their next requests, then continued (SIGCONT); 2 s more.
#             PASS: every request is answered with 200 (none reset or closed for a keep-alive timeout
#             that ran out while the server could not read), requests did sit in their sockets across
#             the stall, and the server exits 0 on SIGTERM afterwards.
#
# Each part prints PASS/FAIL with its numbers; a summary table ends the run and is written to
# bench-results/robustness.tsv (MODEL=blocking: robustness-blocking.tsv). The exit status is 1 if any part failed.
#
# Environment: QUICK=1, PARTS ("slow shutdown soak flood dribble stall spellings faults"), MODES (slowhttptest modes, "H B X R"),
# SLOW_CONNS (5000), SLOW_RATE (500), SLOW_SECS (30; QUICK 10), SOAK_SECS (60; QUICK 15),
# SHUTDOWN_TRIALS (5; QUICK 2), DRIBBLE_CONNS (200), DRIBBLE_WRITE (256), DRIBBLE_SECS (20; QUICK 8), STALL_SECS (6),
# SPELLINGS_NOFILE (256),
# MODEL (nio; MODEL=blocking runs the same parts against the thread-per-connection model, for
# contrast), SKIP_BUILD=1, CARGO_TARGET_DIR. Needs Linux, python3, curl, wrk and slowhttptest (installed
# with apt-get when missing and run as root). Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"   # need_tools, free_port, started, stop_pids, scratch_webapp

QUICK=${QUICK:-0}
PARTS=${PARTS:-"slow shutdown soak flood dribble stall spellings faults"}
SPELLINGS_NOFILE=${SPELLINGS_NOFILE:-256}
MODES=${MODES:-"H B X R"}
MODEL=${MODEL:-nio}
SLOW_CONNS=${SLOW_CONNS:-5000}
SLOW_RATE=${SLOW_RATE:-500}
DRIBBLE_CONNS=${DRIBBLE_CONNS:-200}
DRIBBLE_WRITE=${DRIBBLE_WRITE:-256}
STALL_SECS=${STALL_SECS:-6}
if [ "$QUICK" = 1 ]; then
  DRIBBLE_SECS=${DRIBBLE_SECS:-8}
  SLOW_SECS=${SLOW_SECS:-10}
  SOAK_SECS=${SOAK_SECS:-15}
  SOAK_BASE=5
  SHUTDOWN_TRIALS=${SHUTDOWN_TRIALS:-2}
else
  DRIBBLE_SECS=${DRIBBLE_SECS:-20}
  SLOW_SECS=${SLOW_SECS:-30}
  SOAK_SECS=${SOAK_SECS:-60}
  SOAK_BASE=10
  SHUTDOWN_TRIALS=${SHUTDOWN_TRIALS:-5}
fi
SHUTDOWN_GRACE=10
TARGET=${CARGO_TARGET_DIR:-$REPO/target}/release
RESULTS=$REPO/bench-results
TSV=$RESULTS/robustness.tsv
[ "${MODEL:-nio}" = nio ] || TSV=$RESULTS/robustness-$MODEL.tsv

say() { printf 'robustness.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for arg in "$@"; do
  case $arg in
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (see --help)" ;;
  esac
done
for n in "$SLOW_CONNS" "$SLOW_RATE" "$SLOW_SECS" "$SOAK_SECS" "$SHUTDOWN_TRIALS" "$DRIBBLE_CONNS" "$DRIBBLE_SECS" "$DRIBBLE_WRITE" "$STALL_SECS"; do
  case $n in '' | *[!0-9]*) die "SLOW_CONNS, SLOW_RATE, SLOW_SECS, SOAK_SECS, SHUTDOWN_TRIALS, DRIBBLE_CONNS, DRIBBLE_SECS, DRIBBLE_WRITE and STALL_SECS must be whole numbers" ;; esac
done
case $MODEL in nio | blocking) ;; *) die "MODEL must be nio or blocking, not $MODEL" ;; esac
for part in $PARTS; do
  case $part in slow | shutdown | soak | flood | dribble | stall | spellings | faults) ;; *) die "PARTS: unknown part $part (slow shutdown soak flood dribble stall spellings faults)" ;; esac
done
for mode in $MODES; do
  case $mode in H | B | X | R) ;; *) die "MODES: unknown mode $mode (H B X R)" ;; esac
done
[ "$SOAK_SECS" -gt "$SOAK_BASE" ] || die "SOAK_SECS must be more than $SOAK_BASE"

# --- tools -------------------------------------------------------------------------------
need_tools slowhttptest wrk curl
command -v python3 >/dev/null || die "python3 is needed"
case " $PARTS " in *" spellings "*) command -v prlimit >/dev/null || die "prlimit (util-linux) is needed for the spellings part" ;; esac

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building (cargo build --release --bin nioserve)"
  cargo build --release --bin nioserve --quiet
fi
NIOSERVE=$TARGET/nioserve
[ -x "$NIOSERVE" ] || die "$NIOSERVE is missing (build failed?)"
"$NIOSERVE" --help 2>/dev/null | grep -q -- '--echo' || die "this nioserve build has no --echo flag"

# Both the servers and the clients (slowhttptest, wrk, python) inherit this.
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
ulimit -n "$HARD"

# --- scratch files and cleanup -----------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nioserve-robustness.XXXXXX")
WWW=$(scratch_webapp "$TMP" big.bin)

BG=()   # every background process this script started: servers, slowhttptest, wrk, clients
cleanup() {
  stop_pids "${BG[@]}"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget() {   # forget PID: drop it from BG once it has been waited for
  local keep=() pid
  for pid in "${BG[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  BG=("${keep[@]}")
}

# start_server NAME RUST_LOG ARGS...: sets PID, PORT, LOG.
start_server() {
  local name=$1 rust_log=$2
  shift 2
  PORT=$(free_port)
  LOG=$TMP/$name.log
  [ "$MODEL" = nio ] || set -- --model "$MODEL" "$@"
  RUST_LOG=$rust_log "$NIOSERVE" "$WWW" --addr "127.0.0.1:$PORT" "$@" >"$LOG" 2>&1 &
  PID=$!
  BG+=("$PID")
  started "$name" "$PORT" "$PID" "$LOG"
  say "$name: nioserve $* on 127.0.0.1:$PORT (pid $PID)"
}

# wait_exit PID SECS: waits at most SECS for PID (a child) to exit; sets RC (or "none").
wait_exit() {
  local pid=$1 secs=$2 i
  RC=none
  for i in $(seq 1 $((secs * 20))); do
    kill -0 "$pid" 2>/dev/null || break
    # A zombie still answers kill -0; /proc tells.
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.05
  done
  if ! kill -0 "$pid" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
    RC=0
    wait "$pid" || RC=$?
    forget "$pid"
  fi
}

# stop_server: SIGTERM, at most SHUTDOWN_GRACE + 5 s, then SIGKILL. Sets RC.
stop_server() {
  kill -TERM "$PID" 2>/dev/null || true
  wait_exit "$PID" $((SHUTDOWN_GRACE + 5))
  if [ "$RC" = none ]; then
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    forget "$PID"
  fi
}

# Lines a server logged at warn or above (or a panic), to show with the results.
server_complaints() {
  grep -E ' (WARN|ERROR) |panicked' "$LOG" | head -5 || true
}

status_json() { curl -s -m 2 "http://127.0.0.1:$PORT/_status" || true; }

mkdir -p "$RESULTS"
ROWS=$TMP/rows.tsv
: >"$ROWS"
FAILED=0
# row PART TEST RESULT AVAILABLE PROBES MAX_PROBE_MS MAX_WORKERS_BUSY MAX_OPEN TIMED_OUT SECS DETAIL
row() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"
  [ "$3" != FAIL ] || FAILED=1
  say "$3: $1 $2 (${10} s): ${11}"
}

T_START=$SECONDS

# --- 1. slowhttptest ---------------------------------------------------------------------
slow_mode() {
  local mode=$1 flag path label out probes shpid shrc=0 deadline n=0 t0 r s k rss final result extra=()
  case $mode in
    H) flag=-H path=/hello.txt label="slow headers (-H)" ;;
    B) flag=-B path=/echo label="slow body (-B)" ;;
    X) flag=-X path=/big.bin label="slow read (-X)" ;;
    # slowhttptest's default -b 2000 makes a 12.9 KB Range header, which the head limit of
    # earlier versions (8 KiB) answered with 431 at once; -b 1000 (6 KB) reaches the range
    # code whatever the limit, and keeps runs comparable.
    R) flag=-R path=/big.bin label="range attack (-R)" extra=(-b 1000) ;;
  esac
  t0=$SECONDS
  start_server "slow-$mode" warn --workers 2 --max-connections 10000 --echo
  out=$TMP/slow-$mode
  probes=$out.probes
  : >"$probes"
  say "slowhttptest $flag -c $SLOW_CONNS -r $SLOW_RATE -l $SLOW_SECS against $path"
  timeout -k 5 $((SLOW_SECS + 30)) slowhttptest "$flag" "${extra[@]}" -c "$SLOW_CONNS" -r "$SLOW_RATE" -l "$SLOW_SECS" \
    -p 2 -g -o "$out" -u "http://127.0.0.1:$PORT$path" >"$out.txt" 2>&1 &
  shpid=$!
  BG+=("$shpid")
  # Probe while slowhttptest runs: bounded by count and by time.
  deadline=$((SECONDS + SLOW_SECS + 35))
  while kill -0 "$shpid" 2>/dev/null && [ $SECONDS -lt $deadline ] && [ $n -lt $(((SLOW_SECS + 35) * 2)) ]; do
    r=$(curl -s -o /dev/null -m 2 -w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT/hello.txt" || true)
    s=$(status_json)
    [ -n "$r" ] || r="000 2"
    [ -n "$s" ] || s="{}"
    k=$(awk '/^TCP:/ {for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1)}' /proc/net/sockstat)
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID/status" 2>/dev/null || true)
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date +%s.%N)" "$r" "$s" "${k:-0}" "${rss:-0}" >>"$probes"
    n=$((n + 1))
    sleep 0.45
  done
  wait "$shpid" || shrc=$?
  forget "$shpid"
  sleep 1
  final=$(status_json)
  stop_server
  local exit_rc=$RC
  result=$(python3 - "$probes" "$final" "$out.txt" "$out.csv" "$shrc" "$exit_rc" <<'EOF'
import csv, json, re, statistics, sys
probes_path, final, sh_out, sh_csv, sh_rc, exit_rc = sys.argv[1:]
probes, tcp_mem, rss = [], [], []
for line in open(probes_path, encoding="utf-8"):
    t, probe, status, tcp_pages, rss_kib = line.rstrip("\n").split("\t")
    tcp_mem.append(int(tcp_pages or 0))
    rss.append(int(rss_kib or 0))
    code, secs = (probe.split() + ["0", "2"])[:2]
    try:
        status = json.loads(status)
    except ValueError:
        status = {}
    probes.append((code, float(secs), status))
ok = sum(1 for code, secs, _ in probes if code == "200" and secs <= 2.0)
total = len(probes)
max_ms = max((secs * 1e3 for _, secs, _ in probes), default=0.0)
busy = [s["workers_busy"] for _, _, s in probes if "workers_busy" in s]
opened = [s["connections_open"] for _, _, s in probes if "connections_open" in s]
# The /_status request is itself on a worker while it is answered: 1 is the floor.
held = [b - 1 for b in busy]
try:
    final = json.loads(final)
except ValueError:
    final = {}
# slowhttptest's own view: its last status block and its per-second CSV.
text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", open(sh_out, encoding="utf-8", errors="replace").read())
verdicts = re.findall(r"service available:\s*(\w+)", text)
exit_status = (re.findall(r"Exit status:\s*(.+)", text) or ["?"])[-1].strip()
sh_connected = 0
sh_unavailable = 0
try:
    with open(sh_csv, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            r = {k.strip().lower(): v.strip() for k, v in r.items() if k}
            sh_connected = max(sh_connected, int(float(r.get("connected", 0) or 0)))
            if r.get("service available", "1") in ("0", "0.0"):
                sh_unavailable += 1
except (OSError, ValueError):
    pass
sh_available = "NO" if "NO" in verdicts or sh_unavailable else ("YES" if verdicts else "?")
available = total > 0 and ok == total
no_worker_held = bool(busy) and statistics.median(held) == 0
result = "PASS" if available and no_worker_held and exit_rc == "0" else "FAIL"
detail = (f"probes {ok}/{total} ok, max {max_ms:.0f} ms; workers_busy max {max(busy, default='-')}"
          f" (beyond the /_status request itself: max {max(held, default='-')}, "
          f"in {sum(1 for h in held if h > 0)} of {len(held)} samples); "
          f"connections_open max {max(opened, default='-')}; "
          f"timed_out {final.get('timed_out', '?')}, accepted {final.get('accepted', '?')}, "
          f"requests {final.get('requests', '?')}; slowhttptest: service available {sh_available}, "
          f"max connected {sh_connected}, '{exit_status}' (rc {sh_rc}); server RSS max "
          f"{max(rss, default=0) / 1024:.1f} MiB; kernel TCP memory (all sockets) "
          f"max {max(tcp_mem, default=0) * 4096 / 2**20:.0f} MiB; server exit {exit_rc}")
print("\t".join([result, "yes" if available else "NO", f"{ok}/{total}", f"{max_ms:.0f}",
                 str(max(busy, default="-")), str(max(opened, default="-")),
                 str(final.get("timed_out", "?")), detail]))
EOF
  )
  IFS=$'\t' read -r res avail probes_n max_ms max_busy max_open timed_out detail <<<"$result"
  row "1 slowhttptest" "$label" "$res" "$avail" "$probes_n" "$max_ms" "$max_busy" "$max_open" "$timed_out" \
    $((SECONDS - t0)) "$detail"
  server_complaints >&2
}

case " $PARTS " in
  *" slow "*)
    say "part 1: slowhttptest, modes $MODES, $SLOW_CONNS connections at $SLOW_RATE/s, ${SLOW_SECS} s each"
    for mode in $MODES; do slow_mode "$mode"; done
    ;;
esac

# --- 2. graceful shutdown under load -----------------------------------------------------
part_shutdown() {
  local t0=$SECONDS result exit_rc stopped trial line
  say "$SHUTDOWN_TRIALS trials, each a fresh server: 16 keep-alive clients (12 on /hello.txt, 4 on /big.bin) for 6 s, SIGTERM after 3 s"
  cat >"$TMP/shutdown_client.py" <<'EOF'
import http.client, json, os, signal, sys, threading, time

port, pid, sig_after, duration, grace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
sizes = {"/hello.txt": os.path.getsize(sys.argv[6] + "/hello.txt"), "/big.bin": os.path.getsize(sys.argv[6] + "/big.bin")}
paths = ["/hello.txt"] * 12 + ["/big.bin"] * 4
start = time.monotonic()
records, lock = [], threading.Lock()
signal_at = [None]

def client(i, path):
    conn = None
    while time.monotonic() - start < duration:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            fresh = True
        t0 = time.monotonic()
        t_sent = None   # when the whole request had been written to the socket
        try:
            conn.request("GET", path)
            t_sent = time.monotonic()
            r = conn.getresponse()
            body = r.read()
            t1 = time.monotonic()
            close = (r.getheader("Connection") or "").lower() == "close"
            outcome = "200" if r.status == 200 and len(body) == sizes[path] else f"status {r.status}, {len(body)} bytes"
            with lock:
                records.append((i, path, t0, t1, outcome, close, fresh, t_sent))
            fresh = False
            if close or r.will_close:
                conn.close()
                conn = None
        except Exception as e:  # refused, reset, empty reply, timeout
            t1 = time.monotonic()
            with lock:
                records.append((i, path, t0, t1, type(e).__name__, False, fresh, t_sent))
            conn.close()
            conn = None
            time.sleep(0.05)  # do not spin on a closed listener

threads = [threading.Thread(target=client, args=(i, p), daemon=True) for i, p in enumerate(paths)]
for t in threads:
    t.start()
time.sleep(max(0.0, sig_after - (time.monotonic() - start)))
signal_at[0] = time.monotonic()
os.kill(pid, signal.SIGTERM)
# When did the server exit? (It is the shell's child: a zombie counts as exited.)
exited_at = None
while time.monotonic() - signal_at[0] < grace + 5:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    if state in ("Z", "X", "gone"):
        exited_at = time.monotonic()
        break
    time.sleep(0.01)
for t in threads:
    t.join(timeout=duration + 10)

T = signal_at[0]
# A request is in flight at the signal if all its bytes had been written before SIGTERM was
# sent (on loopback they are then in the server's socket buffer) and its answer came after.
# One that was still being written at the signal races with the server closing idle
# keep-alive connections, as any client's next request can (RFC 9112 §9.3.1): counted apart.
before = [r for r in records if r[3] < T]                                          # finished before
in_flight = [r for r in records if r[7] is not None and r[7] < T <= r[3]]            # written before, answered after
racing = [r for r in records if r[2] < T <= r[3] and (r[7] is None or r[7] >= T)]    # being written at the signal
after = [r for r in records if r[2] >= T]                                          # begun after
bad_before = [r for r in before if r[4] != "200"]
bad_in_flight = [r for r in in_flight if r[4] != "200"]
after_ok = [r for r in after if r[4] == "200"]
after_err = {}
for r in after:
    if r[4] != "200":
        after_err[r[4]] = after_err.get(r[4], 0) + 1
close_marked = sum(1 for r in in_flight + racing + after_ok if r[5] and r[4] == "200")
out = {
    "requests": len(records),
    "before_ok": len(before) - len(bad_before),
    "before_failed": len(bad_before),
    "before_failures": sorted({r[4] for r in bad_before}),
    "in_flight": len(in_flight),
    "in_flight_big": sum(1 for r in in_flight if r[1] == "/big.bin"),
    "in_flight_failed": len(bad_in_flight),
    "in_flight_failures": [f"{r[1]} {r[4]} {1e3 * (r[3] - T):+.1f} ms after the signal (written {1e3 * (T - r[7]):.1f} ms before it)" for r in bad_in_flight][:5],
    "racing": len(racing),
    "racing_outcomes": sorted({r[4] for r in racing}),
    "after_ok": len(after_ok),
    "after_errors": after_err,
    "close_marked": close_marked,
    "exit_ms": None if exited_at is None else round(1e3 * (exited_at - T)),
}
print(json.dumps(out))
EOF
  : >"$TMP/shutdown.jsonl"
  local TRIAL_SUMMARY='
import json, sys
r = json.load(sys.stdin)
failures = "; ".join(r["in_flight_failures"])
print("{} requests, {} failed before the signal, {} in flight at it, {} of them failed{}; exit {} {} ms after SIGTERM".format(
    r["requests"], r["before_failed"], r["in_flight"], r["in_flight_failed"],
    " (" + failures + ")" if failures else "", r["exit_rc"], r["exit_ms"]))
'
  for trial in $(seq 1 "$SHUTDOWN_TRIALS"); do
    start_server "shutdown-$trial" "info,nioserve::access=off" --workers 2 --shutdown-grace "$SHUTDOWN_GRACE"
    result=$(python3 "$TMP/shutdown_client.py" "$PORT" "$PID" 3 6 "$SHUTDOWN_GRACE" "$WWW")
    wait_exit "$PID" $((SHUTDOWN_GRACE + 5))
    exit_rc=$RC
    if [ "$exit_rc" = none ]; then
      kill -KILL "$PID" 2>/dev/null || true
      wait "$PID" 2>/dev/null || true
      forget "$PID"
    fi
    stopped=$(grep -o 'stopped after.*' "$LOG" | head -1 || true)
    python3 - "$result" "$exit_rc" "$stopped" "$(grep -c 'still open at the end' "$LOG" || true)" \
      >>"$TMP/shutdown.jsonl" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
r.update(exit_rc=sys.argv[2], stopped=sys.argv[3], still_open=int(sys.argv[4] or 0))
print(json.dumps(r))
EOF
    say "trial $trial: $(tail -1 "$TMP/shutdown.jsonl" | python3 -c "$TRIAL_SUMMARY")"
    server_complaints >&2
  done
  line=$(python3 - "$TMP/shutdown.jsonl" "$SHUTDOWN_GRACE" <<'EOF'
import json, sys
trials = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
grace = float(sys.argv[2])

def verdict(r):
    exit_ok = r["exit_rc"] == "0" and r["exit_ms"] is not None and r["exit_ms"] <= grace * 1e3
    return (r["before_failed"] == 0 and r["in_flight_failed"] == 0 and exit_ok
            and bool(r["stopped"]) and r["still_open"] == 0)

def describe(r):
    errs = ", ".join(f"{k} {v}" for k, v in sorted(r["after_errors"].items())) or "none"
    return (f"{r['requests']} requests: {r['before_ok']} ok before the signal, {r['before_failed']} failed"
            f"{' (' + ', '.join(r['before_failures']) + ')' if r['before_failures'] else ''}; "
            f"{r['in_flight']} in flight at the signal ({r['in_flight_big']} of them 1 MiB), "
            f"{r['in_flight'] - r['in_flight_failed']} completed with 200"
            f"{' - failed: ' + '; '.join(r['in_flight_failures']) if r['in_flight_failures'] else ''}; "
            f"{r['racing']} being written at the signal ({', '.join(r['racing_outcomes']) or '-'}; not counted); "
            f"after the signal: {r['after_ok']} served, refused/closed: {errs}; "
            f"{r['close_marked']} of the 200s from the signal on said Connection: close; "
            f"exit {r['exit_rc']} {r['exit_ms']} ms after SIGTERM (grace {grace:.0f} s); "
            f"log: {r['stopped'] or 'no stopped-after line'}")

passed = [verdict(r) for r in trials]
n = len(trials)
total = lambda k: sum(r[k] for r in trials)
exits = [r["exit_ms"] for r in trials if r["exit_ms"] is not None]
failing = [i for i, ok in enumerate(passed) if not ok]
shown = failing[0] if failing else n - 1
detail = (f"{sum(passed)} of {n} trials passed; over all trials: {total('requests')} requests, "
          f"{total('before_failed')} failed before the signal, {total('in_flight')} in flight at the signal, "
          f"{total('in_flight_failed')} of them failed (in trials {', '.join(str(i + 1) for i in range(n) if trials[i]['in_flight_failed']) or '-'}), "
          f"exit {min(exits, default='?')}-{max(exits, default='?')} ms after SIGTERM; "
          f"trial {shown + 1}: {describe(trials[shown])}")
print(("PASS" if all(passed) and n > 0 else "FAIL") + "\t" + detail)
EOF
  )
  row "2 shutdown" "SIGTERM under load ($SHUTDOWN_TRIALS trials)" "${line%%$'\t'*}" - - - - - - $((SECONDS - t0)) "${line#*$'\t'}"
}
case " $PARTS " in *" shutdown "*) say "part 2: graceful shutdown under load"; part_shutdown ;; esac

# --- 3. soak -----------------------------------------------------------------------------
part_soak() {
  local t0=$SECONDS wrkpid wrkrc=0 out series=() i mem line final
  start_server soak warn --workers 2 --max-keep-alive-requests 1000
  out=$TMP/soak-wrk.txt
  say "wrk -t1 -c256 -d${SOAK_SECS}s /index.html; server RSS every second"
  timeout -k 5 $((SOAK_SECS + 30)) wrk -t1 -c256 -d"${SOAK_SECS}s" --timeout 2s --latency \
    "http://127.0.0.1:$PORT/index.html" >"$out" 2>&1 &
  wrkpid=$!
  BG+=("$wrkpid")
  # VmRSS, RssAnon, RssFile (KiB) once a second while wrk runs: at most SOAK_SECS samples.
  for i in $(seq 1 "$SOAK_SECS"); do
    sleep 1
    mem=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s:", $2}' "/proc/$PID/status" 2>/dev/null || true)
    series+=("$i:${mem%:}")
    kill -0 "$wrkpid" 2>/dev/null || break
  done
  wait_exit "$wrkpid" 40
  wrkrc=$RC
  mem=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
  final=$(status_json)
  stop_server
  line=$(python3 - "$out" "$wrkrc" "$RC" "$SOAK_BASE" "$mem" "$final" "${series[@]}" <<'EOF'
import json, re, sys
out, wrk_rc, exit_rc, base_at, after_rss, final = sys.argv[1:7]
base_at = int(base_at)
series = []
for s in sys.argv[7:]:
    parts = s.split(":")
    if len(parts) == 4:
        series.append(tuple(int(x) for x in parts))   # (second, VmRSS, RssAnon, RssFile)
text = open(out, encoding="utf-8", errors="replace").read()
m = re.search(r"(\d+) requests in", text)
requests = int(m[1]) if m else 0
m = re.search(r"Requests/sec:\s*([\d.]+)", text)
rps = float(m[1]) if m else 0.0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
non2xx = int(m[1]) if m else 0
m = re.search(r"^\s*99%\s+(\S+)", text, re.M)
p99 = m[1] if m else "-"
# RSS "at 10 s" and "at the end", each the peak of the 5 one-second samples up to that point:
# a single sample can land in a momentary dip (file pages the kernel reclaimed), which is
# not the trend a leak would show.
def peak(rows, col):
    return max((r[col] for r in rows), default=None)
base_rows = [r for r in series if base_at - 4 <= r[0] <= base_at]
end_rows = series[-5:] if len(series) >= base_at + 5 else []
base, last = peak(base_rows, 1), peak(end_rows, 1)
anon_base, anon_last = peak(base_rows, 2), peak(end_rows, 2)
growth = (last - base) / base if base and last else None
anon_growth = (anon_last - anon_base) / anon_base if anon_base and anon_last else None
try:
    final = json.loads(final)
except ValueError:
    final = {}
ok = (wrk_rc == "0" and requests > 0 and sum(errors.values()) == 0 and non2xx == 0
      and growth is not None and abs(growth) <= 0.10 and exit_rc == "0")
err = ", ".join(f"{k} {v}" for k, v in errors.items() if v) or "0"
pct = lambda g: "?" if g is None else f"{100 * g:+.1f} %"
every5 = " ".join(f"{t}s:{rss}" for t, rss, _, _ in series if t % 5 == 0)
lo = min((r[1] for r in series), default=0)
hi = max((r[1] for r in series), default=0)
flo = min((r[3] for r in series), default=0)
fhi = max((r[3] for r in series), default=0)
detail = (f"{requests} requests, {rps:,.0f} req/s, p99 {p99}; socket errors {err}, non-2xx {non2xx}; "
          f"VmRSS KiB every 5 s: {every5} (1 s samples: min {lo}, max {hi}; RssFile {flo}-{fhi}); "
          f"peak of {base_at - 4}-{base_at} s {base} -> peak of the last 5 s {last} KiB ({pct(growth)}; "
          f"RssAnon {anon_base} -> {anon_last}, {pct(anon_growth)}), {after_rss} KiB once wrk had stopped; "
          f"requests counted by the server {final.get('requests', '?')}; wrk rc {wrk_rc}, server exit {exit_rc}")
print(("PASS" if ok else "FAIL") + "\t" + detail)
EOF
  )
  row "3 soak" "wrk -c256 ${SOAK_SECS}s /index.html" "${line%%$'\t'*}" - - - - - - $((SECONDS - t0)) "${line#*$'\t'}"
  server_complaints >&2
}
case " $PARTS " in *" soak "*) say "part 3: soak"; part_soak ;; esac

# --- 4. connection flood -----------------------------------------------------------------
part_flood() {
  local t0=$SECONDS result line final
  start_server flood warn --workers 2 --max-connections 100
  say "1,000 connections open at once, then a request each (Connection: close), against --max-connections 100"
  result=$(python3 - "$PORT" "$PID" <<'EOF'
import json, os, socket, sys, threading, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
N = 1000
threading.stack_size(256 * 1024)
barrier = threading.Barrier(N + 1)
outcomes = [None] * N
stop = threading.Event()
samples = []

def get(path, timeout, sock=None):
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return data

def one(i):
    # Connect first (the kernel completes the handshake from the listen backlog even
    # while the server is not accepting), then all send at once: 1,000 open at the
    # same moment against a limit of 100.
    sock, error = None, None
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    except Exception as e:
        error = type(e).__name__
    try:
        barrier.wait(timeout=30)
    except threading.BrokenBarrierError:
        pass
    t0 = time.monotonic()
    if sock is None:
        outcomes[i] = ("connect: " + error, 0.0, t0, t0)
        return
    try:
        data = get("/hello.txt", 20, sock)
        line = data.split(b"\r\n", 1)[0].decode(errors="replace")
        t1 = time.monotonic()
        outcomes[i] = ("200" if line.startswith("HTTP/1.1 200") else (line or "empty reply"), t1 - t0, t0, t1)
    except Exception as e:
        t1 = time.monotonic()
        outcomes[i] = (type(e).__name__, t1 - t0, t0, t1)

def fds():
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0

fd_base = fds()   # listener, epoll, waker, stdio: everything but connections
fd_max = [fd_base]

def fd_sampler():
    # The server's descriptors, every 2 ms: connections it has accepted and not closed.
    while not stop.is_set():
        fd_max[0] = max(fd_max[0], fds())
        time.sleep(0.002)

def sampler():
    while not stop.is_set():
        try:
            body = get("/_status", 2).split(b"\r\n\r\n", 1)[1]
            samples.append(json.loads(body))
        except Exception:
            pass
        stop.wait(0.1)

threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(N)]
start = time.monotonic()
for t in threads:
    t.start()
st = threading.Thread(target=sampler, daemon=True)
st.start()
ft = threading.Thread(target=fd_sampler, daemon=True)
ft.start()
try:
    barrier.wait(timeout=30)
except threading.BrokenBarrierError:
    pass
connected_at = time.monotonic() - start
for t in threads:
    t.join(timeout=max(0.1, 40 - (time.monotonic() - start)))
elapsed = time.monotonic() - start
stop.set()
st.join(timeout=3)
ft.join(timeout=3)
kinds = {}
for o in outcomes:
    k = "unfinished" if o is None else o[0]
    kinds[k] = kinds.get(k, 0) + 1
lat = sorted(o[1] for o in outcomes if o and o[0] == "200")
done = [o for o in outcomes if o]
span = (max(o[3] for o in done) - min(o[2] for o in done)) if done else 0.0
print(json.dumps({"ok": kinds.get("200", 0), "kinds": kinds, "span": span, "connected_at": connected_at,
                  "max_s": lat[-1] if lat else None, "p50_s": lat[len(lat) // 2] if lat else None,
                  "max_open": max((s["connections_open"] for s in samples), default=None),
                  "samples": len(samples), "max_fd_conns": fd_max[0] - fd_base}))
EOF
  )
  sleep 0.5
  final=$(status_json)
  stop_server
  line=$(python3 - "$result" "$final" "$RC" <<'EOF'
import json, sys
r, exit_rc = json.loads(sys.argv[1]), sys.argv[3]
try:
    final = json.loads(sys.argv[2])
except ValueError:
    final = {}
max_open = max(r["max_open"] or 0, r["max_fd_conns"])
ok = r["ok"] == 1000 and max_open <= 100 and exit_rc == "0"
others = ", ".join(f"{k} {v}" for k, v in sorted(r["kinds"].items()) if k != "200") or "none"
# accepted includes the /_status samples and the final /_status request.
accepted = final.get("accepted")
detail = (f"1000 threads started and connected in {r['connected_at']:.1f} s, then sent at once: {r['ok']}/1000 got 200 within {r['span']:.2f} s (p50 {1e3 * (r['p50_s'] or 0):.0f} ms, "
          f"max {1e3 * (r['max_s'] or 0):.0f} ms); refused/reset/other: {others}; "
          f"connections held by the server at most {r['max_fd_conns']} (its /proc/PID/fd, sampled every 2 ms), "
          f"connections_open max {r['max_open']} over {r['samples']} /_status samples; server accepted "
          f"{accepted} connections = 1000 requests + {'?' if accepted is None else accepted - 1000} "
          f"/_status requests; server exit {exit_rc}")
print(("PASS" if ok else "FAIL") + "\t" + detail + "\t" + str(max_open))
EOF
  )
  IFS=$'\t' read -r res detail max_open <<<"$line"
  row "4 flood" "1,000 requests, max-connections 100" "$res" - - - - "$max_open" - $((SECONDS - t0)) "$detail"
  server_complaints >&2
}
case " $PARTS " in *" flood "*) say "part 4: connection flood"; part_flood ;; esac

# --- 6. chunked dribble ------------------------------------------------------------------
# Many clients sending chunked bodies of 1-byte chunks in tiny writes, the poller parsing
# after each read (issue 9, item 8: it used to walk each body from its start every time, so
# 200 such connections pushed a fresh request from 0.4 ms to 0.65 s). Fresh requests must
# stay fast. Runs before the faults part so that cargo does not compete with it.
part_dribble() {
  local t0=$SECONDS result line res detail probes_n pmax
  start_server dribble warn --workers 2 --echo --request-timeout $((DRIBBLE_SECS + 30))
  result=$(timeout -k 5 $((DRIBBLE_SECS + 90)) python3 - "$PORT" "$PID" "$DRIBBLE_CONNS" "$DRIBBLE_SECS" "$DRIBBLE_WRITE" <<'EOF'
import json, os, socket, statistics, sys, threading, time
port, pid, conns, secs, write = (int(a) for a in sys.argv[1:6])
HEAD = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
UNIT = b"1\r\nx\r\n"             # one chunk of one byte: 6 bytes on the wire
WRITE = write                    # bytes per write
PATTERN = UNIT * WRITE           # WRITE writes end on a chunk boundary

def poller_cpu():
    # CPU time of the server's poller thread, in seconds (schedstat: ns on CPU).
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            if open(f"/proc/{pid}/task/{tid}/comm").read().strip() == "nioserve-poller":
                return int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0]) / 1e9
    except OSError:
        pass
    return None

def probe():
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return ok, time.monotonic() - t0

quiet = [probe() for _ in range(20)]
socks = []
for _ in range(conns):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(HEAD)
    socks.append(s)
probes, stop = [], threading.Event()
def prober():
    while not stop.is_set():
        probes.append(probe())
        stop.wait(0.1)
cpu0 = poller_cpu()
pt = threading.Thread(target=prober, daemon=True)
pt.start()
start, sent, rounds = time.monotonic(), 0, 0
while time.monotonic() - start < secs:
    piece = PATTERN[sent % len(PATTERN):][:WRITE]
    for s in socks:
        s.sendall(piece)
    sent += len(piece)
    rounds += 1
    time.sleep(0.01)
stop.set()
pt.join(timeout=10)
cpu1 = poller_cpu()
# End each body on a chunk boundary, then the last chunk; read each echo.
rest = (-sent) % len(UNIT)
tail = PATTERN[sent % len(PATTERN):][:rest] + b"0\r\n\r\n"
data_bytes = (sent + rest) // len(UNIT)
echoed = 0
for s in socks:
    try:
        s.sendall(tail)
        s.settimeout(20)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        if head.startswith(b"HTTP/1.1 200") and body == b"x" * data_bytes:
            echoed += 1
    except (OSError, ValueError, IndexError):
        pass
    s.close()
lat = sorted(1e3 * t for ok, t in probes)
qlat = sorted(1e3 * t for ok, t in quiet)
print(json.dumps({
    "probes": len(probes), "probes_ok": sum(1 for ok, _ in probes + quiet if ok), "probes_all": len(probes) + len(quiet),
    "quiet_p50_ms": statistics.median(qlat), "p50_ms": statistics.median(lat) if lat else None,
    "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None, "max_ms": lat[-1] if lat else None,
    "echoed": echoed, "conns": conns, "rounds": rounds, "write": WRITE, "wire_bytes_each": len(HEAD) + sent + rest + 5,
    "secs": time.monotonic() - start,
    "poller_cpu_s": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
}))
EOF
  ) || result='{}'
  stop_server
  line=$(python3 - "$result" "$RC" <<'EOF'
import json, sys
exit_rc = sys.argv[2]
try:
    r = json.loads(sys.argv[1])
except ValueError:
    r = {}
if not r:
    print("FAIL\tthe dribble client failed\t-\t-")
    sys.exit()
ok = (r["probes_ok"] == r["probes_all"] and r["p50_ms"] is not None and r["p50_ms"] <= 20
      and r["max_ms"] <= 500 and r["echoed"] == r["conns"] and exit_rc == "0")
cpu = "?" if r["poller_cpu_s"] is None else f"{r['poller_cpu_s']:.2f} s"
detail = (f"{r['conns']} connections, {r['rounds']} rounds of one {r['write']}-byte write each in {r['secs']:.1f} s "
          f"({r['wire_bytes_each']} bytes each, 1-byte chunks, {r['conns'] * r['wire_bytes_each'] / 2**20:.1f} MiB in all); "
          f"fresh GET /hello.txt: quiet p50 {r['quiet_p50_ms']:.2f} ms, under the dribble p50 {r['p50_ms']:.2f} ms, "
          f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms over {r['probes']} probes; "
          f"{r['probes_ok']}/{r['probes_all']} probes 200; {r['echoed']}/{r['conns']} bodies echoed whole; "
          f"poller CPU during the dribble {cpu}; server exit {exit_rc}")
print(("PASS" if ok else "FAIL") + "\t" + detail + f"\t{r['probes_ok']}/{r['probes_all']}\t{r['max_ms']:.0f}")
EOF
  )
  IFS=$'\t' read -r res detail probes_n pmax <<<"$line"
  row "6 dribble" "$DRIBBLE_CONNS chunked bodies in 1-byte chunks, $DRIBBLE_WRITE-byte writes" "$res" \
    "$([ "$res" = PASS ] && echo yes || echo NO)" "$probes_n" "$pmax" - - - $((SECONDS - t0)) "$detail"
  server_complaints >&2
}
case " $PARTS " in *" dribble "*) say "part 6: chunked dribble, $DRIBBLE_CONNS connections, $DRIBBLE_WRITE-byte writes, ${DRIBBLE_SECS} s"; part_dribble ;; esac

# --- 8. path spellings and many large files under a low fd limit ------------------------
part_spellings() {
  local t0=$SECONDS result line limit_line nofile=$SPELLINGS_NOFILE
  # Distinct large files, above the 64 KiB the cache keeps in memory: each is held open.
  mkdir -p "$WWW/many"
  python3 - "$WWW/many" <<'EOF'
import os, sys
for i in range(400):
    with open(os.path.join(sys.argv[1], f"f-{i}.bin"), "wb") as f:
        f.write(bytes([i % 251]) * (100 * 1024))
EOF
  PORT=$(free_port)
  LOG=$TMP/spellings.log
  local model_args=()
  [ "$MODEL" = nio ] || model_args=(--model "$MODEL")
  # prlimit sets the limit and execs the server: PID is the server's.
  RUST_LOG=info prlimit --nofile="$nofile:$nofile" -- "$NIOSERVE" "$WWW" --addr "127.0.0.1:$PORT" --workers 2 \
    --max-keep-alive-requests 1000 "${model_args[@]}" >"$LOG" 2>&1 &
  PID=$!
  BG+=("$PID")
  started spellings "$PORT" "$PID" "$LOG"
  say "spellings: nioserve under prlimit --nofile=$nofile on 127.0.0.1:$PORT (pid $PID)"
  result=$(python3 - "$PORT" "$PID" "$nofile" "$WWW" <<'EOF'
import json, os, queue, random, socket, sys, threading, time
port, pid, nofile, www = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), os.path.realpath(sys.argv[4])
CONNS = 8
BIG = os.path.getsize(os.path.join(www, "big.bin"))

def spell(i):
    # 600 distinct spellings of /big.bin: leading slashes, ./ segments, percent-encoded letters.
    slashes, dots, mask = 1 + i % 5, (i // 5) % 6, i // 30
    name = "".join(f"%{ord(c):02x}" if (mask >> k) & 1 else c for k, c in enumerate("big.bin"))
    return "/" * slashes + "./" * dots + name

work = [(spell(i), BIG) for i in range(600)] + [(f"/many/f-{i}.bin", 100 * 1024) for i in range(400)] * 2
random.Random(1).shuffle(work)
jobs = queue.Queue()
for job in work:
    jobs.put(job)
statuses, errors, lock, stop = {}, [], threading.Lock(), threading.Event()

def connect():
    return socket.create_connection(("127.0.0.1", port), timeout=10), b""

def client():
    s, buf = connect()
    while True:
        try:
            path, size = jobs.get_nowait()
        except queue.Empty:
            break
        try:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed before the head")
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = lines[0].split(" ")[1]
            fields = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
            length = int(fields.get("content-length", "0"))
            while len(buf) < length:
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("closed in the body")
                buf += chunk
            body, buf = buf[:length], buf[length:]
            if status == "200" and len(body) != size:
                status = f"200 with {len(body)} of {size} bytes"
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
            if fields.get("connection", "").lower() == "close":
                s.close()
                s, buf = connect()
        except Exception as e:
            with lock:
                errors.append(f"{path}: {type(e).__name__}: {e}")
            s.close()
            s, buf = connect()
    s.close()

peak = {"fds": 0, "files": 0}
def sampler():
    # The server's descriptors, all of them and those on served files, every 20 ms.
    fd_dir = f"/proc/{pid}/fd"
    while not stop.is_set():
        try:
            names = os.listdir(fd_dir)
        except OSError:
            break
        files = 0
        for name in names:
            try:
                if os.readlink(os.path.join(fd_dir, name)).startswith(www + "/"):
                    files += 1
            except OSError:
                pass
        peak["fds"], peak["files"] = max(peak["fds"], len(names)), max(peak["files"], files)
        stop.wait(0.02)

start = time.monotonic()
st = threading.Thread(target=sampler, daemon=True)
st.start()
threads = [threading.Thread(target=client, daemon=True) for _ in range(CONNS)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=max(0.1, 120 - (time.monotonic() - start)))
elapsed = time.monotonic() - start
stop.set()
st.join(timeout=2)
try:
    s, _ = connect()
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    fresh = s.recv(64).split(b" ")[1].decode()
    s.close()
except Exception as e:
    fresh = type(e).__name__
print(json.dumps({"requests": len(work), "statuses": statuses, "errors": len(errors), "first_error": errors[:1],
                  "unfinished": sum(t.is_alive() for t in threads), "secs": elapsed, "max_fds": peak["fds"],
                  "max_file_fds": peak["files"], "fresh": fresh, "conns": CONNS}))
EOF
  )
  limit_line=$(grep -o 'open files limit: .*' "$LOG" | head -1 || true)
  stop_server
  line=$(python3 - "$result" "$RC" "$nofile" "$limit_line" <<'EOF'
import json, sys
r, exit_rc, nofile, limit_line = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
st = r["statuses"]
ok, unavailable, errors = st.get("200", 0), st.get("503", 0), st.get("500", 0)
other = {k: v for k, v in st.items() if k not in ("200", "503")}
budget = nofile // 4 + r["conns"]
passed = (ok + unavailable == r["requests"] and unavailable <= r["requests"] // 100 and not other
          and r["errors"] == 0 and r["unfinished"] == 0 and r["max_fds"] < nofile
          and r["max_file_fds"] <= budget and r["fresh"] == "200" and exit_rc == "0")
detail = (f"{r['requests']} requests (600 spellings of a 1 MiB path, 400 files of 100 KiB twice) over "
          f"{r['conns']} connections in {r['secs']:.1f} s: {ok} got 200, {unavailable} 503, {errors} 500"
          f"{', other: ' + str(other) if other else ''}; client errors {r['errors']} {r['first_error']}; "
          f"server fds at most {r['max_fds']} of {nofile}, on served files at most {r['max_file_fds']} "
          f"(budget {nofile // 4} + {r['conns']} in flight); fresh client after: {r['fresh']}; "
          f"log: '{limit_line}'; server exit {exit_rc}")
print(("PASS" if passed else "FAIL") + "\t" + detail + "\t" + str(r["max_fds"]))
EOF
  )
  IFS=$'\t' read -r res detail _ <<<"$line"
  row "8 spellings" "path spellings and many large files, --nofile $nofile" "$res" - - - - - - $((SECONDS - t0)) "$detail"
  server_complaints >&2
}
case " $PARTS " in *" spellings "*) say "part 6: path spellings under a low fd limit"; part_spellings ;; esac

# --- 5. the in-repo fault tests ----------------------------------------------------------
# What needs a handler of its own (panics), a low fd limit for the server alone, or exact
# client misbehaviour (resets, vanishing mid-response, half-close) is a cargo test; the
# script runs them so that every fault is reported in one table.
part_faults() {
  local t0=$SECONDS out rc=0 passed failed
  out=$(cd "$REPO" && cargo test --release --quiet --test faults --test panics_under_load --test smuggling \
    --test codec_properties 2>&1 && cargo test --release --quiet -p nioserve-demo --test fd_exhaustion 2>&1) || rc=$?
  passed=$(grep -o '[0-9]* passed' <<<"$out" | awk '{s+=$1} END{print s+0}')
  failed=$(grep -o '[0-9]* failed' <<<"$out" | awk '{s+=$1} END{print s+0}')
  local res=PASS
  [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] || res=FAIL
  row "5 faults" "cargo tests: resets, vanishing clients, half-close, flood, panics under load, fd exhaustion, smuggling, codec properties" \
    "$res" - - - - - - $((SECONDS - t0)) "$passed tests passed, $failed failed (tests/faults.rs, tests/panics_under_load.rs, demo/tests/fd_exhaustion.rs, tests/smuggling.rs, tests/codec_properties.rs)"
  [ "$res" = PASS ] || tail -30 <<<"$out" >&2
}
case " $PARTS " in *" faults "*) say "part 5: in-repo fault tests"; part_faults ;; esac

# --- 7. a stall under keep-alive load --------------------------------------------------------
# The whole server stops (SIGSTOP: a debugger, a frozen VM, swapping) for longer than its
# keep-alive timeout while its clients send their next requests, and goes on (SIGCONT).
# Those requests sit in their sockets; they must be answered, not reset as idle too long.
part_stall() {
  local t0=$SECONDS result line res detail held
  start_server stall warn --workers 2 --max-keep-alive-requests 1000
  say "32 keep-alive clients; SIGSTOP after 2 s for $STALL_SECS s (keep-alive timeout 5 s), SIGCONT, 2 s more"
  result=$(python3 - "$PORT" "$PID" "$STALL_SECS" "$WWW" <<'EOF'
import http.client, json, os, signal, sys, threading, time

port, pid, stall, www = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
sizes = {"/hello.txt": os.path.getsize(www + "/hello.txt"), "/big.bin": os.path.getsize(www + "/big.bin")}
paths = ["/hello.txt"] * 24 + ["/big.bin"] * 8
stop_after, after = 2.0, 2.0
duration = stop_after + stall + after
start = time.monotonic()
records, lock = [], threading.Lock()
marks = {}

def client(i, path):
    conn = None
    while time.monotonic() - start < duration:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=stall + 10)
        t0 = time.monotonic()
        t_sent = None
        try:
            conn.request("GET", path)
            t_sent = time.monotonic()
            r = conn.getresponse()
            body = r.read()
            outcome = "200" if r.status == 200 and len(body) == sizes[path] else f"status {r.status}, {len(body)} bytes"
            if r.will_close:
                conn.close()
                conn = None
        except Exception as e:  # reset, empty reply, timeout
            outcome = type(e).__name__
            conn.close()
            conn = None
            time.sleep(0.05)
        with lock:
            records.append((path, t0, t_sent, time.monotonic(), outcome))

threads = [threading.Thread(target=client, args=(i, p), daemon=True) for i, p in enumerate(paths)]
for t in threads:
    t.start()
time.sleep(stop_after)
os.kill(pid, signal.SIGSTOP)
marks["stop"] = time.monotonic()
time.sleep(stall)
marks["cont"] = time.monotonic()
os.kill(pid, signal.SIGCONT)
for t in threads:
    t.join(timeout=duration + stall + 15)
S, C = marks["stop"], marks["cont"]
failed = [r for r in records if r[4] != "200"]
# Held across the stall: the whole request was written before the server went on, and the
# answer came after it did.
held = [r for r in records if r[2] is not None and r[2] < C and r[3] >= C]
kinds = {}
for r in failed:
    kinds[r[4]] = kinds.get(r[4], 0) + 1
print(json.dumps({
    "requests": len(records),
    "failed": len(failed),
    "kinds": kinds,
    "failures": [f"{r[0]} {r[4]} {r[3] - C:+.3f} s after SIGCONT" + (f" (written {C - r[2]:.3f} s before it)" if r[2] else "") for r in failed][:5],
    "held": len(held),
    "held_ok": sum(1 for r in held if r[4] == "200"),
    "held_big": sum(1 for r in held if r[0] == "/big.bin"),
    "held_during": sum(1 for r in held if r[2] >= S),
    "answered_ms": round(1e3 * (max((r[3] for r in held), default=C) - C)),
    "stall_s": round(C - S, 2),
}))
EOF
  )
  stop_server
  line=$(python3 - "$result" "$RC" <<'EOF'
import json, sys
r, exit_rc = json.loads(sys.argv[1]), sys.argv[2]
ok = r["failed"] == 0 and r["held"] > 0 and r["held_ok"] == r["held"] and exit_rc == "0"
kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["kinds"].items())) or "none"
detail = (f"stopped {r['stall_s']} s; {r['requests']} requests, {r['failed']} failed ({kinds})"
          f"{' - ' + '; '.join(r['failures']) if r['failures'] else ''}; "
          f"{r['held']} sat in their sockets across the stall ({r['held_during']} sent while the server was stopped, "
          f"{r['held_big']} of them 1 MiB), {r['held_ok']} answered with 200, the last {r['answered_ms']} ms after SIGCONT; "
          f"server exit {exit_rc}")
print(("PASS" if ok else "FAIL") + "\t" + detail)
EOF
  )
  res=${line%%$'\t'*}
  detail=${line#*$'\t'}
  row "7 stall" "SIGSTOP ${STALL_SECS} s under keep-alive load, SIGCONT" "$res" - - - - - - $((SECONDS - t0)) "$detail"
  server_complaints >&2
}
case " $PARTS " in *" stall "*) say "part 6: a stall under keep-alive load"; part_stall ;; esac

# --- summary -----------------------------------------------------------------------------
{
  printf 'part\ttest\tresult\tavailable_throughout\tprobes_ok\tmax_probe_ms\tmax_workers_busy\tmax_connections_open\ttimed_out\tseconds\tdetail\n'
  cat "$ROWS"
} >"$TSV"
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$REPO" status --porcelain -- src demo 2>/dev/null)" ] && commit="$commit+changes"
say "done in $((SECONDS - T_START)) s; nioserve $commit, $(nproc) cores, Linux $(uname -r), fd limit $HARD, QUICK=$QUICK, MODEL=$MODEL"
python3 - "$TSV" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")]
head, rows = rows[0], rows[1:]
print("| part | test | result | available throughout | probes ok | max probe ms | max workers_busy (incl. the /_status request) | max connections_open | timed_out | s |")
print("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    print("| " + " | ".join(r[:10]) + " |")
print()
for r in rows:
    print(f"- {r[0]} {r[1]}: {r[2]}: {r[10]}")
EOF
say "wrote $TSV"
exit "$FAILED"
