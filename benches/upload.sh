#!/usr/bin/env bash
# Large uploads without RAM, one command: what does a 1 GiB upload cost nioserve in memory
# and time (against dd copying the same file on the same disk), and does a fresh request
# stay fast while many slow uploads are open?
#
#   benches/upload.sh                    SIZE = 1 GiB, 50 slow uploads
#   SIZE=256M SLOW=20 benches/upload.sh
#
# The server is examples/upload (release), started with WORKERS workers on a free port on
# 127.0.0.1, keeping uploads (and spooling bodies) in a directory under $TMPDIR.
#
# 1. One upload of SIZE random bytes (a file written once, from `openssl rand` or
#    /dev/urandom): `curl -T FILE /upload`, timed by curl from connect to the answer,
#    which the server sends once the body is spooled, copied to its own file, hashed
#    (SHA-256, checked against sha256sum) and flushed (fsync). The server's VmRSS before
#    and VmHWM (peak RSS) after come from /proc/PID/status. Beside it: `dd bs=1M
#    conv=fsync` of the same file to the same directory (one copy, flushed too).
# 2. A fresh request: PROBE sequential `GET /` on one keep-alive connection (python3's
#    http.client), one every INTERVAL_MS, with no upload; then again while SLOW uploads
#    (`curl --limit-rate RATE -T` of a SLOW_SIZE file) are open. They are cut off after
#    SLOW_SECS seconds (curl --max-time), long before they could end.
#
# Environment: SIZE (1G; as head -c takes it), RUNS (3), WORKERS (2), SLOW (50), RATE (20k),
# SLOW_SIZE (4M), SLOW_SECS (12), PROBE (500), INTERVAL_MS (0), SKIP_BUILD=1,
# CARGO_TARGET_DIR. Every step is bounded with `timeout`; the script takes about a minute
# and removes every file it wrote.
# Writes bench-results/upload.txt and the <!-- upload:begin/end --> section of
# docs/benchmarks.md. Needs Linux, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"

SIZE=${SIZE:-1G}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-2}
SLOW=${SLOW:-50}
RATE=${RATE:-20k}
SLOW_SIZE=${SLOW_SIZE:-4M}
SLOW_SECS=${SLOW_SECS:-12}
PROBE=${PROBE:-500}
INTERVAL_MS=${INTERVAL_MS:-0}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}/release
RESULTS=$REPO/bench-results
DOC=$REPO/docs/benchmarks.md

say() { printf 'upload.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need_tools curl
command -v python3 >/dev/null || die "python3 is needed for the probe"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building (cargo build --release --example upload)"
  cargo build --release --example upload --quiet
fi
UPLOAD=$TARGET/examples/upload
[ -x "$UPLOAD" ] || die "$UPLOAD is missing (build failed?)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nioserve-upload.XXXXXX")
DIR=$TMP/uploads
SERVER_PID=""
SLOW_PIDS=()
cleanup() {
  [ ${#SLOW_PIDS[@]} -gt 0 ] && stop_pids "${SLOW_PIDS[@]}"
  [ -n "$SERVER_PID" ] && stop_pids "$SERVER_PID"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# status_kib PID FIELD: FIELD (VmRSS, VmHWM) of /proc/PID/status, in KiB.
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# --- the files -----------------------------------------------------------------------------
BIG=$TMP/big.bin
SMALL=$TMP/slow.bin
say "writing $SIZE of random bytes to $BIG"
bytes=$(numfmt --from=iec "$SIZE")
if command -v openssl >/dev/null; then
  timeout 120 openssl rand -out "$BIG" "$bytes"
else
  timeout 120 head -c "$bytes" /dev/urandom >"$BIG"
fi
head -c "$(numfmt --from=iec "$SLOW_SIZE")" /dev/urandom >"$SMALL"
want_hash=$(timeout 60 sha256sum "$BIG" | cut -d' ' -f1)

# --- the server ----------------------------------------------------------------------------
port=$(free_port)
log=$TMP/server.log
"$UPLOAD" "127.0.0.1:$port" "$DIR" "$WORKERS" >"$log" 2>&1 &
SERVER_PID=$!
started upload "$port" "$SERVER_PID" "$log"
URL=http://127.0.0.1:$port

# --- 1. large uploads, and dd beside them ------------------------------------------------
# The file written above is flushed first, so that each run starts with no dirty page of it.
sync "$BIG"
rss_before=$(status_kib "$SERVER_PID" VmRSS)
hwm_before=$(status_kib "$SERVER_PID" VmHWM)
upload_times=() copy_times=() flush_times=() dd_times=()
# dd and the server take turns, so that neither has all the first runs (the first writes of
# a fresh run can be slower: memory the page cache has not used yet).
for run in $(seq 1 "$RUNS"); do
  say "run $run of $RUNS: dd bs=1M conv=fsync of the file to $DIR"
  dd_out=$(timeout 300 dd if="$BIG" of="$DIR/ddcopy" bs=1M conv=fsync 2>&1)
  dd_times+=("$(printf '%s\n' "$dd_out" | sed -n 's/.* copied, \([0-9.]*\) s,.*/\1/p')")
  rm -f "$DIR/ddcopy"
  say "run $run of $RUNS: upload of $SIZE (curl -T)"
  upload_times+=("$(timeout 300 curl -sS -T "$BIG" -o "$TMP/answer" -w '%{time_total}' "$URL/upload")")
  got_hash=$(head -1 "$TMP/answer" | cut -d' ' -f1)
  got_len=$(sed -n 2p "$TMP/answer")
  [ "$got_hash" = "$want_hash" ] || die "the server's SHA-256 $got_hash is not $want_hash"
  [ "$got_len" = "$bytes" ] || die "the server stored $got_len bytes, not $bytes"
  copy_times+=("$(sed -n 's/.*copied and hashed in \([0-9.]*\) s,.*/\1/p' "$log" | tail -1)")
  flush_times+=("$(sed -n 's/.*flushed in \([0-9.]*\) s$/\1/p' "$log" | tail -1)")
  rm -f "$DIR"/upload-*
done
hwm_after=$(status_kib "$SERVER_PID" VmHWM)
rss_after=$(status_kib "$SERVER_PID" VmRSS)
rm -f "$BIG"

# times T...: "T1, T2, T3 s; median M s (R MiB/s)", each to the millisecond.
times() {
  local list median
  list=$(printf '%s\n' "$@" | awk '{ printf "%s%.3f", (NR > 1 ? ", " : ""), $1 }')
  median=$(printf '%s\n' "$@" | sort -g | awk '{ t[NR] = $1 } END { print NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }')
  printf '%s s; median %.3f s' "$list" "$median"
  [ "$bytes" = 0 ] || awk -v b="$bytes" -v m="$median" 'BEGIN { printf " (%.0f MiB/s)", b / m / 1048576 }'
}

# --- 2. a fresh request, without and with slow uploads -------------------------------------
cat >"$TMP/probe.py" <<'PY'
import http.client, sys, time
port, count, interval = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
times = []
for _ in range(count):
    started = time.perf_counter()
    conn.request("GET", "/")
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"GET / answered {response.status}")
    times.append(time.perf_counter() - started)
    time.sleep(interval)
times.sort()
at = lambda p: times[min(len(times) - 1, int(len(times) * p))] * 1000
print(f"{at(0.50):.3f} {at(0.99):.3f} {times[-1] * 1000:.3f}")
PY
probe_budget=$((PROBE * (INTERVAL_MS + 50) / 1000 + 10))
say "probe: $PROBE x GET / with no upload"
probe() { timeout "$probe_budget" python3 "$TMP/probe.py" "$port" "$PROBE" "$INTERVAL_MS" || die "the probe failed"; }
out=$(probe)
read -r idle_p50 idle_p99 idle_max <<<"$out"

say "starting $SLOW uploads at $RATE/s each (cut off after $SLOW_SECS s)"
for _ in $(seq 1 "$SLOW"); do
  timeout $((SLOW_SECS + 5)) curl -sS --limit-rate "$RATE" --max-time "$SLOW_SECS" -T "$SMALL" \
    -o /dev/null "$URL/upload" 2>/dev/null &
  SLOW_PIDS+=($!)
done
sleep 1
say "probe: $PROBE x GET / with the uploads open"
out=$(probe)
read -r slow_p50 slow_p99 slow_max <<<"$out"
# Connections open to the server now (the probe's is closed): the uploads still sending.
open_uploads=$(ss -Htn state established "( sport = :$port )" | wc -l)
rss_slow=$(status_kib "$SERVER_PID" VmRSS)
for pid in "${SLOW_PIDS[@]}"; do
  wait "$pid" || true # curl --max-time ends each one with status 28
done
SLOW_PIDS=()
finished=$(find "$DIR" -name 'upload-*' ! -name '*.part' | wc -l)
[ "$finished" = 0 ] || say "warning: $finished slow uploads finished (and were stored) before the cut-off"
kill -0 "$SERVER_PID" 2>/dev/null || { say "the server exited during the run:"; tail -20 "$log" >&2; }
stop_pids "$SERVER_PID"
SERVER_PID=""

# --- the table and the document ------------------------------------------------------------
table=$TMP/table.md
{
  echo "| measure | result |"
  echo "|---|---|"
  echo "| upload of $SIZE, \`curl -T\` to the answer (spooled, copied, SHA-256, fsync), $RUNS runs | $(times "${upload_times[@]}") |"
  echo "| of which the handler reading, hashing and writing the spooled body | $(bytes=0 times "${copy_times[@]}") |"
  echo "| and the handler's fsync of the file kept | $(bytes=0 times "${flush_times[@]}") |"
  echo "| \`dd bs=1M conv=fsync\` of the same file to the same directory, $RUNS runs | $(times "${dd_times[@]}") |"
  echo "| server RSS before the uploads → peak over them (VmHWM) → after | $(mib "$rss_before") → $(mib "$hwm_after") → $(mib "$rss_after") MiB (peak before: $(mib "$hwm_before")) |"
  echo "| \`GET /\` p50 / p99 / max, no upload | $idle_p50 / $idle_p99 / $idle_max ms |"
  echo "| same, $SLOW uploads open at $RATE/s each | $slow_p50 / $slow_p99 / $slow_max ms |"
  echo "| uploads still open after the probe; server RSS then | $open_uploads of $SLOW; $(mib "$rss_slow") MiB |"
} >"$table"

mkdir -p "$RESULTS"
cp "$table" "$RESULTS/upload.txt"
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$REPO" status --porcelain -- src examples 2>/dev/null)" ] && commit="$commit+changes"
section=$TMP/upload-section.md
pacing="back to back"
[ "$INTERVAL_MS" = 0 ] || pacing="one every $INTERVAL_MS ms"
{
  echo "<!-- upload:begin -->"
  echo "## Large uploads: $SIZE, and $SLOW slow ones"
  echo
  echo "Generated by \`benches/upload.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), nioserve $commit,"
  echo "$(nproc) cores, Linux $(uname -r), $(df -T "$TMP" | awk 'NR == 2 { print $2 }') under \`${TMPDIR:-/tmp}\`. Exact command:"
  echo
  echo '```sh'
  echo "SIZE=$SIZE RUNS=$RUNS WORKERS=$WORKERS SLOW=$SLOW RATE=$RATE SLOW_SIZE=$SLOW_SIZE SLOW_SECS=$SLOW_SECS PROBE=$PROBE INTERVAL_MS=$INTERVAL_MS benches/upload.sh"
  echo '```'
  echo
  echo "Server: [\`examples/upload.rs\`](../examples/upload.rs) with $WORKERS workers, keeping uploads"
  echo "and spooling bodies in one directory. The upload is $SIZE of random bytes, \`curl -T\`"
  echo "on loopback, timed by curl from connect to the answer, which comes once the body is"
  echo "spooled (by the poller, as it arrives), copied to the file kept, hashed and flushed"
  echo "(fsync); the SHA-256 is checked against \`sha256sum\`. \`dd conv=fsync\` makes one"
  echo "flushed copy; the server writes the body twice (spool, then the file kept) and flushes"
  echo "the second. RSS is the server's, from \`/proc/PID/status\`. A fresh request: $PROBE"
  echo "sequential \`GET /\` on one keep-alive connection (python3 \`http.client\`, so its own"
  echo "overhead is in the figures), $pacing; then the same while $SLOW \`curl"
  echo "--limit-rate $RATE -T\` uploads of $SLOW_SIZE are open (cut off after $SLOW_SECS s, unfinished)."
  echo
  cat "$table"
  echo
  echo "Reading it: the server's peak RSS does not follow the size of the upload. The body is"
  echo "never in memory whole: the poller writes what each read brings to the spool file, and"
  echo "the handler copies 1 MiB at a time; what RSS gains is that 1 MiB buffer per worker that"
  echo "ran an upload, which the allocator keeps for the next one (with SIZE=64M and a single"
  echo "upload, the peak grew by 1 MiB: one buffer). The server takes longer than \`dd\` because it"
  echo "does more with each byte: receives it over loopback and writes it to the spool file,"
  echo "then reads it back, hashes it and writes it again before the flush. The first run of"
  echo "each is slower (dd's too: they take turns), likely as the page cache first fills memory"
  echo "it had not used. On a machine shared with other work the times vary from one run of the"
  echo "script to the next (by up to 2× on this one); the memory figures do not. Slow uploads"
  echo "hold slots on the poller, not workers (no handler runs before a body is whole), so"
  echo "\`GET /\` is answered as fast with $SLOW of them open. A max is one request: most often"
  echo "the probe's first (python's first request, with its connect)."
  echo "<!-- upload:end -->"
} >"$section"
update_doc_section "$DOC" "$section" upload
say "updated $DOC"
cat "$table"
